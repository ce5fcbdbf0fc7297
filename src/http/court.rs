//! The court-facing API. A court is known by its client certificate (issued by this
//! region's court CA, naming `urn:kuayu:court:<code>`), never by a field it writes ([`super::caller`]).
//!
//! | route | answer |
//! |---|---|
//! | `POST /v1/requests` (`Idempotency-Key` required, as on every POST) | 202 [`Accepted`] |
//! | `GET /v1/requests?overdue=true&limit=M` | 200 `{items}`: the court's requests, newest first (only overdue ones with `overdue=true`) |
//! | `GET /v1/requests/{id}` | 200 [`RequestAnswer`]: request, history, messages, receipts, deadlines, `overdue`; a service request's `addressees` |
//! | `POST /v1/requests/{id}/updates` | 202 [`Accepted`] |
//! | `GET /v1/inbox?after=N&limit=M` | 200 [`crate::api::InboxPage`]: everything after cursor N, in arrival order |
//! | `GET /v1/inbox?order=urgent&limit=M&lease=S` | 200 [`crate::api::InboxPage`]: the work queue, leased to this poller for S seconds: not yet retrieved, preservation first, then oldest |
//! | `GET /v1/inbox?order=urgent&priority=high` | the work queue's preservation work only (a preservation desk) |
//! | `GET /v1/inbox?…&wait=S` | either of the above as a long poll: with nothing to give, waits up to S seconds for an arrival |
//! | `POST /v1/inbox/ack` | 200 [`crate::api::AckAnswer`]: the items retrieved, with their retrieval receipts |
//! | `GET /v1/agreements` | 200 the active signed agreements |
//! | `PUT`, `GET /v1/attachments/{sha256}` | streamed attachments: see [`super::attachments`] |
//! | `GET /v1/requests/{id}/certificate` | 200 `text/html`: the certificate of service, printable |
//! | `GET /v1/requests/{id}/bundle` | 200 the request's proof bundle: see [`super::bundle`] |
//! | `GET /v1/print-jobs/{id}`, `POST /v1/print-jobs/{id}/events` | print jobs: see [`super::print_jobs`] |
//! | `GET /openapi.json` | 200 this API's OpenAPI 3.1 document ([`super::reference`]) |
//!
//! Print centres call with their own certificates (`urn:kuayu:printcentre:<code>`): they
//! read their inbox (print jobs arrive there) and report on their jobs, nothing else.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::caller::CourtIdentity;
use super::problem::{JsonBody, method_not_allowed, not_found};
use crate::api::{
    Accepted, AgreementListing, RequestAnswer, RequestList, Submission, UpdateSubmission,
};
use crate::gateway::Gateway;
use crate::ids::{CourtId, MessageId};
use crate::observe::journey::Direction;
use crate::observe::trace;
use crate::outbound;
use crate::problem::{Code, Problem};
use crate::store::Role;

/// Largest request body the court API reads; the agreement's own limits are checked after.
pub const MAX_BODY: usize = 4 * 1024 * 1024;
/// Inbox page size when none is asked for, and the largest allowed.
pub const INBOX_PAGE: (i64, i64) = (50, 500);

/// What the OpenAPI document says of a court's `traceparent`.
const TRACEPARENT_IN: &str = "Optional W3C trace context (`00-<trace id>-<parent id>-<flags>`). A new request's messages travel under its trace id, to the peer gateway and back with every update (an update always continues its request's trace). Missing or invalid: the gateway starts a new trace; nothing is refused for it. Unauthenticated metadata for operators, never part of what is signed.";

/// The court API router.
pub fn router(g: Arc<Gateway>) -> Router {
    Router::new()
        .route("/v1/requests", post(submit).get(list))
        .route("/v1/requests/{id}", get(show))
        .route("/v1/requests/{id}/updates", post(update))
        .route("/v1/inbox", get(super::inbox::inbox))
        .route("/v1/inbox/ack", post(super::inbox::acknowledge))
        .route("/v1/requests/{id}/certificate", get(certificate))
        .route("/v1/agreements", get(agreements))
        .route("/openapi.json", get(super::reference::court_document))
        // Streamed, outside the JSON body limit (the agreement's attachment limit applies).
        .merge(super::attachments::court())
        .merge(super::print_jobs::court())
        .merge(super::bundle::court())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(g)
}

/// The 202, with the request's place and (as a `traceparent` continuing the message's
/// trace) its trace.
fn accepted(a: Accepted) -> Response {
    let location = format!("/v1/requests/{}", a.request_id);
    let mut response = (
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(&a),
    )
        .into_response();
    let trace = a.trace_id.as_deref().filter(|t| trace::is_trace_id(t));
    if let Some(value) = trace.and_then(|t| trace::traceparent(t).parse().ok()) {
        response.headers_mut().insert(trace::HEADER, value);
    }
    response
}

