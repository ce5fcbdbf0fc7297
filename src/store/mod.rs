//! The storage interface: every operation that changes state is one transaction.
//!
//! A message, its state change, its history and audit entries, and its outbox or
//! inbox row are committed together or not at all, before any 2xx leaves the
//! gateway. One implementation, [`sql::SqlStore`], serves both engines: SQLite (embedded,
//! the default) and PostgreSQL (for regions that run several replicas).

mod attachments;
mod error;
mod model;
mod queues;
mod retention;
pub mod sql;
mod supervision;
mod view;

pub use attachments::*;
pub use error::*;
pub use model::*;
pub use queues::*;
pub use retention::*;
pub use supervision::*;
pub use view::*;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::agreement::Agreement;
use crate::audit::AuditEntry;
use crate::ids::{CourtId, MessageId, RegionId, Sha256};
use crate::receipt::Receipt;

/// The storage interface.
#[async_trait]
pub trait Store: Supervision + Retention + Send + Sync {
    /// The answer already given under `owner`'s idempotency key, if any (`owner`: a
    /// court's code, or `printcentre:<code>`).
    async fn idempotent_answer(
        &self,
        owner: &str,
        key: &str,
    ) -> Result<Option<Idempotency>, StoreError>;

    /// Commits a message our court sends: message, request change, history, audit,
    /// submission receipt, outbox row and idempotency answer, in one transaction.
    async fn commit_outbound(&self, m: Outbound) -> Result<OutboundOutcome, StoreError>;

    /// Commits a message from a peer: message, request change, history, audit, relay
    /// receipt and inbox row, in one transaction. A message id seen before is not stored
    /// again; its first receipt is returned.
    async fn commit_inbound(&self, m: Inbound) -> Result<InboundOutcome, StoreError>;

    /// Commits several messages from a peer in one group commit (each under its own
    /// savepoint: one that fails is undone alone), as [`Store::commit_inbound`] commits
    /// one: each one's outcome, in order.
    async fn commit_inbound_together(
        &self,
        messages: Vec<Inbound>,
    ) -> Vec<Result<InboundOutcome, StoreError>>;

    /// The relay receipt and digest of an inbound message, if it was committed.
    async fn inbound_receipt(
        &self,
        id: &MessageId,
    ) -> Result<Option<(Sha256, Receipt)>, StoreError>;

    /// A request as tracked here.
    async fn request(&self, id: &MessageId) -> Result<Option<RequestRecord>, StoreError>;

    /// A request with its history, messages and receipts.
    async fn request_view(&self, id: &MessageId) -> Result<Option<RequestView>, StoreError>;

    /// A page of the inbox of `owner` (a court's or a print centre's code), in `order`.
    async fn inbox(
        &self,
        owner: &str,
        order: InboxOrder,
        limit: i64,
    ) -> Result<Vec<InboxItem>, StoreError>;

