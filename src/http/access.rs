//! Every HTTP answer counted and timed, per listener, method, route template and status
//! (and problem code): `kuayu_http_requests_total`, `kuayu_http_request_duration_seconds`,
//! `kuayu_refusals_total`. A debug log line per answer names the same, never a path with
//! its ids or a query.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;

use super::Watch;
use super::problem::ProblemCode;

/// `app` with every answer counted for the listener `watch` names.
pub fn track(app: Router, watch: &Watch) -> Router {
    app.layer(middleware::from_fn_with_state(watch.clone(), answer))
}

async fn answer(State(watch): State<Watch>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    // Methods are the client's words: the known ones by name, any other as `other`.
    let method = match *req.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::POST => "POST",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::PATCH => "PATCH",
        axum::http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let code = response.extensions().get::<ProblemCode>().map(|c| c.0);
    let took = started.elapsed();
    watch
        .observer
        .metrics
        .http(watch.name, method, &route, status, code, took);
    tracing::debug!(
        listener = watch.name,
        method,
        route,
        status,
        code,
        ms = took.as_secs_f64() * 1000.0,
        "answered"
    );
    response
}
