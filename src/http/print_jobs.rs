//! The print-job routes of the court API: a print centre reports on its jobs; the centre
//! or the court whose service fell back to the post reads one.
//!
//! | route | answer |
//! |---|---|
//! | `GET /v1/print-jobs/{id}` | 200 a print job (its centre, or the executing court) |
//! | `POST /v1/print-jobs/{id}/events` | 202 a print centre reports a `printing.event` on its job |

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::caller::Caller;
use super::problem::JsonBody;
use crate::gateway::Gateway;
use crate::ids::{MessageId, PrintCentreId};
use crate::problem::{Code, Problem};

/// The print-job routes (merged into [`super::court::router`]).
pub fn court() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/v1/print-jobs/{id}", get(print_job))
        .route("/v1/print-jobs/{id}/events", post(print_event))
}

fn job_id(text: &str) -> Result<MessageId, Problem> {
    MessageId::parse(text)
        .map_err(|e| Problem::new(Code::NotFound, format!("no such print job: {e}")))
}

fn print_centre(caller: Caller) -> Result<PrintCentreId, Problem> {
    match caller {
        Caller::PrintCentre(p) => Ok(p),
        Caller::Court(c) => Err(Problem::new(
            Code::IdentityMismatch,
            format!("court {c} is not a print centre; print jobs are reported on by their centre"),
        )),
    }
}

/// A print centre reports a step on one of its jobs: a `printing.event` payload.
///
/// Each step the addressee would see reaches the requesting court as a
/// `service.attempt`; delivery or return completes the addressee with a certificate of
/// service, sent by the gateway on behalf of the executing court.
#[utoipa::path(
    post,
    path = "/v1/print-jobs/{id}/events",
    tag = "print jobs",
    params(("id" = MessageId, Path, description = "The print job id (`jobId`)."),
        ("Idempotency-Key" = String, Header, description = "Required, as for POST /v1/requests: a retry with the same key and body gets the first answer, and the step is recorded once.")),
    request_body(content = Object, description = "A `printing.event` document (schemas/printing-event): `jobId`, `event` (printed, enveloped, posted, delivery_attempt, delivered, returned, return_receipt_scanned), `at`, and what the event needs."),
    responses((status = 202, description = "Recorded.", body = crate::postal::JobAnswer))
)]
pub(super) async fn print_event(
    State(g): State<Arc<Gateway>>,
    caller: Caller,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    JsonBody(event): JsonBody<serde_json::Value>,
) -> Result<Response, Problem> {
    let centre = print_centre(caller)?;
    let key = crate::outbound::idempotency::key_of(&headers)?;
    let work = crate::postal::report(&g, &centre, job_id(&id)?, event, key);
    let answer = super::court::journey(&g, &headers, work).await?;
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// A print job, to its print centre or to the court whose service fell back to it.
#[utoipa::path(
    get,
    path = "/v1/print-jobs/{id}",
    tag = "print jobs",
    params(("id" = MessageId, Path, description = "The print job id.")),
    responses((status = 200, description = "The job.", body = crate::store::PrintJob))
)]
pub(super) async fn print_job(
    State(g): State<Arc<Gateway>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = job_id(&id)?;
    let job = g.store.print_job(&id).await.map_err(Problem::internal)?;
    let job = match (job, &caller) {
        (Some(j), Caller::PrintCentre(p)) if &j.print_centre == p => Some(j),
        (Some(j), Caller::Court(c)) => {
            let request = g
                .store
                .request(&j.request_id)
                .await
                .map_err(Problem::internal)?;
            request.filter(|r| &r.requested_court == c).map(|_| j)
        }
        _ => None,
    };
    job.map(|j| Json(j).into_response()).ok_or_else(|| {
        Problem::new(
            Code::NotFound,
            format!("{} has no print job {id}", caller.code()),
        )
    })
}
