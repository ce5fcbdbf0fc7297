//! What the store returns to readers: a request with its history, messages, receipts and
//! deadlines, as of a moment; and inbox items.

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::RequestRecord;
use crate::ids::{CourtId, MessageId, MessageKind, Sha256};
use crate::receipt::Receipt;
use crate::workflow::deadlines::DEADLINE;

/// One entry of a request's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
    /// The W3C trace id of the message concerned (or else of the request): the same at
    /// both gateways, to find every log line about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "4bf92f3577b34da6a3ce929d0e0e4736")]
    pub trace_id: Option<String>,
}

/// A message of a request, as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageRecord {
    /// Message id.
    pub id: MessageId,
    /// `out` (sent from here) or `in` (received here).
    pub direction: String,
    /// Its kind.
    pub kind: MessageKind,
    /// Digest of the signed envelope (kept when the envelope is purged).
    pub envelope_sha256: Sha256,
    /// The signed envelope; `null` once purged.
    pub envelope: Value,
    /// Whether the envelope was purged after the agreement's retention (`kuayu purge`):
    /// its digest and receipts stay, its content is gone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub purged: bool,
}

/// Everything a court may see of a request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestView {
    /// The request.
    #[serde(flatten)]
    pub record: RequestRecord,
    /// What happened, in order.
    pub history: Vec<HistoryEntry>,
    /// Its messages: the request and every update, both directions.
    pub messages: Vec<MessageRecord>,
    /// Every receipt this gateway holds for them, in the order of their messages, each
    /// message's by hop (submission, relay, retrieval).
    pub receipts: Vec<Receipt>,
    /// Its legal deadlines and warnings, earliest first.
    pub deadlines: Vec<DeadlineRecord>,
    /// Whether a deadline has passed unmet (as of when it was read).
    pub overdue: bool,
    /// When its payloads and attachments were purged after the agreement's retention
    /// (each message then shows `"envelope": null, "purged": true`).
    #[serde(
        with = "crate::clock::ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub purged_at: Option<OffsetDateTime>,
}

impl RequestView {
    /// Where each addressee of a service request stands, from the request and its updates
    /// in the order they were committed (empty for other kinds of work).
    pub fn addressees(&self) -> Vec<crate::workflow::addressees::Addressee> {
        let Some(request) = self.messages.iter().find(|m| m.id == self.record.id) else {
            return Vec::new();
        };
        crate::workflow::addressees::progress(
            &request.envelope["payload"],
            self.messages
                .iter()
                .filter(|m| m.id != self.record.id)
                .map(|m| (m.id, &m.kind, &m.envelope["payload"])),
        )
    }

    /// The view as of `now`: each deadline's status, and whether the request is overdue.
    pub fn as_of(mut self, now: OffsetDateTime) -> Self {
        let open = !crate::workflow::is_terminal(&self.record.state);
        for d in &mut self.deadlines {
            d.status = d.status_at(now, open);
        }
        self.overdue = self.deadlines.iter().any(|d| d.status == "overdue");
        self
    }
}

/// A legal clock on a request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadlineRecord {
    /// The agreement's name for it, e.g. `service.serve`.
    pub name: String,
    /// `deadline` (work owed) or `warning` (notice ahead of time).
    pub kind: String,
    /// When it falls due.
    #[serde(with = "crate::clock::ts")]
    pub due_at: OffsetDateTime,
    /// When the work that meets it was done.
    #[serde(
        with = "crate::clock::ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub met_at: Option<OffsetDateTime>,
    /// When this gateway told its court the time had come.
    #[serde(
        with = "crate::clock::ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub notified_at: Option<OffsetDateTime>,
    /// `pending`, `met`, `met_late`, `overdue`, `closed` (the request ended another way),
    /// or for a warning `pending`, `due` and `closed` (e.g. the freeze was lifted).
    pub status: String,
}

impl DeadlineRecord {
    /// Its status at `now`, for a request still `open` or not.
    pub fn status_at(&self, now: OffsetDateTime, open: bool) -> String {
        let passed = self.due_at <= now;
        let status = match (self.kind == DEADLINE, self.met_at) {
            (false, Some(_)) => "closed",
            (false, _) if passed => "due",
            (false, _) => "pending",
            (true, Some(met)) if met > self.due_at => "met_late",
            (true, Some(_)) => "met",
            (true, None) if !open => "closed",
            (true, None) if passed => "overdue",
            (true, None) => "pending",
        };
        status.to_owned()
    }
}

/// A deadline or warning whose time came, as the watcher handled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passed {
    /// The request.
    pub request_id: MessageId,
    /// The deadline's name.
    pub name: String,
    /// The court of this region that was told.
    pub court: CourtId,
}

/// Which part of a court's inbox to read, in which order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxOrder {
    /// Everything after a cursor, in the order it arrived (a feed to page through).
    Arrival {
        /// The last cursor already seen.
        after: i64,
    },
    /// What the court has not retrieved yet, most urgent first (preservation before other
    /// work), then oldest first: the court's work queue.
    Urgent,
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
    /// Digest of the signed envelope (none for a notice).
    pub envelope_sha256: Option<Sha256>,
    /// The signed envelope as stored (the text the sender gateway sent), for courts that
    /// check its seal themselves (none for a notice): handed on as it is, not parsed here.
    pub envelope: Option<Box<serde_json::value::RawValue>>,
    /// A notice from this gateway itself (a status-update payload), e.g. work returned
    /// because its agreement was revoked.
    pub notice: Option<Value>,
    /// Whether the message's envelope was purged after the agreement's retention
    /// (`envelope` is then none, its digest stays).
    pub purged: bool,
}

/// Where a page of `GET /v1/requests` ended: the last request's creation time and id.
/// Written as `<unix milliseconds>.<id>`, opaque to courts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestCursor {
    /// The last request's creation time, in Unix milliseconds.
    pub created_at_ms: i64,
    /// The last request's id.
    pub id: MessageId,
}

impl RequestCursor {
    /// The cursor after `r`.
    pub fn after(r: &RequestRecord) -> Self {
        RequestCursor {
            created_at_ms: crate::clock::unix_millis(r.created_at),
            id: r.id,
        }
    }

    /// Reads a cursor as its `Display` (`to_string`) wrote it.
    pub fn parse(text: &str) -> Option<Self> {
        let (ms, id) = text.split_once('.')?;
        Some(RequestCursor {
            created_at_ms: ms.parse().ok()?,
            id: MessageId::parse(id).ok()?,
        })
    }
}

impl std::fmt::Display for RequestCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.created_at_ms, self.id)
    }
}
