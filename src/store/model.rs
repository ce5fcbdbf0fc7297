//! What the store keeps and returns: requests, their history, messages, receipts, inbox
//! items, and the commits that change them (the outbox and receipt queues: `queues.rs`).

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::agreement::{Agreement, Revocation};
use crate::envelope::Sealed;
use crate::ids::{AgreementId, CourtId, Family, MessageId, PrintCentreId, RegionId, Sha256};
use crate::receipt::Receipt;
use crate::workflow::deadlines::Clocks;

/// Which side of a request this gateway's court is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
    /// The W3C trace id its messages travel under, both ways (32 hex digits): the
    /// requesting court's `traceparent`, or one its gateway started. Unauthenticated
    /// metadata for operators. Absent for requests stored before kuayu kept traces.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "4bf92f3577b34da6a3ce929d0e0e4736")]
    pub trace_id: Option<String>,
}

/// How a commit changes the request it concerns.
#[derive(Debug, Clone)]
pub enum StateChange {
    /// Start tracking a new request.
    Open(RequestRecord),
    /// Move an existing request from `from`, the state it was checked in, to `state`.
    /// If another writer moved it first, the commit fails with [`super::StoreError::Raced`]
    /// and stores nothing.
    Advance {
        /// Which request.
        request_id: MessageId,
        /// The state the step was checked against.
        from: String,
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

    /// The request this change opens, if it opens one.
    pub fn opens(&self) -> Option<&RequestRecord> {
        match self {
            StateChange::Open(r) => Some(r),
            _ => None,
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
    /// Whose key: a court's code (`SC0104`), or `printcentre:<code>` for a print centre.
    pub owner: String,
    /// The caller's idempotency key.
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
    /// What it does to the request's legal clocks.
    pub clocks: Clocks,
    /// Print jobs it opens or moves at this gateway's print centres.
    pub jobs: Vec<JobChange>,
    /// Assets it freezes or releases in the register of frozen assets (轮候).
    pub holds: crate::workflow::queue::Holds,
    /// Messages the gateway sends on in the same transaction (e.g. the certificate of
    /// service a postal delivery completes).
    pub followups: Vec<Outbound>,
    /// The W3C trace id it travels under (its request's).
    pub trace_id: String,
    /// Now.
    pub now: OffsetDateTime,
}

/// A print job at one of this region's print centres (postal service a commissioned
/// service fell back to).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrintJob {
    /// The job id.
    pub id: MessageId,
    /// The service request it serves.
    pub request_id: MessageId,
    /// The centre doing it.
    pub print_centre: PrintCentreId,
    /// Its state in the printing lifecycle.
    pub state: String,
    /// The job as the centre received it.
    pub job: Value,
    /// When it was opened.
    #[serde(with = "crate::clock::ts")]
    pub created_at: OffsetDateTime,
}

/// What a commit does to a print job.
#[derive(Debug, Clone)]
pub enum JobChange {
    /// Open it, and put it in its centre's inbox.
    Open(PrintJob),
    /// Move it from `from`, the state the step was checked against, to `state` (a lost
    /// race fails the commit with [`super::StoreError::Raced`]).
    Advance {
        /// The job.
        job_id: MessageId,
        /// The state the step was checked against.
        from: String,
        /// Its new state.
        state: String,
        /// The job with what the step added (e.g. the tracking number once posted).
        job: Value,
    },
}

impl JobChange {
    /// The job concerned.
    pub fn id(&self) -> MessageId {
        match self {
            JobChange::Open(j) => j.id,
            JobChange::Advance { job_id, .. } => *job_id,
        }
    }
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
    /// What it does to the request's legal clocks.
    pub clocks: Clocks,
    /// The W3C trace id it travels under.
    pub trace_id: String,
    /// Now.
    pub now: OffsetDateTime,
}

/// The outcome of committing an outbound message.
#[derive(Debug)]
pub enum OutboundOutcome {
    /// Stored; `outbox`: its outbox position if the relay may start it without a read (a
    /// new request's only message, on SQLite: see [`crate::relay::wake`]).
    Committed { outbox: Option<i64> },
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

/// An agreement version as stored.
#[derive(Debug, Clone)]
pub struct StoredAgreement {
    /// The document.
    pub document: Agreement,
    /// Its agreement hash.
    pub digest: Sha256,
    /// Who loaded it.
    pub loaded_by: String,
    /// When.
    pub loaded_at: OffsetDateTime,
    /// Set once revoked.
    pub revoked: Option<Revocation>,
}

/// Withdraw every version of an agreement, and return the work still open under it.
#[derive(Debug, Clone)]
pub struct Revoke {
    /// The agreement id.
    pub id: AgreementId,
    /// Who, when, why.
    pub revocation: Revocation,
}

/// A request returned to its court because its agreement was revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Returned {
    /// The request.
    pub request_id: MessageId,
    /// The court of this region that was told.
    pub court: CourtId,
}

/// Where a receipt stands among the stored receipts, which are in the order of this key
/// (its columns' text as stored): the cursor of [`crate::store::Store::receipts_after`].
/// The default (all empty) comes before every receipt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiptKey {
    /// The message it names.
    pub message_id: String,
    /// Its hop.
    pub hop: String,
    /// The region that issued it.
    pub issuer: String,
}

/// A receipt as stored, for checking it offline.
#[derive(Debug, Clone)]
pub struct StoredReceipt {
    /// Its key, the cursor for the next page.
    pub key: ReceiptKey,
    /// The receipt.
    pub receipt: Receipt,
    /// The digest of the message it names, as stored with that message (none if the
    /// message is not stored here).
    pub message_digest: Option<Sha256>,
}

/// What a retrieval receipt carried back is checked against: a message this gateway sent,
/// as its row records it (the columns written from its envelope when it was sealed, so
/// the envelope itself is not read, nor unpacked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The request it belongs to.
    pub request_id: MessageId,
    /// The digest it was sealed with.
    pub digest: Sha256,
    /// The court it was sent to.
    pub recipient: CourtId,
    /// The agreement it travelled under.
    pub agreement_id: AgreementId,
    /// That agreement's digest.
    pub agreement_sha256: Sha256,
    /// Whether its envelope was purged (its agreement's retention ended).
    pub purged: bool,
}