    /// Hands out up to `limit` items of `owner`'s work queue (not retrieved, most urgent
    /// first, then oldest) that no other poller holds, leasing them until `until`: no
    /// other poller gets them before then, and unacknowledged they come back after.
    /// With `urgent_only`, only preservation work (high priority) is handed out.
    async fn lease_work(
        &self,
        owner: &str,
        limit: i64,
        urgent_only: bool,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<InboxItem>, StoreError>;

    /// `owner`'s inbox items at `cursors` (cursors not in its inbox are left out).
    async fn inbox_items(&self, owner: &str, cursors: &[i64])
    -> Result<Vec<InboxItem>, StoreError>;

    /// The stored receipt of `hop` for `message`, if any.
    async fn receipt_of(
        &self,
        message: &MessageId,
        hop: crate::receipt::Hop,
    ) -> Result<Option<Receipt>, StoreError>;

    /// Records first retrievals from an inbox by `actor` (`court:SC0104`), with the signed
    /// receipts of the messages among them, each queued to go back to the peer that sent
    /// the message.
    async fn record_retrievals(
        &self,
        retrievals: Vec<(InboxItem, Option<Receipt>)>,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// A message this gateway sent, as its row records it (see [`SentMessage`]).
    async fn sent_message(&self, id: &MessageId) -> Result<Option<SentMessage>, StoreError>;

    /// Keeps receipts a peer signed for messages this gateway sent (retrieval receipts
    /// carried back), each with an audit entry by `actor`, in one commit; each once per
    /// message, hop and issuer, and each on its own (one that cannot be stored fails
    /// alone). For each, in order: true when it was not held before.
    async fn record_peer_receipts(
        &self,
        receipts: &[Receipt],
        actor: &str,
        now: OffsetDateTime,
    ) -> Vec<Result<bool, StoreError>>;

    /// Retrieval receipts waiting to go back to their peers, due at `now_ms`, oldest first.
    async fn due_receipts(
        &self,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<ReceiptOutboxItem>, StoreError>;

    /// When the next receipt waiting to go back falls due, if any.
    async fn next_receipt_due(&self) -> Result<Option<i64>, StoreError>;

    /// Records how attempts to carry receipts back ended (each receipt's `seq` and
    /// outcome), in one commit.
    async fn receipt_attempts(
        &self,
        attempts: &[(i64, ReceiptOutcome<'_>)],
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Pending outbox items due at `now_ms`, highest priority first, then oldest. A message
    /// is not due while an earlier message of the same request is still pending: one
    /// request's messages reach the peer in the order they were committed.
    /// Items for the peers in `skip` are left out.
    async fn due_outbox(
        &self,
        now_ms: i64,
        limit: i64,
        skip: &[RegionId],
    ) -> Result<Vec<OutboxItem>, StoreError>;

    /// The signed envelope of stored message `id` as its JSON text, exactly as stored
    /// (what the relay sends); `None` if there is no such message or its payload was
    /// purged.
    async fn envelope_text(&self, id: &MessageId) -> Result<Option<String>, StoreError>;

    /// When the next pending outbox item for a peer not in `skip` falls due after
    /// `after_ms`, if any, by its next attempt (an item another replica holds a lease on
    /// may fall due later, when the lease ends; the relay never sleeps longer than half a
    /// second, so it notices that too).
    async fn next_due(&self, after_ms: i64, skip: &[RegionId]) -> Result<Option<i64>, StoreError>;

    /// `peer` answers again: its pending outbox items due later than `now_ms` fall due now.
    async fn outbox_due_now(&self, peer: &RegionId, now_ms: i64) -> Result<(), StoreError>;

    /// The peer committed the message: store its relay receipt and move the request on.
    /// Only once: if the item is no longer pending (an earlier call recorded it), nothing
    /// is written, no history or audit entry either. Whether another outbox item of the
    /// same request is still pending (`true` too if nothing was written): one that waited
    /// behind this one may be due now, which only a read of the outbox finds.
    async fn outbox_delivered(
        &self,
        item: &OutboxItem,
        receipt: Receipt,
        change: Option<StateChange>,
        event: Event,
        clocks: crate::workflow::deadlines::Clocks,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// The attempt failed in a way worth retrying at `next_attempt_ms`.
    async fn outbox_retry(
        &self,
        item: &OutboxItem,
        next_attempt_ms: i64,
        error: &str,
    ) -> Result<(), StoreError>;

    /// The peer refused for good, or the message expired: stop, and record why (only if
    /// the item is still pending, like [`Store::outbox_delivered`]).
    async fn outbox_dead(
        &self,
        item: &OutboxItem,
        change: Option<StateChange>,
        event: Event,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// The audit log from `after` (exclusive), in order.
    async fn audit_entries(&self, after: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError>;

    /// The audit entries whose subject is one of `subjects` (a request id, message ids,
    /// attachment digests), in order.
    async fn audit_about(&self, subjects: &[String]) -> Result<Vec<AuditEntry>, StoreError>;

    /// The last entry of the audit log, if any: the chain's head.
    async fn audit_head(&self) -> Result<Option<AuditEntry>, StoreError>;

    /// Stored receipts after `after` (exclusive) in the order of their keys, each with the
    /// digest of the message it names if that message is stored here.
    async fn receipts_after(
        &self,
        after: &ReceiptKey,
        limit: i64,
    ) -> Result<Vec<StoredReceipt>, StoreError>;

    /// Keeps an agreement version (a better-signed copy of the same terms replaces the
    /// stored one), with an audit entry naming `actor`.
    async fn save_agreement(
        &self,
        document: &Agreement,
        digest: Sha256,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Every stored agreement version.
    async fn stored_agreements(&self) -> Result<Vec<StoredAgreement>, StoreError>;

    /// Revokes every version of an agreement, and in the same transaction returns each open
    /// request under it (state `returned`, a history entry, a notice in our court's inbox)
    /// and stops its pending outbox messages.
    async fn revoke_agreement(
        &self,
        revoke: Revoke,
        now: OffsetDateTime,
    ) -> Result<Vec<Returned>, StoreError>;

    /// Records a print job's step that no message carries, with a history entry on its
    /// request and the answer under the centre's idempotency key, in one transaction.
    /// The first answer under that key instead, if there is one (nothing is recorded).
    async fn record_job(
        &self,
        job: JobChange,
        change: StateChange,
        event: Event,
        idempotency: Option<Idempotency>,
        now: OffsetDateTime,
    ) -> Result<Option<Idempotency>, StoreError>;

    /// The freezes not yet lifted that hold `asset_key`, other than `request`'s, oldest
    /// first: (request, ruling).
    async fn holders(
        &self,
        asset_key: &str,
        request: &MessageId,
    ) -> Result<Vec<(MessageId, String)>, StoreError>;

    /// The freeze orders (not lifts) our courts sent under `ruling` whose expiry warning is
    /// still open, whichever court sent them (a higher court may lift what a lower one
    /// froze). `ruling` comes in the form
    /// [`crate::workflow::queue::case_number`] gives; the stored rulings are compared in
    /// that form too (ASCII brackets read as full-width).
    async fn freezes_under(&self, ruling: &str) -> Result<Vec<MessageId>, StoreError>;

    /// A print job of this gateway's print centres.
    async fn print_job(&self, id: &MessageId) -> Result<Option<PrintJob>, StoreError>;

    /// Marks every deadline of open work, and every warning, whose time came by `now`: a
    /// history entry on the request and a notice to our court, in one transaction.
    async fn pass_deadlines(&self, now: OffsetDateTime) -> Result<Vec<Passed>, StoreError>;

    /// `court`'s requests (either side), newest first (by creation time, then id), after
    /// `after` (the last of the previous page); with `overdue_at`, only open ones with a
    /// deadline unmet at that time.
    async fn requests(
        &self,
        court: &CourtId,
        overdue_at: Option<OffsetDateTime>,
        after: Option<RequestCursor>,
        limit: i64,
    ) -> Result<Vec<RequestRecord>, StoreError>;

    /// The envelopes of every message (not test messages) committed at or after `from_ms`,
    /// oldest first: the traffic a dry run replays.
    async fn messages_since(&self, from_ms: i64) -> Result<Vec<serde_json::Value>, StoreError>;

    /// The blob stored here under `sha256`, if any.
    async fn attachment(&self, sha256: &Sha256) -> Result<Option<StoredBlob>, StoreError>;

    /// Records that the blob `sha256` of `bytes` is on disk (written, verified, fsynced),
    /// delivered by `source`, in one transaction (with an audit entry when new). True when
    /// it was not stored before.
    async fn record_attachment(
        &self,
        sha256: &Sha256,
        bytes: u64,
        source: &BlobSource,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Whether `who` may see the blob (list it in a message, read it, learn its size): a
    /// court that delivered it, or is the sender or recipient of a stored message that
    /// lists it; a peer gateway that delivered it, or to which it was sent.
    async fn attachment_visible(
        &self,
        sha256: &Sha256,
        who: &BlobSource,
    ) -> Result<bool, StoreError>;

    /// The bytes of blobs `who` delivered that no stored message lists yet.
    async fn pending_attachment_bytes(&self, who: &BlobSource) -> Result<u64, StoreError>;

    /// Blobs stored before `stored_before` that no stored message lists, oldest first.
    async fn unreferenced_attachments(
        &self,
        stored_before: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<StoredBlob>, StoreError>;

    /// Forgets the blob if still no message lists it, with an audit entry, in one
    /// transaction; true if it was forgotten (the caller then deletes its file).
    async fn remove_unreferenced_attachment(
        &self,
        sha256: &Sha256,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Every delivery of the blob to this gateway, oldest first.
    async fn attachment_deliveries(&self, sha256: &Sha256)
    -> Result<Vec<BlobDelivery>, StoreError>;

    /// Whether the blob was recorded as sent to `peer`.
    async fn attachment_sent(&self, sha256: &Sha256, peer: &RegionId) -> Result<bool, StoreError>;

    /// Records that `peer` holds the blob (it answered our transfer or already had it).
    async fn record_attachment_sent(
        &self,
        sha256: &Sha256,
        peer: &RegionId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Forgets that `peer` holds the blob (it said it does not): the next relay attempt
    /// asks again.
    async fn forget_attachment_sent(
        &self,
        sha256: &Sha256,
        peer: &RegionId,
    ) -> Result<(), StoreError>;

    /// Appends an audit entry for an administrator's action that changes no other record
    /// (a TLS reload), in its own transaction.
    async fn record_admin_action(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        detail: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
}
