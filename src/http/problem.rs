//! Problems as HTTP responses, and the JSON body extractor that turns every malformed
//! body into a problem instead of a plain-text rejection.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::json::StrictJsonError;
use crate::problem::{Code, Problem};

/// The media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The problem code of an answer, as a response extension (for the metrics).
#[derive(Debug, Clone, Copy)]
pub struct ProblemCode(pub &'static str);

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
            .extensions_mut()
            .insert(ProblemCode(crate::observe::journey::static_code(&self)));
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A JSON request body parsed strictly into `T`; any failure is a problem (`bad_request`,
/// `duplicate_key` with the pointer, `request_timeout` past the listener's deadline, or
/// `payload_too_large` over the body limit).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json_type {
            return Err(Problem::new(
                Code::BadRequest,
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let deadline = req
            .extensions()
            .get::<super::deadline::RequestDeadline>()
            .copied();
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if let Some(d) = deadline.filter(|d| d.passed()) {
                d.problem(None)
            } else if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(
                    Code::PayloadTooLarge,
                    format!("the request body is over this gateway's limit: {e}"),
                )
            } else {
                Problem::new(
                    Code::BadRequest,
                    format!("cannot read the request body: {e}"),
                )
            }
        })?;
        let value = crate::json::from_slice(&bytes).map_err(|e| match e {
            StrictJsonError::DuplicateKey { pointer, key } => {
                Problem::duplicate_key("the JSON body", pointer, &key)
            }
            StrictJsonError::Syntax(e) => Problem::new(
                Code::BadRequest,
                format!("the body is not valid JSON of the expected form: {e}"),
            ),
        })?;
        Ok(JsonBody(value))
    }
}

/// The answer for paths that do not exist.
pub async fn not_found() -> Problem {
    Problem::new(
        Code::NotFound,
        "there is no such path on this API; see the README for the routes",
    )
}

/// The answer for methods a path does not take.
pub async fn method_not_allowed() -> Problem {
    Problem::new(
        Code::MethodNotAllowed,
        "this path does not take that method",
    )
}
