//! The storage interface: every operation that changes state is one transaction.
//!
//! A message, its state change, its history and audit entries, and its outbox or
//! inbox row are committed together or not at all, before any 2xx leaves the
//! gateway. Engines: [`sqlite`] (embedded, the default). A PostgreSQL engine
//! implements the same trait for regions that run several replicas.

pub mod sqlite;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::audit::AuditEntry;
use crate::envelope::Sealed;
use crate::ids::{AgreementId, CourtId, Family, MessageId, MessageKind, RegionId, Sha256};
use crate::receipt::Receipt;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The change conflicts with what is stored (e.g. one message id, two contents).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database failed.
    #[error("database: {0}")]
    Backend(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// Which side of a request this gateway's court is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// One of our courts asked for the work.
    Requester,
    /// One of our courts is asked to do it.
    Executor,
}

impl Role {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::Executor => "executor",
        }
    }
}

/// A request as this gateway tracks it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    /// The request id (the id of the request message).
    pub id: MessageId,
    /// The kind of work.
    pub family: Family,
    /// Our court's side.
    pub role: Role,
    /// The court that asked.
    pub requesting_court: CourtId,
    /// The court asked to do it.
    pub requested_court: CourtId,
    /// Current state, e.g. `submitted`, `relayed`, `received`, `completed`.
    pub state: String,
    /// The agreement the request was accepted under.
    pub agreement_id: AgreementId,
    /// That agreement's hash at the time.
    pub agreement_sha256: Sha256,
    /// Queue priority rank.
    pub priority: i64,
    /// When it was accepted here.
    #[serde(with = "crate::clock::ts")]
    pub created_at: OffsetDateTime,
    /// When its state last changed.
    #[serde(with = "crate::clock::ts")]
    pub updated_at: OffsetDateTime,
}

/// How a commit changes the request it concerns.
#[derive(Debug, Clone)]
pub enum StateChange {
    /// Start tracking a new request.
    Open(RequestRecord),
    /// Move an existing request to `state`.
    Advance {
        /// Which request.
        request_id: MessageId,
        /// Its new state.
        state: String,
    },
    /// Move the request to `state` only if it is still in `from`; otherwise record the
    /// event and leave the state (a later step may already have overtaken this one).
    AdvanceFrom {
        /// Which request.
        request_id: MessageId,
        /// The state it must be in.
        from: String,
        /// Its new state.
        state: String,
    },
    /// Record an event in the request's history, leaving its state as it is.
    Note {
        /// Which request.
        request_id: MessageId,
    },
}

impl StateChange {
    /// The request concerned.
    pub fn request_id(&self) -> MessageId {
        match self {
            StateChange::Open(r) => r.id,
            StateChange::Advance { request_id, .. }
            | StateChange::AdvanceFrom { request_id, .. }
            | StateChange::Note { request_id } => *request_id,
        }
    }
}

/// What happened, for the history and the audit log.
#[derive(Debug, Clone)]
pub struct Event {
    /// Event name, e.g. `submitted`, `relayed`, `received`.
    pub name: String,
    /// Who did it: `court:SC0104`, `gateway:CQ`, `system`.
    pub actor: String,
    /// Anything worth keeping.
    pub detail: Value,
}

impl Event {
    /// An event with no detail.
    pub fn new(name: impl Into<String>, actor: impl Into<String>) -> Self {
        Event {
            name: name.into(),
            actor: actor.into(),
            detail: Value::Null,
        }
    }
}

/// A court submission's first answer, kept to replay for a retried submission.
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// The submitting court.
    pub court: CourtId,
    /// The court's idempotency key.
    pub key: String,
    /// SHA-256 of the canonical request body, to catch a key reused for another request.
    pub request_hash: Sha256,
    /// HTTP status of the first answer.
    pub status: u16,
    /// Body of the first answer.
    pub body: Value,
}

/// A message one of our courts sends, accepted by this gateway.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// The signed envelope.
    pub sealed: Sealed,
    /// The submission receipt.
    pub receipt: Receipt,
    /// The peer gateway it goes to.
    pub peer: RegionId,
    /// What it does to its request.
    pub change: StateChange,
    /// What happened.
    pub event: Event,
    /// The answer to keep for the court's idempotency key.
    pub idempotency: Option<Idempotency>,
    /// Now.
    pub now: OffsetDateTime,
}

/// A message from a peer gateway, accepted by this gateway.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// The verified envelope.
    pub sealed: Sealed,
    /// The relay receipt this gateway answers with.
    pub receipt: Receipt,
    /// What it does to its request (none for conformance test messages).
    pub change: Option<StateChange>,
    /// What happened.
    pub event: Event,
    /// The court whose inbox it goes to (none for test messages).
    pub inbox: Option<CourtId>,
    /// Now.
    pub now: OffsetDateTime,
}

/// The outcome of committing an outbound message.
#[derive(Debug)]
pub enum OutboundOutcome {
    /// Stored.
    Committed,
    /// The idempotency key already has an answer: this one.
    Replay(Idempotency),
}

