//! The attachment routes, streamed both ways (never a whole body in memory) and outside
//! the 4 MiB body limit of the JSON routes; the agreement's attachment limit is enforced
//! while the body streams in.
//!
//! | route | answer |
//! |---|---|
//! | court: `PUT /v1/attachments/{sha256}`, raw bytes | 201 [`StoredAttachment`] stored, 200 this court held it already; 422 `hash_mismatch`, 413 `payload_too_large` or `quota_exceeded`, 429 `rate_limited`, 503 `insufficient_storage` |
//! | court: `GET /v1/attachments/{sha256}` | 200 the bytes, to a court that uploaded it or sent or received a message listing it; else 404 |
//! | federation: `HEAD /federation/v1/attachments/{sha256}` | 200 held for this peer (it delivered it or was sent it; `Content-Length` its size) / 404 |
//! | federation: `PUT /federation/v1/attachments/{sha256}` | as the court's PUT, for a peer gateway known by its certificate |

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{head, put};
use axum::{Extension, Json, Router};
use tokio_util::io::ReaderStream;

use super::PeerCertificates;
use super::caller::CourtIdentity;
use super::deadline::RequestDeadline;
use crate::api::StoredAttachment;
use crate::attachments::guard::Guard;
use crate::attachments::{self, IngestError, body::CHUNK, peers};
use crate::gateway::Gateway;
use crate::ids::Sha256;
use crate::problem::{Code, Problem};
use crate::store::BlobSource;

/// The court API's attachment routes (merged into [`super::court::router`]).
pub fn court() -> Router<Arc<Gateway>> {
    Router::new().route(
        "/v1/attachments/{sha256}",
        put(court_put)
            .get(court_get)
            .layer(DefaultBodyLimit::disable()),
    )
}

/// The federation API's attachment routes (merged into [`super::federation::router`]).
pub fn federation() -> Router<Arc<Gateway>> {
    Router::new().route(
        "/federation/v1/attachments/{sha256}",
        head(peer_head)
            .put(peer_put)
            .layer(DefaultBodyLimit::disable()),
    )
}

/// The hash in the path, which must be 64 lower-case hex digits.
fn named(text: &str) -> Result<Sha256, Problem> {
    Sha256::parse(text).map_err(|e| {
        Problem::new(
            Code::BadRequest,
            format!("an attachment is named by the SHA-256 of its bytes: {e}"),
        )
    })
}

/// Upload an attachment: the raw bytes, streamed, named by their SHA-256.
///
/// Stored and fsynced before the answer. Upload each file before the submission or
/// update that lists it in `attachments`.
#[utoipa::path(
    put,
    path = "/v1/attachments/{sha256}",
    tag = "attachments",
    params(("sha256" = Sha256, Path, description = "SHA-256 of the bytes, 64 lower-case hex digits.")),
    request_body(content = String, content_type = "application/octet-stream", description = "The file's bytes, at most the agreements' `maxAttachmentBytes`."),
    responses(
        (status = 201, description = "Stored.", body = StoredAttachment),
        (status = 200, description = "Already held.", body = StoredAttachment)
    )
)]
pub(super) async fn court_put(
    State(g): State<Arc<Gateway>>,
    CourtIdentity(court): CourtIdentity,
    Path(name): Path<String>,
    deadline: Option<Extension<RequestDeadline>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let sha256 = named(&name)?;
    let limit = attachments::upload_limit(&g);
    let upload = Upload {
        sha256,
        limit,
        source: BlobSource::Court(court),
        deadline: deadline.map(|d| d.0),
    };
    store(&g, upload, &headers, body).await
}

/// A peer gateway transfers an attachment before the envelope that lists it: as the
/// court's PUT, for a gateway known by its certificate.
#[utoipa::path(
    put,
    path = "/federation/v1/attachments/{sha256}",
    tag = "federation",
    params(("sha256" = Sha256, Path, description = "SHA-256 of the bytes.")),
    request_body(content = String, content_type = "application/octet-stream", description = "The file's bytes."),
    responses(
        (status = 201, description = "Stored.", body = StoredAttachment),
        (status = 200, description = "Already held.", body = StoredAttachment)
    )
)]
pub(super) async fn peer_put(
    State(g): State<Arc<Gateway>>,
    Extension(chain): Extension<PeerCertificates>,
    Path(name): Path<String>,
    deadline: Option<Extension<RequestDeadline>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let peer = peers::authenticate(&g, &chain.0)?;
    let upload = Upload {
        sha256: named(&name)?,
        limit: peer.limit,
        source: BlobSource::Gateway(peer.region),
        deadline: deadline.map(|d| d.0),
    };
    let answer = store(&g, upload, &headers, body).await;
    if let Err(p) = &answer {
        tracing::info!(code = %p.code, "refused an attachment from a peer");
    }
    answer
}

/// One upload: what it is named, the most it may be, who sends it, and by when.
struct Upload {
    sha256: Sha256,
    limit: u64,
    source: BlobSource,
    deadline: Option<RequestDeadline>,
}