pub(super) fn request_id(text: &str) -> Result<MessageId, Problem> {
    MessageId::parse(text)
        .map_err(|e| Problem::new(Code::NotFound, format!("no such request: {e}")))
}

/// Submit a request: a court asks a court of another region to do work.
///
/// The payload is checked against the schema the agreement pins for the kind (the newest
/// version it accepts now, or `schemaVersion`), the agreement's limits and policies, and
/// the attachments it lists must be uploaded first. The 202 comes only once the request
/// is committed; its `receipt` is this gateway's signed submission receipt.
#[utoipa::path(
    post,
    path = "/v1/requests",
    tag = "requests",
    request_body = Submission,
    params(("Idempotency-Key" = String, Header, description = "Required. 1 to 128 visible ASCII characters, chosen by the court per piece of work (e.g. a UUID): the same key with the same body gets the first answer again (nothing is done twice); with another body, 409 `conflict`; without it, 400 `idempotency_key_missing`."),
        ("traceparent" = Option<String>, Header, description = TRACEPARENT_IN)),
    responses(
        (status = 202, description = "Committed and on its way to the peer gateway.", body = Accepted,
            headers(("Location" = String, description = "`/v1/requests/{requestId}`"),
                ("traceparent" = String, description = "W3C trace context of the message: the trace id it travels under (also `traceId` in the body, in the request's view and in each history entry), with the gateway's span id.")))
    )
)]
pub(super) async fn submit(
    State(g): State<Arc<Gateway>>,
    CourtIdentity(court): CourtIdentity,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Submission>,
) -> Result<Response, Problem> {
    let key = outbound::idempotency::key_of(&headers)?;
    let work = outbound::submit(&g, &court, body, key);
    Ok(accepted(journey(&g, &headers, work).await?))
}

/// Report on a request this court was asked to do: a status, an attempt, a result.
///
/// Only the executing court of the request may post, but for a filing's corrections
/// (`filing.correction`), which its requesting court sends; the update must be a legal
/// next step of the request's lifecycle (for a service request with several addressees,
/// of the addressee it names). Which updates complete each kind: docs/API.md.
#[utoipa::path(
    post,
    path = "/v1/requests/{id}/updates",
    tag = "requests",
    request_body = UpdateSubmission,
    params(("id" = MessageId, Path, description = "The request id (`requestId` of its 202 or inbox entry)."),
        ("Idempotency-Key" = String, Header, description = "Required, as for POST /v1/requests: a retry with the same key and body gets the first answer, and the update is applied once."),
        ("traceparent" = Option<String>, Header, description = TRACEPARENT_IN)),
    responses(
        (status = 202, description = "Committed and on its way to the other court's gateway.", body = Accepted,
            headers(("Location" = String, description = "`/v1/requests/{requestId}`"),
                ("traceparent" = String, description = "W3C trace context of the message: the trace id it travels under (also `traceId` in the body, in the request's view and in each history entry), with the gateway's span id.")))
    )
)]
pub(super) async fn update(
    State(g): State<Arc<Gateway>>,
    CourtIdentity(court): CourtIdentity,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<UpdateSubmission>,
) -> Result<Response, Problem> {
    let key = outbound::idempotency::key_of(&headers)?;
    let work = outbound::update(&g, &court, request_id(&id)?, body, key);
    Ok(accepted(journey(&g, &headers, work).await?))
}

/// Runs a court's message through the pipeline as an outbound journey (its span, stage
/// times, outcome log line and counts), under the trace id of its `traceparent` (a
/// missing or invalid one starts a new trace; nothing is refused for it).
pub(super) async fn journey<T>(
    g: &Gateway,
    headers: &HeaderMap,
    work: impl std::future::Future<Output = Result<T, Problem>>,
) -> Result<T, Problem> {
    let trace = trace::from_headers(headers);
    crate::observe::journey::follow(&g.observer.metrics, Direction::Outbound, trace, work).await
}

/// One request as this court sees it: state, history, every message both ways, every
/// receipt, legal deadlines, and for a service request each addressee's state.
#[utoipa::path(
    get,
    path = "/v1/requests/{id}",
    tag = "requests",
    params(("id" = MessageId, Path, description = "The request id.")),
    responses((status = 200, description = "The request.", body = RequestAnswer))
)]
pub(super) async fn show(
    State(g): State<Arc<Gateway>>,
    CourtIdentity(court): CourtIdentity,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let view = visible(&g, &court, request_id(&id)?).await?;
    Ok(Json(RequestAnswer::new(view, g.clock.now())).into_response())
}

