//! Health for load balancers and metrics for Prometheus:
//!
//! | route | answer |
//! |---|---|
//! | `GET /healthz` | 200 `{"alive": true}`: the process answers HTTP |
//! | `GET /readyz` | 200 `{"ready": true, "checks": {...}}` when the database is reachable (its file still the one opened, readable and writable, and a read answers), an agreement is active and every listener is accepting; otherwise 503 with the same body saying which check failed |
//! | `GET /metrics` | 200 the Prometheus text format ([`crate::observe`] lists the names) |
//!
//! Where: on the admin listener (TLS with an administrator certificate, or the Unix
//! socket), always, with the admin API's authentication; and on the optional plain-HTTP
//! health listener (`[health]`), for load balancers and scrapers that cannot present a
//! client certificate, with `/metrics` there only if `metrics = true`. Not on the court or
//! federation listeners: their handshakes take client certificates a load balancer does
//! not have, and their APIs stay what their OpenAPI documents say.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::Watch;
use super::connections::Limits;
use super::problem::{method_not_allowed, not_found};
use crate::gateway::Gateway;

/// How long a readiness probe waits for the database.
pub const DATABASE_PROBE: Duration = Duration::from_secs(2);

/// One check of readiness.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Whether it passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// Whether the gateway is ready for traffic, and why (not).
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    /// Every check passed.
    pub ready: bool,
    /// `database`, `agreements`, `listeners`.
    pub checks: BTreeMap<&'static str, Check>,
}

/// Runs the readiness checks of `g` now.
pub async fn readiness(g: &Gateway) -> Readiness {
    let mut checks = BTreeMap::new();
    let database = match g.observer.database_file() {
        Err(why) => Check {
            ok: false,
            detail: why,
        },
        Ok(()) => {
            match tokio::time::timeout(DATABASE_PROBE, g.store.audit_entries(i64::MAX, 1)).await {
                Ok(Ok(_)) => Check {
                    ok: true,
                    detail: "reachable".into(),
                },
                Ok(Err(e)) => Check {
                    ok: false,
                    detail: format!("a read failed: {e}"),
                },
                Err(_) => Check {
                    ok: false,
                    detail: format!("no answer within {} s", DATABASE_PROBE.as_secs()),
                },
            }
        }
    };
    checks.insert("database", database);
    let active: Vec<String> = g
        .agreements
        .active(g.clock.now())
        .iter()
        .map(|a| format!("{} v{}", a.terms().id, a.terms().version))
        .collect();
    checks.insert(
        "agreements",
        Check {
            ok: !active.is_empty(),
            detail: if active.is_empty() {
                "no agreement is active".into()
            } else {
                format!("active: {}", active.join(", "))
            },
        },
    );
    let listeners = g.observer.listeners();
    let stopped: Vec<&str> = listeners
        .iter()
        .filter(|(_, accepting)| !**accepting)
        .map(|(name, _)| *name)
        .collect();
    let names: Vec<&str> = listeners.keys().copied().collect();
    checks.insert(
        "listeners",
        Check {
            ok: !listeners.is_empty() && stopped.is_empty(),
            detail: if listeners.is_empty() {
                "no listener is serving".into()
            } else if stopped.is_empty() {
                format!("accepting: {}", names.join(", "))
            } else {
                format!("not accepting: {}", stopped.join(", "))
            },
        },
    );
    Readiness {
        ready: checks.values().all(|c| c.ok),
        checks,
    }
}

/// `GET /healthz`.
pub async fn healthz() -> Response {
    no_store(StatusCode::OK, Json(json!({"alive": true})))
}

/// `GET /readyz`.
pub async fn readyz(State(g): State<Arc<Gateway>>) -> Response {
    let r = readiness(&g).await;
    let status = if r.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    no_store(status, Json(r))
}

/// `GET /metrics`.
pub async fn metrics(State(g): State<Arc<Gateway>>) -> Response {
    crate::observe::gauges::refresh(&g).await;
    let text = g.observer.metrics.render();
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response()
}

fn no_store(status: StatusCode, body: impl IntoResponse) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], body).into_response()
}

/// The health listener's router: `/healthz`, `/readyz`, and `/metrics` if `with_metrics`.
pub fn router(g: Arc<Gateway>, with_metrics: bool) -> Router {
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if with_metrics {
        app = app.route("/metrics", get(metrics));
    }
    app.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(g)
}

/// Serves `app` over plain HTTP (no TLS) on `listener`, with the connection discipline of
/// every listener, clients told apart by address.
pub async fn serve_plain(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: watch::Receiver<bool>,
    watch: Watch,
) {
    let listener = &listener;
    let accept = move || async move {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let _ = stream.set_nodelay(true);
                Some((stream, remote.ip().to_string(), http::Extensions::new()))
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed (health listener)");
                tokio::time::sleep(Duration::from_millis(50)).await;
                None
            }
        }
    };
    super::serve_accepted(accept, app, limits, shutdown, watch).await;
}