/// Streams the body into the blob store, verifies it, records it; answers once both the
/// bytes and the record are durable. Within the uploader's rate and quota, with room on
/// disk. 201 if the caller did not hold the blob before, 200 if it did: whether someone
/// else stored the same bytes is not told.
async fn store(
    g: &Gateway,
    upload: Upload,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let Upload {
        sha256,
        limit,
        source,
        deadline,
    } = upload;
    let too_large = |bytes: String| {
        Problem::new(
            Code::PayloadTooLarge,
            format!(
                "the attachment is {bytes} bytes; the agreements allow at most {limit} per attachment"
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(bytes) = declared.filter(|b| *b > limit) {
        return Err(too_large(bytes.to_string()));
    }
    let admitted = g
        .uploads
        .admit(g.store.as_ref(), &source, declared, limit)
        .await?;
    let held_before = g
        .store
        .attachment_visible(&sha256, &source)
        .await
        .map_err(Problem::internal)?;
    let ingested = g
        .blobs
        .ingest(&sha256, body.into_data_stream(), admitted.budget)
        .await
        .map_err(|e| match e {
            IngestError::TooLarge { .. } if admitted.by_quota => {
                let quota = match &source {
                    BlobSource::Court(_) => g.uploads.config().pending_quota_bytes_per_court,
                    BlobSource::Gateway(_) => g.uploads.config().pending_quota_bytes_per_peer,
                };
                Guard::over_quota(&source, quota, quota - admitted.budget.min(quota), None)
            }
            IngestError::TooLarge { .. } => too_large("more than that".to_owned()),
            IngestError::Mismatch {
                expected,
                actual,
                bytes,
            } => Problem::new(
                Code::HashMismatch,
                format!(
                    "the {bytes} bytes received hash to SHA-256 {actual}, not to {expected} as named; \
                     nothing was kept"
                ),
            ),
            IngestError::Body(why) => match deadline.filter(|d| d.passed()) {
                Some(late) => late.problem(None),
                None => Problem::new(
                    Code::BadRequest,
                    format!(
                        "the upload did not arrive whole ({why}); nothing was kept, send it again"
                    ),
                ),
            },
            IngestError::Io(why) => Problem::internal(format!("blob store: {why}")),
        })?;
    g.store
        .record_attachment(&sha256, ingested.bytes, &source, g.clock.now())
        .await
        .map_err(Problem::internal)?;
    drop(admitted);
    tracing::info!(%sha256, bytes = ingested.bytes, %source, held_before, "attachment received");
    let status = if held_before {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let answer = StoredAttachment {
        sha256,
        bytes: ingested.bytes,
    };
    Ok((status, Json(answer)).into_response())
}

/// Download an attachment, streamed, to a court that uploaded it or sent or received a
/// message listing it (404 for anyone else). Check the bytes against the name.
#[utoipa::path(
    get,
    path = "/v1/attachments/{sha256}",
    tag = "attachments",
    params(("sha256" = Sha256, Path, description = "SHA-256 of the bytes.")),
    responses((status = 200, description = "The bytes.", content_type = "application/octet-stream", body = String,
        headers(("ETag" = String, description = "The SHA-256 in quotes."), ("Content-Length" = u64, description = "Its size."))))
)]
pub(super) async fn court_get(
    State(g): State<Arc<Gateway>>,
    CourtIdentity(court): CourtIdentity,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let hidden = || {
        Problem::new(
            Code::NotFound,
            format!(
                "court {court} has no attachment {name}: it neither uploaded it nor sent or received a message listing it"
            ),
        )
    };
    let sha256 = Sha256::parse(&name).map_err(|_| hidden())?;
    let visible = g
        .store
        .attachment_visible(&sha256, &BlobSource::Court(court.clone()))
        .await
        .map_err(Problem::internal)?;
    if !visible {
        return Err(hidden());
    }
    let Some((file, bytes)) = g
        .blobs
        .open_blob(&sha256)
        .await
        .map_err(Problem::internal)?
    else {
        return Err(Problem::internal(format!(
            "attachment {sha256} is recorded but its file is missing"
        )));
    };
    let mut response = Body::from_stream(ReaderStream::with_capacity(file, CHUNK)).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes));
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{sha256}\"")) {
        h.insert(header::ETAG, etag);
    }
    Ok(response)
}

/// Whether this gateway holds an attachment (a peer asks before transferring it).
#[utoipa::path(
    head,
    path = "/federation/v1/attachments/{sha256}",
    tag = "federation",
    params(("sha256" = Sha256, Path, description = "SHA-256 of the bytes.")),
    responses((status = 200, description = "Held.", headers(("Content-Length" = u64, description = "Its size."))))
)]
pub(super) async fn peer_head(
    State(g): State<Arc<Gateway>>,
    Extension(chain): Extension<PeerCertificates>,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let peer = peers::authenticate(&g, &chain.0)?;
    let sha256 = named(&name)?;
    // Only a blob this peer delivered or was sent counts as held: to it, the others do
    // not exist (it sends the bytes, which proves it has them).
    let visible = g
        .store
        .attachment_visible(&sha256, &BlobSource::Gateway(peer.region))
        .await
        .map_err(Problem::internal)?;
    let blob = if visible {
        g.store
            .attachment(&sha256)
            .await
            .map_err(Problem::internal)?
    } else {
        None
    };
    match blob {
        Some(blob) => Ok((StatusCode::OK, [(header::CONTENT_LENGTH, blob.bytes)]).into_response()),
        None => Err(Problem::new(
            Code::NotFound,
            format!("the {} gateway does not hold attachment {sha256}", g.region),
        )),
    }
}
