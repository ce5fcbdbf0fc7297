//! The API references served by the gateway itself: `GET /openapi.json` on the court
//! listener (the court API's OpenAPI 3.1 document) and `GET /federation/openapi.json` on
//! the federation listener (the federation API's). They are the documents committed as
//! `docs/openapi.json` and `docs/openapi-federation.json`, generated once per process.
//!
//! Who may read them: whoever gets through the listener's handshake, which always takes a
//! client certificate (a court's or print centre's from the court CA; a partner gateway's
//! under an agreement's trust anchor). The routes ask for no particular identity beyond
//! that: the documents hold nothing secret (they are in the repository), and a court
//! system's developers generate clients from them with the certificate they test with.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::openapi;

fn served(cell: &'static OnceLock<Bytes>, make: fn() -> serde_json::Value) -> Response {
    let body = cell.get_or_init(|| Bytes::from(openapi::text(&make())));
    ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response()
}

/// This document: the court API as OpenAPI 3.1, equal to `docs/openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "reference",
    responses((status = 200, description = "The court API's OpenAPI 3.1 document (this one).", content_type = "application/json", body = Object))
)]
pub(super) async fn court_document() -> Response {
    static DOCUMENT: OnceLock<Bytes> = OnceLock::new();
    served(&DOCUMENT, openapi::court)
}

/// This document: the federation API as OpenAPI 3.1, equal to `docs/openapi-federation.json`.
#[utoipa::path(
    get,
    path = "/federation/openapi.json",
    tag = "reference",
    responses((status = 200, description = "The federation API's OpenAPI 3.1 document (this one).", content_type = "application/json", body = Object))
)]
pub(super) async fn federation_document() -> Response {
    static DOCUMENT: OnceLock<Bytes> = OnceLock::new();
    served(&DOCUMENT, openapi::federation)
}
