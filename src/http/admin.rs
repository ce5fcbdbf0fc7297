//! The admin API, on its own listener: loopback by default (plain HTTP; the caller names
//! itself in `Kuayu-Admin`), or anywhere with TLS and an admin client certificate naming
//! `urn:kuayu:admin:<name>`.
//!
//! | route | answer |
//! |---|---|
//! | `PUT /admin/v1/agreements` (a signed, or partly signed, agreement) | 200 its summary |
//! | `GET /admin/v1/agreements` | 200 every version with its status |
//! | `GET /admin/v1/agreements/{id}` | 200 every version of `id`, with documents |
//! | `POST /admin/v1/agreements/{id}/revoke` `{"reason": …}` | 200 what was returned, which peers were told |
//! | `POST /admin/v1/agreements/simulate` `{"agreement": …, "days": 30}` | 200 the dry-run report |

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::PeerCertificates;
use super::problem::{JsonBody, method_not_allowed, not_found};
use crate::admin::{self, revoke, simulate};
use crate::agreement::Agreement;
use crate::gateway::Gateway;
use crate::ids::AgreementId;
use crate::problem::{Code, Problem};
use crate::tls;

/// Largest agreement document the admin API reads.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// The admin router.
pub fn router(g: Arc<Gateway>) -> Router {
    Router::new()
        .route("/admin/v1/agreements", put(load).get(list))
        .route("/admin/v1/agreements/simulate", post(dry_run))
        .route("/admin/v1/agreements/{id}", get(show))
        .route("/admin/v1/agreements/{id}/revoke", post(revoke_one))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(g)
}

/// The administrator making a call, as the audit log names it: `admin:<name>`.
pub struct AdminIdentity(pub String);

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
}

impl<S: Send + Sync> FromRequestParts<S> for AdminIdentity {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        if let Some(leaf) = parts
            .extensions
            .get::<PeerCertificates>()
            .and_then(|p| p.0.first().cloned())
        {
            return match tls::participant(&leaf) {
                Some(tls::Participant::Admin(name)) => Ok(AdminIdentity(format!("admin:{name}"))),
                _ => Err(Problem::new(
                    Code::Unauthenticated,
                    "the client certificate names no administrator (urn:kuayu:admin:<name>)",
                )),
            };
        }
        let name = parts
            .headers
            .get("kuayu-admin")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !valid_name(name) {
            return Err(Problem::new(
                Code::Unauthenticated,
                "name yourself in the Kuayu-Admin header (1 to 64 of A-Z a-z 0-9 . _ - @); it goes into the audit log",
            ));
        }
        Ok(AdminIdentity(format!("admin:{name}@loopback")))
    }
}

async fn load(
    State(g): State<Arc<Gateway>>,
    AdminIdentity(actor): AdminIdentity,
    JsonBody(doc): JsonBody<Agreement>,
) -> Result<Json<admin::Summary>, Problem> {
    Ok(Json(admin::load(&g, doc, &actor).await?))
}

async fn list(
    State(g): State<Arc<Gateway>>,
    AdminIdentity(_): AdminIdentity,
) -> Json<Vec<admin::Summary>> {
    Json(admin::list(&g))
}

fn agreement_id(text: &str) -> Result<AgreementId, Problem> {
    AgreementId::parse(text)
        .map_err(|e| Problem::new(Code::NotFound, format!("no such agreement: {e}")))
}

async fn show(
    State(g): State<Arc<Gateway>>,
    AdminIdentity(_): AdminIdentity,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let id = agreement_id(&id)?;
    let versions = admin::versions(&g, &id);
    if versions.is_empty() {
        return Err(Problem::new(
            Code::NotFound,
            format!("no agreement {id} is loaded here"),
        ));
    }
    let versions: Vec<Value> = versions
        .into_iter()
        .map(|(s, d)| json!({"summary": s, "document": d}))
        .collect();
    Ok(Json(json!({"id": id, "versions": versions})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    reason: String,
}

async fn revoke_one(
    State(g): State<Arc<Gateway>>,
    AdminIdentity(actor): AdminIdentity,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RevokeBody>,
) -> Result<Json<revoke::Report>, Problem> {
    if body.reason.trim().is_empty() {
        return Err(Problem::new(
            Code::BadRequest,
            "a revocation needs a reason; the courts whose work is returned read it",
        ));
    }
    Ok(Json(
        revoke::revoke(&g, &agreement_id(&id)?, &actor, body.reason.trim()).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SimulateBody {
    agreement: Agreement,
    #[serde(default = "thirty")]
    days: u32,
}

fn thirty() -> u32 {
    30
}

async fn dry_run(
    State(g): State<Arc<Gateway>>,
    AdminIdentity(_): AdminIdentity,
    JsonBody(body): JsonBody<SimulateBody>,
) -> Result<Json<simulate::Report>, Problem> {
    simulate::against_store(
        &body.agreement,
        &g.schemas,
        g.store.as_ref(),
        body.days,
        g.clock.now(),
    )
    .await
    .map(Json)
    .map_err(|e| Problem::new(Code::BadRequest, format!("cannot run the candidate: {e}")))
}
