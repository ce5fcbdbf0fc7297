//! What the store offers the retention purge (`kuayu purge`, [`crate::ops::purge`]):
//! which finished requests of an agreement are past its retention, and their purge.
//!
//! A request may be purged once it is finished (a final state) and its state did not
//! change since the cutoff, unless: a warning of it falls due after the cutoff (a freeze's
//! expiry warning: the freeze still holds), it holds an asset frozen and not lifted, or a
//! message of it waits in an inbox unretrieved or in the outbox undelivered. Its purge keeps every
//! row but the payload: each envelope's text becomes JSON `null` (its digest, kind and
//! courts stay), the attachments no kept message lists are forgotten, and the request,
//! its history, deadlines, receipts and the audit log are untouched but for one audit
//! entry recording the purge.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{StoreError, StoredBlob};
use crate::ids::{AgreementId, MessageId};

/// The requests of one agreement a purge takes (or would take), and what goes with them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purged {
    /// The requests whose payloads go, oldest change first.
    pub requests: Vec<MessageId>,
    /// Their messages (each envelope's payload goes; its row and digest stay).
    pub messages: u64,
    /// The attachments that no kept message lists any more: their rows go, and the
    /// caller deletes their files.
    pub attachments: Vec<StoredBlob>,
}

impl Purged {
    /// Whether there is nothing to purge.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// The bytes of the attachments.
    pub fn attachment_bytes(&self) -> u64 {
        self.attachments.iter().map(|b| b.bytes).sum()
    }
}

/// The retention purge's reads and its one write.
#[async_trait]
pub trait Retention {
    /// What a purge of `agreement`'s requests finished before `cutoff` would take now.
    /// Reads only.
    async fn purge_plan(
        &self,
        agreement: &AgreementId,
        cutoff: OffsetDateTime,
    ) -> Result<Purged, StoreError>;

    /// Purges `agreement`'s requests finished before `cutoff`, in one transaction with
    /// one audit entry by `actor` (`detail` is added to its own counts). What went.
    async fn purge(
        &self,
        agreement: &AgreementId,
        cutoff: OffsetDateTime,
        actor: &str,
        detail: serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<Purged, StoreError>;
}
