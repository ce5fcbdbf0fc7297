//! Wire types of the court-facing API, shared by the gateway and the court client.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::envelope::AttachmentRef;
use crate::ids::{CourtId, MessageId, MessageKind, Sha256};
use crate::receipt::Receipt;
use crate::store::{InboxItem, RequestView};
use crate::workflow::addressees::Addressee;

/// `POST /v1/requests`: a court asks a court of another region to do work.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Submission {
    /// A request kind: `service.request`, `printing.request`, `evidence.request`,
    /// `preservation.request`, `filing.request`.
    pub kind: MessageKind,
    /// The court asked to do the work.
    pub recipient_court: CourtId,
    /// Schema version of the payload; defaults to the newest the agreement accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
    /// The request document.
    pub payload: Value,
    /// Documents that travel with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentRef>,
}

/// `POST /v1/requests/{id}/updates`: the executing court reports progress or a result
/// (or the requesting court sends a filing's corrections, `filing.correction`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateSubmission {
    /// An update kind of the request's family, e.g. `service.result`, `evidence.status`.
    pub kind: MessageKind,
    /// Schema version of the payload; defaults to the newest the agreement accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
    /// The update document.
    pub payload: Value,
    /// Documents that travel with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentRef>,
}

/// The 202 answer to a submission or an update: committed here, on its way to the peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    /// The request.
    pub request_id: MessageId,
    /// The message just accepted (equal to `request_id` for a new request).
    pub message_id: MessageId,
    /// The request's state after it.
    pub state: String,
    /// SHA-256 of the signed envelope.
    pub envelope_sha256: Sha256,
    /// This gateway's signed submission receipt.
    pub receipt: Receipt,
    /// The W3C trace id the message travels under to the peer gateway (its request's:
    /// the court's `traceparent` when it submitted the request, or one the gateway
    /// started), also answered in the `traceparent` header. Unauthenticated metadata for
    /// operators; not covered by the receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "4bf92f3577b34da6a3ce929d0e0e4736")]
    pub trace_id: Option<String>,
}

/// `GET /v1/requests/{id}`: the request as its court sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestAnswer {
    /// The request, its history, messages, receipts and deadlines.
    #[serde(flatten)]
    pub view: RequestView,
    /// A service request: where each addressee stands, with its certificate of service
    /// once it has one (absent for other kinds of work).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addressees: Vec<Addressee>,
}

impl RequestAnswer {
    /// The answer for `view`, as of `now`.
    pub fn new(view: RequestView, now: time::OffsetDateTime) -> Self {
        let addressees = view.addressees();
        RequestAnswer {
            view: view.as_of(now),
            addressees,
        }
    }
}

/// `GET /v1/requests`: the court's requests, newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestList {
    /// The requests (without history or messages: `GET /v1/requests/{id}` has those).
    pub items: Vec<crate::store::RequestRecord>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One active agreement in `GET /v1/agreements`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgreementListing {
    /// Agreement id.
    pub id: crate::ids::AgreementId,
    /// Its version.
    pub version: u32,
    /// The agreement hash: SHA-256 of the RFC 8785 form of `document.terms` as written.
    pub sha256: Sha256,
    /// The signed document, as loaded (terms exactly as signed).
    pub document: crate::agreement::Agreement,
}

/// `GET /v1/inbox`: a page of messages addressed to the calling court.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboxPage {
    /// The messages: oldest first (arrival order), or most urgent first (work queue).
    pub items: Vec<InboxEntry>,
    /// Arrival order: pass as `after` for the next page (equal to the request's `after`
    /// when empty).
    pub next_cursor: i64,
    /// Work queue: the items are held for this poller until then (RFC 3339); acknowledge
    /// them before, or they come back to the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<String>,
}

/// `POST /v1/inbox/ack`: the work-queue items the court has taken in.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AckRequest {
    /// The `cursor` of each item (1 to 500).
    pub cursors: Vec<i64>,
}

/// The answer to `POST /v1/inbox/ack`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AckAnswer {
    /// Each item acknowledged, with its retrieval receipt.
    pub items: Vec<Acknowledged>,
}

/// One acknowledged item.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Acknowledged {
    /// Its cursor.
    pub cursor: i64,
    /// The message.
    pub message_id: MessageId,
    /// The retrieval receipt, signed at the first acknowledgement (none for a gateway
    /// notice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
}

/// One inbox message, with the gateway's retrieval receipt.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboxEntry {
    /// Position; pass the last one as `after`.
    pub cursor: i64,
    /// The message.
    pub message_id: MessageId,
    /// The request it opens or updates.
    pub request_id: MessageId,
    /// Its kind.
    pub kind: MessageKind,
    /// The signed envelope (absent for a notice), as the sending gateway sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub envelope: Option<Box<serde_json::value::RawValue>>,
    /// A notice from the gateway itself, as a status-update payload: e.g. the request was
    /// returned because its agreement was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<Value>,
    /// The retrieval receipt (issued at first retrieval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
    /// The envelope was purged after the agreement's retention (`kuayu purge`): it is
    /// absent, its digest is on the receipt.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub purged: bool,
}

