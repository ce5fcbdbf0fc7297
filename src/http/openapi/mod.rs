//! The API reference as OpenAPI 3.1, generated from the code: the routes and their
//! handlers' annotations, the wire types' `ToSchema`, and the problem codes each route
//! can answer with ([`PROBLEMS`]). Two documents: the court API ([`court()`]) and the
//! federation API ([`federation()`]). `docs/openapi.json` and `docs/openapi-federation.json`
//! are these documents, committed; a test fails when they differ from what the code
//! generates (`KUAYU_WRITE_OPENAPI=1 cargo test --test it openapi` rewrites them).

use serde_json::{Value, json};
use utoipa::OpenApi;

use super::{attachments, bundle, court, federation, inbox, print_jobs, reference};
use crate::problem::Code;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kuayu court API",
        version = "1",
        description = "The API a court system (and a print-and-mail centre) uses at its own region's kuayu gateway: submit requests to courts of another region, read its inbox, report on the work it was asked to do, upload and download attachments. HTTPS with a client certificate issued by the region's court CA (`urn:kuayu:court:<code>` or `urn:kuayu:printcentre:<code>`). Every refusal is RFC 9457 `application/problem+json` with a stable `code`. What each signature and digest covers: docs/SIGNATURES.md. Walk-through and answer shapes: docs/API.md.",
        license(name = "Apache-2.0")
    ),
    paths(
        court::submit,
        court::list,
        court::show,
        court::update,
        court::certificate,
        bundle::bundle,
        inbox::inbox,
        inbox::acknowledge,
        court::agreements,
        attachments::court_put,
        attachments::court_get,
        print_jobs::print_job,
        print_jobs::print_event,
        reference::court_document,
    ),
    components(schemas(
        crate::problem::Problem,
        crate::receipt::ReceiptFields,
        inbox::InboxOrderParam
    )),
    tags(
        (name = "requests", description = "Requests this court sent or was asked to do, and the updates on them."),
        (name = "inbox", description = "What arrived for this court."),
        (name = "attachments", description = "Files, named by their SHA-256, uploaded before the message that lists them."),
        (name = "print jobs", description = "Print-and-mail centres report on their jobs."),
        (name = "agreements", description = "The signed agreements in force: keys, schemas, limits."),
        (name = "reference", description = "This document, served by the gateway.")
    )
)]
struct CourtApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kuayu federation API",
        version = "1",
        description = "The API one region's kuayu gateway offers the gateways of its partner regions: relayed envelopes, attachments, revocation notices. Mutual TLS: the client certificate must be issued under the trust anchor the agreement gives the sender's region. Every refusal is RFC 9457 `application/problem+json` with a stable `code`; a sender retries `agreement_pending`, `attachment_missing`, `rate_limited`, `request_timeout` and 5xx answers. Signatures: docs/SIGNATURES.md.",
        license(name = "Apache-2.0")
    ),
    paths(
        federation::receive,
        federation::revocation,
        federation::receipt,
        federation::receipt_batch,
        federation::receive_batch,
        federation::ping,
        attachments::peer_head,
        attachments::peer_put,
        reference::federation_document,
    ),
    components(schemas(crate::problem::Problem)),
    tags(
        (name = "federation", description = "Gateway to gateway."),
        (name = "reference", description = "This document, served by the gateway.")
    )
)]
struct FederationApi;

mod problems;
pub use problems::PROBLEMS;

/// Examples from a real run (`docs/examples/`, written by the `api_examples` test):
/// (method, path, `request` or the answer's status, JSON).
const EXAMPLES: &[(&str, &str, &str, &str)] = &[
    (
        "post",
        "/v1/requests",
        "request",
        include_str!("../../../docs/examples/submit-request.json"),
    ),
    (
        "post",
        "/v1/requests",
        "202",
        include_str!("../../../docs/examples/submit-202.json"),
    ),
    (
        "post",
        "/v1/requests",
        "422",
        include_str!("../../../docs/examples/problem-422-schema-violation.json"),
    ),
    (
        "get",
        "/v1/requests",
        "200",
        include_str!("../../../docs/examples/request-list.json"),
    ),
    (
        "get",
        "/v1/requests/{id}",
        "200",
        include_str!("../../../docs/examples/request-completed.json"),
    ),
    (
        "post",
        "/v1/requests/{id}/updates",
        "request",
        include_str!("../../../docs/examples/update-request.json"),
    ),
    (
        "post",
        "/v1/requests/{id}/updates",
        "202",
        include_str!("../../../docs/examples/update-202.json"),
    ),
    (
        "post",
        "/v1/requests/{id}/updates",
        "409",
        include_str!("../../../docs/examples/problem-409-illegal-transition.json"),
    ),
    (
        "get",
        "/v1/inbox",
        "200",
        include_str!("../../../docs/examples/inbox-executing-court.json"),
    ),
    (
        "get",
        "/v1/agreements",
        "200",
        include_str!("../../../docs/examples/agreements.json"),
    ),
    (
        "put",
        "/v1/attachments/{sha256}",
        "201",
        include_str!("../../../docs/examples/put-attachment-201.json"),
    ),
    (
        "get",
        "/v1/print-jobs/{id}",
        "200",
        include_str!("../../../docs/examples/print-job.json"),
    ),
    (
        "post",
        "/v1/print-jobs/{id}/events",
        "request",
        include_str!("../../../docs/examples/print-event-request.json"),
    ),
    (
        "post",
        "/v1/print-jobs/{id}/events",
        "202",
        include_str!("../../../docs/examples/print-event-202.json"),
    ),
    (
        "post",
        "/federation/v1/messages",
        "request",
        include_str!("../../../docs/examples/federation-envelope.json"),
    ),
    (
        "post",
        "/federation/v1/messages",
        "200",
        include_str!("../../../docs/examples/federation-relay-200.json"),
    ),
];

