//! The two queues the relay works from, as the store gives them: messages due to be
//! relayed (the outbox) and retrieval receipts due to go back to their senders.

use crate::ids::{MessageId, RegionId, Sha256};

/// A message due to be relayed.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    /// Outbox position.
    pub seq: i64,
    /// The message.
    pub message_id: MessageId,
    /// Its request.
    pub request_id: MessageId,
    /// The peer region.
    pub peer: RegionId,
    /// Its priority's rank ([`crate::envelope::Priority::rank`]).
    pub priority: i64,
    /// Digest of the envelope.
    pub digest: Sha256,
    /// Attempts so far.
    pub attempts: i64,
    /// The W3C trace id it travels under (none for messages stored before kuayu kept
    /// traces).
    pub trace_id: Option<String>,
}

impl OutboxItem {
    /// The order the relay starts due items in: highest priority first, then by position.
    pub fn most_urgent_first(a: &Self, b: &Self) -> std::cmp::Ordering {
        b.priority.cmp(&a.priority).then(a.seq.cmp(&b.seq))
    }
}

/// A retrieval receipt this gateway signed, waiting to go back to the peer that sent the
/// message.
#[derive(Debug, Clone)]
pub struct ReceiptOutboxItem {
    /// Its place in the queue.
    pub seq: i64,
    /// The message it is the receipt of.
    pub message_id: MessageId,
    /// The peer that sent the message.
    pub peer: RegionId,
    /// The receipt, as signed.
    pub receipt: crate::receipt::Receipt,
    /// The agreement the message travelled under.
    pub agreement_sha256: Sha256,
    /// Attempts so far.
    pub attempts: i64,
    /// The W3C trace id the message travelled under, sent back with its receipt.
    pub trace_id: Option<String>,
}

/// How one attempt to carry a receipt back ended.
#[derive(Debug, Clone, Copy)]
pub enum ReceiptOutcome<'a> {
    /// The peer holds it.
    Delivered,
    /// Try again at `at_ms`.
    Retry {
        /// When.
        at_ms: i64,
        /// Why it failed.
        error: &'a str,
    },
    /// The peer refused it for good.
    Dead {
        /// Why.
        error: &'a str,
    },
}