impl InboxEntry {
    /// An entry for a stored inbox item.
    pub fn new(item: InboxItem, receipt: Option<Receipt>) -> Self {
        InboxEntry {
            cursor: item.cursor,
            message_id: item.message_id,
            request_id: item.request_id,
            kind: item.kind,
            envelope: item.envelope,
            notice: item.notice,
            receipt,
            purged: item.purged,
        }
    }

    /// The signed envelope parsed (none for a notice, a purged envelope, or text that is
    /// not JSON). The entry keeps it as the text the gateway served, unparsed.
    pub fn envelope_value(&self) -> Option<Value> {
        self.envelope
            .as_ref()
            .and_then(|e| serde_json::from_str(e.get()).ok())
    }
}

/// The answer of the federation API: the receiving gateway's signed relay receipt.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayAnswer {
    /// The relay receipt.
    pub receipt: Receipt,
}

/// The body of `POST /federation/v1/messages/batch`: sealed envelopes one peer relays in
/// one request, each with the trace it travels under.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageBatch {
    /// 1 to 64 messages.
    #[schema(min_items = 1, max_items = 64)]
    pub messages: Vec<BatchedMessage>,
}

/// One message of a [`MessageBatch`].
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchedMessage {
    /// The sealed envelope exactly as `POST /federation/v1/messages` takes it.
    #[schema(value_type = crate::envelope::Envelope)]
    pub envelope: serde_json::Value,
    /// W3C trace context the message travels under (as the single route's `traceparent`
    /// header): outside the signed envelope, unauthenticated, deciding nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

/// The answer to `POST /federation/v1/messages/batch`: one result per message, in the
/// order sent.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageResults {
    /// Each message's result.
    pub results: Vec<MessageResult>,
}

/// What became of one message of a batch: committed here, with the signed relay receipt
/// the single route answers, or refused with the problem the single route would have
/// answered.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum MessageResult {
    /// Committed here (now or before: the same message again gets its first receipt).
    Taken(RelayAnswer),
    /// Refused (nothing of it stored): why, with its `code` and `status`.
    Refused {
        /// As `application/problem+json` would carry it.
        problem: crate::problem::Problem,
    },
}

/// The answer to `GET /federation/v1/ping`: this gateway answers, and knows the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PingAnswer {
    /// The answering gateway's region.
    pub region: crate::ids::RegionId,
    /// The calling gateway's region, as its client certificate names it.
    pub peer: crate::ids::RegionId,
}

/// The answer to `POST /federation/v1/receipts`: the receipt is held here (`stored`:
/// it was new; false: it was held before and nothing changed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptTaken {
    /// The message the receipt is of.
    pub message_id: crate::ids::MessageId,
    /// Its hop.
    pub hop: crate::receipt::Hop,
    /// Whether this call stored it.
    pub stored: bool,
}

/// The body of `POST /federation/v1/receipts/batch`: retrieval receipts of one peer, each
/// as it signed it, with the trace of its message.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReceiptBatch {
    /// 1 to 64 receipts.
    #[schema(min_items = 1, max_items = 64)]
    pub receipts: Vec<BatchedReceipt>,
}

/// One receipt of a [`ReceiptBatch`].
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchedReceipt {
    /// The receipt exactly as `POST /federation/v1/receipts` takes it.
    #[schema(value_type = crate::receipt::ReceiptFields)]
    pub receipt: serde_json::Value,
    /// W3C trace context of the message the receipt is of (as the single route's
    /// `traceparent` header): outside the signed receipt, unauthenticated, for log lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

/// The answer to `POST /federation/v1/receipts/batch`: one result per receipt sent, in
/// the same order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptResults {
    /// Each receipt's result.
    pub results: Vec<ReceiptResult>,
}

/// What became of one receipt of a batch: held here (as the single route answers), or
/// refused with the problem the single route would have answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ReceiptResult {
    /// Held here (`stored`: by this call).
    Taken(ReceiptTaken),
    /// Refused (or not stored): why, with its `code` and `status`.
    Refused {
        /// As `application/problem+json` would carry it.
        problem: crate::problem::Problem,
    },
}

/// The answer to `PUT /v1/attachments/{sha256}` (and its federation twin): 201 when the
/// blob was stored, 200 when it was already held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredAttachment {
    /// SHA-256 of the bytes: the blob's name.
    pub sha256: Sha256,
    /// Its size.
    pub bytes: u64,
}
