//! The federation API between gateways: `POST /federation/v1/messages` takes one signed
//! envelope and answers 200 with the signed relay receipt once it is committed, and
//! `POST /federation/v1/messages/batch` several, each answered on its own;
//! `POST /federation/v1/revocations` takes a party's signed revocation notice;
//! `POST /federation/v1/receipts` takes a peer's retrieval receipt of a message this
//! gateway sent, and `POST /federation/v1/receipts/batch` several ([`crate::evidence`]);
//! `GET /federation/v1/ping` answers a peer's relay asking whether this gateway is back;
//! `HEAD` and `PUT /federation/v1/attachments/{sha256}` ([`super::attachments`]) tell
//! whether a blob is held and take one, streamed and verified; `GET /federation/openapi.json`
//! is this API's OpenAPI 3.1 document ([`super::reference`]).

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde_json::Value;

use super::PeerCertificates;
use super::problem::{JsonBody, method_not_allowed, not_found};
use crate::gateway::Gateway;
use crate::inbound;
use crate::observe::journey::{self, Direction};
use crate::problem::Problem;

/// The route of message batches (`POST`).
pub const BATCH_PATH: &str = "/federation/v1/messages/batch";

/// Largest envelope (or batch of them) the federation API reads; the agreement's limits are checked after.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// The federation router.
pub fn router(g: Arc<Gateway>) -> Router {
    Router::new()
        .route("/federation/v1/messages", post(receive))
        .route(BATCH_PATH, post(receive_batch))
        .route("/federation/v1/revocations", post(revocation))
        .route(crate::relay::receipts::PATH, post(receipt))
        .route(crate::relay::receipts::BATCH_PATH, post(receipt_batch))
        .route(crate::relay::probe::PATH, axum::routing::get(ping))
        .route(
            "/federation/openapi.json",
            axum::routing::get(super::reference::federation_document),
        )
        // Streamed, outside the JSON body limit (the agreement's attachment limit applies).
        .merge(super::attachments::federation())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(g)
}

