//! The proof-bundle route of the court API.
//!
//! | route | answer |
//! |---|---|
//! | `GET /v1/requests/{id}/bundle` | 200 the request's proof bundle (docs/BUNDLE.md), for the court of this region that sent or was asked to do it; 404 for any other |

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::caller::CourtIdentity;
use super::court::{request_id, visible};
use crate::gateway::Gateway;
use crate::ids::MessageId;
use crate::problem::Problem;

/// The bundle route (merged into [`super::court::router`]).
pub fn court() -> Router<Arc<Gateway>> {
    Router::new().route("/v1/requests/{id}/bundle", get(bundle))
}

/// The request's proof bundle: one self-contained JSON file with the agreement as signed,
/// every envelope as sealed, every receipt, the attachment digests and this gateway's
/// audit entries about the request, signed by this gateway. `kuayu bundle verify` (or
/// examples/python/kuayu_bundle.py) checks it offline with the parties' root keys; the
/// format, field by field: docs/BUNDLE.md.
#[utoipa::path(
    get,
    path = "/v1/requests/{id}/bundle",
    tag = "requests",
    params(("id" = MessageId, Path, description = "The request id.")),
    responses((status = 200, description = "The proof bundle (docs/BUNDLE.md).", body = Object,
        headers(("Content-Disposition" = String, description = "`attachment; filename=\"kuayu-bundle-{id}.json\"`"))))
)]
pub(super) async fn bundle(
    State(g): State<Arc<Gateway>>,
    CourtIdentity(court): CourtIdentity,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = request_id(&id)?;
    let view = visible(&g, &court, id).await?;
    let json = crate::bundle::export(g.store.as_ref(), &view, &g.region, &g.key, g.clock.now())
        .await
        .map_err(Problem::internal)?;
    let disposition = format!("attachment; filename=\"kuayu-bundle-{id}.json\"");
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(json)).into_response())
}