/// Request `id` as `court` may see it (its own side of the work), or 404.
pub(super) async fn visible(
    g: &Gateway,
    court: &CourtId,
    id: MessageId,
) -> Result<crate::store::RequestView, Problem> {
    let view = g.store.request_view(&id).await.map_err(Problem::internal)?;
    view.filter(|v| match v.record.role {
        Role::Requester => &v.record.requesting_court == court,
        Role::Executor => &v.record.requested_court == court,
    })
    .ok_or_else(|| Problem::new(Code::NotFound, format!("court {court} has no request {id}")))
}

/// This court's requests (both sides), newest first.
#[utoipa::path(
    get,
    path = "/v1/requests",
    tag = "requests",
    params(
        ("overdue" = Option<bool>, Query, description = "`true`: only requests with a legal deadline passed unmet."),
        ("limit" = Option<i64>, Query, description = "At most this many (default 50, at most 500)."),
        ("after" = Option<String>, Query, pattern = r"^-?[0-9]{1,18}\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "The `nextCursor` of the previous page: the requests after it.")
    ),
    responses((status = 200, description = "The requests.", body = RequestList))
)]
pub(super) async fn list(
    State(g): State<Arc<Gateway>>,
    CourtIdentity(court): CourtIdentity,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    let query = query.unwrap_or_default();
    let overdue = match query_value(&query, "overdue") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(Problem::new(
                Code::BadRequest,
                format!("query parameter overdue must be true or false, not {other:?}"),
            ));
        }
    };
    let limit = query_number(&query, "limit")?
        .unwrap_or(INBOX_PAGE.0)
        .clamp(1, INBOX_PAGE.1);
    let after = match query_value(&query, "after") {
        None => None,
        Some(text) => Some(crate::store::RequestCursor::parse(text).ok_or_else(|| {
            Problem::new(
                Code::BadRequest,
                format!("query parameter after must be a nextCursor this API gave, not {text:?}"),
            )
        })?),
    };
    let now = g.clock.now();
    let items = g
        .store
        .requests(&court, overdue.then_some(now), after, limit)
        .await
        .map_err(Problem::internal)?;
    let full = i64::try_from(items.len()).unwrap_or(i64::MAX) == limit;
    let next_cursor = items
        .last()
        .filter(|_| full)
        .map(|r| crate::store::RequestCursor::after(r).to_string());
    Ok(Json(RequestList { items, next_cursor }).into_response())
}

/// The certificates of service (送达回证) of a service request as printable HTML, one
/// section per addressee certified so far.
#[utoipa::path(
    get,
    path = "/v1/requests/{id}/certificate",
    tag = "requests",
    params(("id" = MessageId, Path, description = "The service request id.")),
    responses((status = 200, description = "The certificates.", content_type = "text/html; charset=utf-8", body = String))
)]
pub(super) async fn certificate(
    State(g): State<Arc<Gateway>>,
    CourtIdentity(court): CourtIdentity,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = request_id(&id)?;
    let view = visible(&g, &court, id).await?;
    let html = crate::certificate::render(&view).ok_or_else(|| {
        Problem::new(
            Code::NotFound,
            format!("request {id} has no certificate of service (yet)"),
        )
    })?;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

pub(super) fn query_value<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        pair.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
    })
}

pub(super) fn query_number(query: &str, name: &str) -> Result<Option<i64>, Problem> {
    query_value(query, name)
        .map(|value| {
            value.parse::<i64>().map_err(|_| {
                Problem::new(
                    Code::BadRequest,
                    format!("query parameter {name} must be a whole number"),
                )
            })
        })
        .transpose()
}

/// The active signed agreements: to verify seals and receipts offline (each party's
/// `messageKey`) and to know the schemas, limits and deadlines in force.
#[utoipa::path(
    get,
    path = "/v1/agreements",
    tag = "agreements",
    responses((status = 200, description = "The active agreements.", body = Vec<AgreementListing>))
)]
pub(super) async fn agreements(
    State(g): State<Arc<Gateway>>,
    CourtIdentity(_): CourtIdentity,
) -> Response {
    let list: Vec<AgreementListing> = g
        .agreements
        .snapshot()
        .iter()
        .map(|a| AgreementListing {
            id: a.terms().id.clone(),
            version: a.terms().version,
            sha256: a.digest,
            document: a.document.clone(),
        })
        .collect();
    Json(list).into_response()
}
