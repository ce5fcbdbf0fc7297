//! RFC 9457 problem details: the one error type every refusal leaves a gateway as.
//!
//! Each [`Code`] is stable (partners and court systems match on it) and carries its
//! HTTP status. `detail` is written for a person who has to fix the request.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::schema::Violation;

mod code;
pub use code::Code;

/// An RFC 9457 problem document, as sent and as received (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// `urn:kuayu:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Fixed summary of the code.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong with this request, for a person.
    pub detail: String,
    /// Stable machine code, e.g. `schema_violation`.
    #[schema(schema_with = code_schema)]
    pub code: String,
    /// For `schema_violation`: each failing field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Violation>,
    /// For `illegal_transition`: the events that are legal from the request's state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
    /// For `policy_denied`: the policies that decided it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// For `duplicate_key`: the JSON pointer (RFC 6901) of the repeated member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// For `rate_limited`, `agreement_pending` and `unavailable`: seconds to wait (also the `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// The `code` member in the OpenAPI documents: every code, with its status and meaning.
fn code_schema() -> utoipa::openapi::schema::Object {
    let mut table = String::from(
        "The stable machine code of the refusal. Match on it, not on `title` or `detail`.\n\n| code | status | when |\n|---|---|---|\n",
    );
    for c in Code::ALL {
        table.push_str(&format!("| `{c}` | {} | {} |\n", c.status(), c.when()));
    }
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(Code::ALL.iter().map(|c| c.as_str())))
        .description(Some(table))
        .build()
}

impl Problem {
    /// Refuses a batch of `count` `items` (as "receipts") unless it carries 1 to `max`.
    pub fn batch_of(count: usize, max: usize, items: &str) -> Result<(), Problem> {
        if count == 0 || count > max {
            return Err(Problem::new(
                Code::BadRequest,
                format!("a batch carries 1 to {max} {items}, not {count}"),
            ));
        }
        Ok(())
    }

    /// A problem with `code` and a human `detail`.
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Problem {
            type_uri: format!("urn:kuayu:problem:{code}"),
            title: code.title().to_owned(),
            status: code.status(),
            detail: detail.into(),
            code: code.as_str().to_owned(),
            errors: Vec::new(),
            allowed: Vec::new(),
            policies: Vec::new(),
            pointer: None,
            retry_after: None,
        }
    }

    /// A `duplicate_key` naming the pointer of the repeated member.
    pub fn duplicate_key(what: &str, pointer: String, key: &str) -> Self {
        let mut p = Problem::new(
            Code::DuplicateKey,
            format!(
                "{what} has the key {key:?} twice in one object, at {}; send each key once",
                if pointer.is_empty() {
                    "(root)"
                } else {
                    &pointer
                }
            ),
        );
        p.pointer = Some(pointer);
        p
    }

    /// A `schema_violation` listing each failing field.
    pub fn schema_violation(schema: &str, errors: Vec<Violation>) -> Self {
        let fields: Vec<&str> = errors.iter().map(|v| v.pointer.as_str()).collect();
        let mut p = Problem::new(
            Code::SchemaViolation,
            format!(
                "the payload does not satisfy schema {schema}: {} rule(s) fail, at {}",
                errors.len(),
                fields
                    .iter()
                    .map(|f| if f.is_empty() { "(root)" } else { f })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        p.errors = errors;
        p
    }

    /// An internal error: the caller learns only that it happened; the cause is logged here.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Problem::new(
            Code::Internal,
            "the gateway failed to process this request; it has been logged",
        )
    }

    /// An `illegal_transition` for a request of `family` (its lifecycle refused the step).
    pub fn illegal(
        family: crate::ids::Family,
        request: &crate::ids::MessageId,
        e: crate::workflow::lifecycle::Illegal,
    ) -> Self {
        Self::illegal_for(&format!("{family} request {request}"), e)
    }

    /// `illegal_transition` for `subject` (a request, or one addressee of it).
    pub fn illegal_for(subject: &str, e: crate::workflow::lifecycle::Illegal) -> Self {
        let allowed = if e.allowed.is_empty() {
            "nothing: it is finished".to_owned()
        } else {
            e.allowed.join(", ")
        };
        let mut p = Problem::new(
            Code::IllegalTransition,
            format!(
                "{subject} is {}; {} is not a legal next step (allowed: {allowed})",
                e.state, e.event
            ),
        );
        p.allowed = e.allowed.iter().map(|a| (*a).to_owned()).collect();
        p
    }

    /// Whether the code is `code`.
    pub fn is(&self, code: Code) -> bool {
        self.code == code.as_str()
    }

    /// Whether trying again later may succeed (server errors, rate limits, timeouts, an
    /// attachment the receiver does not hold yet: the sender transfers it first, and an
    /// agreement version the receiver has not put in force yet).
    pub fn retryable(&self) -> bool {
        self.status >= 500
            || self.status == 429
            || self.status == 408
            || self.is(Code::AttachmentMissing)
            || self.is(Code::AgreementPending)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.detail)
    }
}

impl std::error::Error for Problem {}