/// The outcome of committing an inbound message.
#[derive(Debug)]
pub enum InboundOutcome {
    /// Stored.
    Committed,
    /// Already stored: the first relay receipt, and the digest it was stored with.
    Duplicate {
        /// Digest of the envelope stored first.
        digest: Sha256,
        /// The relay receipt issued then.
        receipt: Box<Receipt>,
    },
}

/// One entry of a request's history.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// When.
    #[serde(with = "crate::clock::ts")]
    pub at: OffsetDateTime,
    /// The state after it.
    pub state: String,
    /// What happened.
    pub event: String,
    /// Who did it.
    pub actor: String,
    /// The message concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// More.
    #[serde(skip_serializing_if = "Value::is_null")]
    pub detail: Value,
}

/// A message of a request, as stored.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRecord {
    /// Message id.
    pub id: MessageId,
    /// `out` (sent from here) or `in` (received here).
    pub direction: String,
    /// Its kind.
    pub kind: MessageKind,
    /// Digest of the signed envelope.
    pub envelope_sha256: Sha256,
    /// The signed envelope.
    pub envelope: Value,
}

/// Everything a court may see of a request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestView {
    /// The request.
    #[serde(flatten)]
    pub record: RequestRecord,
    /// What happened, in order.
    pub history: Vec<HistoryEntry>,
    /// Its messages: the request and every update, both directions.
    pub messages: Vec<MessageRecord>,
    /// Every receipt this gateway holds for them.
    pub receipts: Vec<Receipt>,
}

/// One message in a court's inbox.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InboxItem {
    /// Position in the inbox; pass it as `after` to page on.
    pub cursor: i64,
    /// The message.
    pub message_id: MessageId,
    /// The request it opens or updates.
    pub request_id: MessageId,
    /// Its kind.
    pub kind: MessageKind,
    /// When this gateway committed it.
    #[serde(with = "crate::clock::ts")]
    pub received_at: OffsetDateTime,
    /// When the court first retrieved it.
    #[serde(skip)]
    pub retrieved_at: Option<OffsetDateTime>,
    /// Digest of the signed envelope.
    pub envelope_sha256: Sha256,
    /// The signed envelope, for courts that check the sender gateway's seal themselves.
    pub envelope: Value,
}

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
    /// The signed envelope.
    pub envelope: Value,
    /// Digest of the envelope.
    pub digest: Sha256,
    /// Attempts so far.
    pub attempts: i64,
}

/// The storage interface.
#[async_trait]
pub trait Store: Send + Sync {
    /// The answer already given for a court's idempotency key, if any.
    async fn idempotent_answer(
        &self,
        court: &CourtId,
        key: &str,
    ) -> Result<Option<Idempotency>, StoreError>;

    /// Commits a message our court sends: message, request change, history, audit,
    /// submission receipt, outbox row and idempotency answer, in one transaction.
    async fn commit_outbound(&self, m: Outbound) -> Result<OutboundOutcome, StoreError>;

    /// Commits a message from a peer: message, request change, history, audit, relay
    /// receipt and inbox row, in one transaction. A message id seen before is not stored
    /// again; its first receipt is returned.
    async fn commit_inbound(&self, m: Inbound) -> Result<InboundOutcome, StoreError>;

    /// The relay receipt and digest of an inbound message, if it was committed.
    async fn inbound_receipt(
        &self,
        id: &MessageId,
    ) -> Result<Option<(Sha256, Receipt)>, StoreError>;

    /// A request as tracked here.
    async fn request(&self, id: &MessageId) -> Result<Option<RequestRecord>, StoreError>;

    /// A request with its history, messages and receipts.
    async fn request_view(&self, id: &MessageId) -> Result<Option<RequestView>, StoreError>;

    /// A page of `court`'s inbox after `cursor`.
    async fn inbox(
        &self,
        court: &CourtId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<InboxItem>, StoreError>;

    /// Records first retrievals from an inbox, with their signed receipts.
    async fn record_retrievals(
        &self,
        retrievals: Vec<(InboxItem, Receipt)>,
        court: &CourtId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Pending outbox items due at `now_ms`, highest priority first, then oldest. A message
    /// is not due while an earlier message of the same request is still pending: one
    /// request's messages reach the peer in the order they were committed.
    async fn due_outbox(&self, now_ms: i64, limit: i64) -> Result<Vec<OutboxItem>, StoreError>;

    /// When the next pending outbox item falls due, if any is pending.
    async fn next_due(&self) -> Result<Option<i64>, StoreError>;

    /// The peer committed the message: store its relay receipt and move the request on.
    async fn outbox_delivered(
        &self,
        item: &OutboxItem,
        receipt: Receipt,
        change: Option<StateChange>,
        event: Event,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// The attempt failed in a way worth retrying at `next_attempt_ms`.
    async fn outbox_retry(
        &self,
        item: &OutboxItem,
        next_attempt_ms: i64,
        error: &str,
    ) -> Result<(), StoreError>;

    /// The peer refused for good, or the message expired: stop, and record why.
    async fn outbox_dead(
        &self,
        item: &OutboxItem,
        change: Option<StateChange>,
        event: Event,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// The audit log from `after` (exclusive), in order.
    async fn audit_entries(&self, after: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError>;
}