/// A peer gateway relays one signed envelope. The answer, once it is committed here, is
/// this gateway's signed relay receipt; the same message id again gets the same receipt.
#[utoipa::path(
    post,
    path = "/federation/v1/messages",
    tag = "federation",
    request_body(content = crate::envelope::Envelope, description = "The sealed envelope (docs/SIGNATURES.md)."),
    params(("traceparent" = Option<String>, Header, description = "W3C trace context: the trace id the message travels under (its request's), sent by the relay with each attempt, each with its own span id. A transport header outside the envelope: the signature does not cover it, and it decides nothing (unauthenticated metadata for operators). An update of a request the receiving gateway holds continues the request's trace whatever this says; a missing or invalid one starts a new trace, nothing is refused for it.")),
    responses((status = 200, description = "Committed.", body = crate::api::RelayAnswer))
)]
pub(super) async fn receive(
    State(g): State<Arc<Gateway>>,
    Extension(peer): Extension<PeerCertificates>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, Problem> {
    // The journey logs a refusal with its code and stage; never the detail, which may
    // quote what the envelope carries.
    // The sending gateway's trace (`traceparent`), or a new one: see `observe::trace`.
    let trace = crate::observe::trace::from_headers(&headers);
    let work = inbound::receive(&g, &peer.0, body);
    let answer = journey::follow(&g.observer.metrics, Direction::Inbound, trace, work).await;
    Ok(Json(answer?).into_response())
}

/// A peer gateway relays several signed envelopes in one request (its relay sends
/// together what it starts together): each is checked as the single route checks one,
/// those that pass are committed in one group commit, and each is answered on its own,
/// in order.
#[utoipa::path(
    post,
    path = "/federation/v1/messages/batch",
    tag = "federation",
    request_body(content = crate::api::MessageBatch, description = "`{\"messages\": [{\"envelope\": …, \"traceparent\": …}]}`: 1 to 64 sealed envelopes, each exactly as `POST /federation/v1/messages` takes it (docs/SIGNATURES.md), with the W3C trace context it travels under (optional; as the single route's `traceparent` header: outside the signed envelope, deciding nothing). The whole body is at most 4 MiB."),
    responses((status = 200, description = "One result per message, in the order sent: `{\"receipt\": …}`, the signed relay receipt the single route answers, once the message is committed here (those that pass their checks are committed together, and one whose commit fails is undone alone and answered with its own problem) (the same message again gets its first receipt), or `{\"problem\": {…}}` with the problem the single route would have answered (its `status` and `code`; the sender retries it as it would that answer). A refused message leaves the others as they are. The batch is refused whole only if the caller is not a partner gateway (`unauthenticated`, `identity_mismatch`), or it is not a batch (an item that is not `{\"envelope\": …}` with an envelope in it, an unknown field), or carries no message or more than 64 (`bad_request`), or is over 4 MiB (`payload_too_large`); never 404 as a whole.", body = crate::api::MessageResults))
)]
pub(super) async fn receive_batch(
    State(g): State<Arc<Gateway>>,
    Extension(peer): Extension<PeerCertificates>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, Problem> {
    Ok(Json(inbound::receive_batch(&g, &peer.0, body).await?).into_response())
}

/// A party's signed notice that it revokes an agreement: open work under it is returned.
#[utoipa::path(
    post,
    path = "/federation/v1/revocations",
    tag = "federation",
    request_body(content = crate::admin::revoke::Notice, description = "The notice, signed by the revoking region's gateway key."),
    responses((status = 200, description = "Withdrawn here: `{\"agreementId\", \"returned\": n}` (open requests returned to their courts), with `\"alreadyRevoked\": true` if it was.", body = Object))
)]
pub(super) async fn revocation(
    State(g): State<Arc<Gateway>>,
    Extension(peer): Extension<PeerCertificates>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, Problem> {
    Ok(Json(crate::admin::revoke::receive(&g, &peer.0, body).await?).into_response())
}

/// A peer gateway carries back its signed retrieval receipt of a message this gateway
/// sent: its court retrieved it. Kept once (with an audit entry) and shown with the
/// request's receipts; the same receipt again changes nothing (`stored: false`).
#[utoipa::path(
    post,
    path = "/federation/v1/receipts",
    tag = "federation",
    request_body(content = crate::receipt::ReceiptFields, description = "The retrieval receipt as the peer signed it (docs/SIGNATURES.md): `hop` `retrieval`, the `messageId` and `envelopeSha256` of a message this gateway sent to the peer's region, `issuer` the peer (as its certificate names it), `court` the recipient court."),
    params(("traceparent" = Option<String>, Header, description = "W3C trace context: the trace id of the message the receipt is of, for the receiver's log lines; outside the signed receipt, unauthenticated, deciding nothing.")),
    responses((status = 200, description = "Held here.", body = crate::api::ReceiptTaken))
)]
pub(super) async fn receipt(
    State(g): State<Arc<Gateway>>,
    Extension(peer): Extension<PeerCertificates>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, Problem> {
    // Its lines carry the trace of the message it is the receipt of (sent as `traceparent`).
    let trace = crate::observe::trace::from_headers(&headers).unwrap_or_default();
    let span = tracing::info_span!("receipt", trace_id = trace.as_str());
    let taken = tracing::Instrument::instrument(crate::evidence::receive(&g, &peer.0, body), span);
    Ok(Json(taken.await?).into_response())
}

/// A peer gateway carries back several signed retrieval receipts at once (its relay
/// sends what is due in one request): each is checked as the single route checks one and
/// answered on its own, in order; those that pass are kept in one commit.
#[utoipa::path(
    post,
    path = "/federation/v1/receipts/batch",
    tag = "federation",
    request_body(content = crate::api::ReceiptBatch, description = "`{\"receipts\": [{\"receipt\": …, \"traceparent\": …}]}`: 1 to 64 retrieval receipts, each as `POST /federation/v1/receipts` takes it, with the W3C trace context of its message (optional; outside the signed receipt, deciding nothing)."),
    responses((status = 200, description = "One result per receipt, in the order sent: `{\"messageId\", \"hop\", \"stored\"}` if it is held here, or `{\"problem\": {…}}` with the problem the single route would have answered (its `status` and `code`). A refused receipt leaves the others as they are. The batch is refused whole (`bad_request`) only if it is not one (an item that is not a receipt included) or carries no receipt or more than 64.", body = crate::api::ReceiptResults))
)]
pub(super) async fn receipt_batch(
    State(g): State<Arc<Gateway>>,
    Extension(peer): Extension<PeerCertificates>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, Problem> {
    Ok(Json(crate::evidence::receive_batch(&g, &peer.0, body).await?).into_response())
}

/// A peer gateway's relay asks whether this gateway answers (it pings a peer it cannot
/// reach every few seconds). Authenticated like every federation route, by the client
/// certificate alone; it changes nothing.
#[utoipa::path(
    get,
    path = "/federation/v1/ping",
    tag = "federation",
    responses((status = 200, description = "This gateway answers.", body = crate::api::PingAnswer))
)]
pub(super) async fn ping(
    State(g): State<Arc<Gateway>>,
    Extension(chain): Extension<PeerCertificates>,
) -> Result<Response, Problem> {
    let peer = crate::attachments::peers::authenticate(&g, &chain.0)?;
    Ok(Json(crate::api::PingAnswer {
        region: g.region.clone(),
        peer: peer.region,
    })
    .into_response())
}