/// The court API document, as JSON.
pub fn court() -> Value {
    finish(
        CourtApi::openapi(),
        "courtCertificate",
        "A client certificate from the region's court CA naming `urn:kuayu:court:<code>` (a court) or `urn:kuayu:printcentre:<code>` (a print centre). The gateway knows the caller only by it.",
    )
}

/// The federation API document, as JSON.
pub fn federation() -> Value {
    finish(
        FederationApi::openapi(),
        "gatewayCertificate",
        "The calling gateway's certificate naming `urn:kuayu:gateway:<region>`, issued under the trust anchor the agreement gives that region.",
    )
}

/// Adds what the annotations do not say: the client-certificate security scheme, and each
/// operation's problem answers grouped by status, with their codes.
fn finish(doc: utoipa::openapi::OpenApi, scheme: &str, how: &str) -> Value {
    // Invariant: an OpenAPI document built from plain data always serialises.
    let mut doc = serde_json::to_value(doc).expect("an OpenAPI document serialises");
    doc["components"]["securitySchemes"] =
        json!({ scheme: {"type": "mutualTLS", "description": how} });
    doc["security"] = json!([{ scheme: [] }]);
    let paths = doc["paths"]
        .as_object_mut()
        .map(|p| p.keys().cloned().collect::<Vec<_>>());
    for path in paths.unwrap_or_default() {
        for method in ["get", "put", "post", "head"] {
            // (Indexing a missing member would insert a null: look first.)
            let Some(op) = doc["paths"][&path].get_mut(method) else {
                continue;
            };
            let codes = PROBLEMS
                .iter()
                .find(|(m, p, _)| *m == method && *p == path)
                .map(|(_, _, codes)| codes.to_vec())
                .unwrap_or_default();
            for (status, codes) in by_status(&codes) {
                let list: Vec<String> = codes
                    .iter()
                    .map(|c| format!("`{c}` ({})", c.when()))
                    .collect();
                op["responses"][status.to_string()] = json!({
                    "description": list.join("; "),
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                });
            }
            for (_, _, at, text) in EXAMPLES
                .iter()
                .filter(|(m, p, ..)| *m == method && *p == path)
            {
                // Invariant: the examples are JSON written by a test, and checked by it.
                let example: Value = serde_json::from_str(text).expect("an example is JSON");
                let media = if *at == "request" {
                    &mut op["requestBody"]["content"]
                } else {
                    &mut op["responses"][*at]["content"]
                };
                if let Some(media) = media.as_object_mut() {
                    for (_, m) in media.iter_mut() {
                        m["example"] = example.clone();
                    }
                }
            }
        }
    }
    doc
}

/// `codes` and `internal`, grouped by HTTP status.
fn by_status(codes: &[Code]) -> Vec<(u16, Vec<Code>)> {
    let mut out: Vec<(u16, Vec<Code>)> = Vec::new();
    for c in codes.iter().copied().chain([Code::Internal]) {
        match out.iter_mut().find(|(s, _)| *s == c.status()) {
            Some((_, list)) => list.push(c),
            None => out.push((c.status(), vec![c])),
        }
    }
    out.sort_by_key(|(s, _)| *s);
    out
}

/// A document as the committed file has it: pretty JSON with a final newline.
pub fn text(doc: &Value) -> String {
    // Invariant: a JSON value always serialises.
    let mut text = serde_json::to_string_pretty(doc).expect("JSON serialises");
    text.push('\n');
    text
}
