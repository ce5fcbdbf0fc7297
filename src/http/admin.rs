//! The admin API, never unauthenticated: on a TLS listener (an administrator client
//! certificate naming `urn:kuayu:admin:<name>`) and/or a Unix domain socket (the kernel
//! names the connecting user; the socket's file mode says who may connect). Every action
//! that changes something is audited with the administrator's identity.
//!
//! | route | answer |
//! |---|---|
//! | `PUT /admin/v1/agreements` (a signed, or partly signed, agreement) | 200 its summary |
//! | `GET /admin/v1/agreements` | 200 every version with its status |
//! | `GET /admin/v1/agreements/{id}` | 200 every version of `id`, with documents |
//! | `POST /admin/v1/agreements/{id}/revoke` `{"reason": …}` | 200 what was returned, which peers were told |
//! | `POST /admin/v1/agreements/simulate` `{"agreement": …, "days": 30}` | 200 the dry-run report |
//! | `POST /admin/v1/tls/reload` | 200 the files read: certificates, keys, CA files, revocation lists |
//! | `GET /healthz`, `GET /readyz`, `GET /metrics` | health and metrics: see [`super::health`] |
//! | `GET /admin/dashboard`, `GET /admin/dashboard/requests/{id}` | the supervision dashboard (HTML): see [`crate::dashboard`] |

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::health;
use super::problem::{JsonBody, method_not_allowed, not_found};
use super::{LocalUser, PeerCertificates};
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
        .route("/admin/v1/tls/reload", post(reload_tls))
        // Health and metrics, for administrators (the health listener serves them
        // without a certificate, where configured).
        .route("/healthz", get(|_: AdminIdentity| health::healthz()))
        .route(
            "/readyz",
            get(|_: AdminIdentity, g: State<Arc<Gateway>>| health::readyz(g)),
        )
        .route(
            "/metrics",
            get(|_: AdminIdentity, g: State<Arc<Gateway>>| health::metrics(g)),
        )
        // The supervision dashboard (HTML), with the same authentication.
        .merge(crate::dashboard::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(g)
}

/// The administrator making a call, as the audit log names it: `admin:<name>` from an
/// administrator certificate, or `admin:unix:<user>` for the operating-system user that
/// connected to the admin socket. There is no other way in: no header names a caller.
pub struct AdminIdentity(pub String);

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
        if let Some(user) = parts.extensions.get::<LocalUser>() {
            return Ok(AdminIdentity(format!("admin:unix:{}", user_name(user.uid))));
        }
        Err(Problem::new(
            Code::Unauthenticated,
            "the admin API takes an administrator certificate, or a call on its Unix domain socket",
        ))
    }
}

/// The name of user `uid` from /etc/passwd, with the id (`alice(1000)`), or the id alone.
fn user_name(uid: u32) -> String {
    let name = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                (fields.nth(1)? == uid.to_string()).then(|| name.to_owned())
            })
        });
    match name {
        Some(name) => format!("{name}({uid})"),
        None => format!("uid{uid}"),
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

async fn reload_tls(
    State(g): State<Arc<Gateway>>,
    AdminIdentity(actor): AdminIdentity,
) -> Result<Json<Value>, Problem> {
    let outcome = g.reload_tls();
    let detail = match &outcome {
        Ok(report) => json!({"files": report.files, "crls": report.crls}),
        Err(why) => json!({"error": why}),
    };
    g.store
        .record_admin_action(&actor, "tls.reload", "tls", &detail, g.clock.now())
        .await
        .map_err(Problem::internal)?;
    match outcome {
        Ok(report) => Ok(Json(
            json!({"reloaded": true, "files": report.files, "crls": report.crls}),
        )),
        Err(why) => Err(Problem::new(
            Code::BadRequest,
            format!("the TLS files were not reloaded (the previous ones stay in force): {why}"),
        )),
    }
}
