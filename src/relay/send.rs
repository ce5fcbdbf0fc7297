//! One attempt to send a message: where it goes ([`prepare`]), what the peer answered
//! ([`send`], or a batch's result), and what that means for it ([`judge`]).

use std::time::Duration;

use crate::api::RelayAnswer;
use crate::envelope::Envelope;
use crate::gateway::Gateway;
use crate::pipeline;
use crate::problem::{Code, Problem};
use crate::receipt::Hop;
use crate::store::OutboxItem;
use crate::workflow;

use super::attachments;
use super::deliver::Outcome;

/// Where and how a message goes: the peer's client under the agreement the message was
/// sealed under, its federation API, and the key its relay receipts verify with.
pub(super) struct Route {
    /// The agreement version (one client each).
    pub agreement: crate::ids::Sha256,
    pub client: reqwest::Client,
    /// The peer's federation API, without a trailing `/`.
    pub base: String,
    /// The peer's message key.
    pub key: crate::crypto::PublicKey,
}

/// Whether `e` may go, and where: its route, or the outcome that ends the attempt before
/// anything is sent (expired, its agreement gone, the peer unreachable, its attachments
/// not transferred). The attachments go first: the peer refuses an envelope whose blobs
/// it does not hold.
pub(super) async fn prepare(
    g: &Gateway,
    item: &OutboxItem,
    e: &Envelope,
) -> Result<Route, Outcome> {
    if g.clock.now() > e.expires_at {
        return Err(Outcome::Dead {
            state: workflow::FAILED,
            event: "expired",
            detail: serde_json::json!({"reason": format!("not delivered before it expired at {}", crate::clock::rfc3339(e.expires_at))}),
        });
    }
    // The version the message was sealed under, as long as it is not revoked or expired.
    let agreement = match pipeline::resolve_accepted(g, &e.agreement.sha256) {
        Ok(a) => a,
        Err(problem) => {
            let state = if problem.is(Code::AgreementRevoked) {
                workflow::RETURNED
            } else {
                workflow::FAILED
            };
            return Err(Outcome::Dead {
                state,
                event: "unsendable",
                detail: serde_json::to_value(&problem).unwrap_or_default(),
            });
        }
    };
    let Some(party) = agreement.party(&item.peer) else {
        return Err(Outcome::Dead {
            state: workflow::FAILED,
            event: "unsendable",
            detail: serde_json::json!({"reason": format!("{} is not a party to agreement {}", item.peer, e.agreement.id)}),
        });
    };
    let timeout = Duration::from_millis(g.relay.request_timeout_ms);
    let client = g
        .peers
        .get(&agreement, &item.peer, timeout)
        .map_err(Outcome::Retry)?;
    let base = party.federation_endpoint.trim_end_matches('/').to_owned();
    if let Err(why) = attachments::ensure_held(g, &client, &base, &item.peer, e).await {
        return Err(Outcome::Retry(format!("attachments: {why}")));
    }
    Ok(Route {
        agreement: agreement.digest,
        client,
        base,
        key: party.message_key,
    })
}

/// What a peer answered for one message, before it is judged.
pub(super) enum Answer {
    /// It committed the message: its relay receipt (not yet checked).
    Receipt(RelayAnswer),
    /// It refused the message.
    Refused(Problem),
    /// It could not be reached, or its answer not read.
    Unreachable(String),
    /// An answer that is neither (its HTTP status, and why).
    Unreadable(reqwest::StatusCode, String),
}

/// Sends `text` (the stored envelope) to the peer's `POST /federation/v1/messages`, with
/// its trace as a transport header outside what is signed.
pub(super) async fn send(to: &Route, item: &OutboxItem, text: String) -> Answer {
    let url = format!("{}/federation/v1/messages", to.base);
    let mut request = to
        .client
        .post(&url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(text);
    if let Some(trace) = &item.trace_id {
        request = request.header(
            crate::observe::trace::HEADER,
            crate::observe::trace::traceparent(trace),
        );
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(err) => {
            return Answer::Unreachable(format!("{url}: {}", crate::client::error_text(&err)));
        }
    };
    let status = response.status();
    let body = match crate::peers::read_answer(response, crate::peers::MAX_ANSWER).await {
        Ok(b) => b,
        Err(err) => return Answer::Unreachable(format!("{url}: reading the answer: {err}")),
    };
    if status.is_success() {
        return match crate::json::from_slice(&body) {
            Ok(answer) => Answer::Receipt(answer),
            Err(err) => Answer::Unreadable(
                status,
                format!("{url}: the answer is not a relay receipt: {err}"),
            ),
        };
    }
    match crate::json::from_slice::<Problem>(&body) {
        Ok(problem) => Answer::Refused(problem),
        Err(_) => Answer::Unreadable(
            status,
            format!("{url}: HTTP {status} without a problem document"),
        ),
    }
}

/// Judges the peer's answer for `item`: delivered only with a relay receipt that verifies
/// with the peer's message key and names this message and digest.
pub(super) async fn judge(
    g: &Gateway,
    item: &OutboxItem,
    e: &Envelope,
    to: &Route,
    answer: Answer,
) -> Outcome {
    match answer {
        Answer::Receipt(answer) => {
            let r = &answer.receipt;
            let genuine = r.hop == Hop::Relay
                && r.issuer == item.peer
                && r.message_id == item.message_id
                && r.envelope_sha256 == item.digest
                && r.verify(&to.key);
            if genuine {
                Outcome::Delivered(answer.receipt)
            } else {
                Outcome::Later(
                    format!(
                        "{}: the relay receipt does not verify or does not match the message",
                        to.base
                    ),
                    None,
                )
            }
        }
        Answer::Refused(problem) if !problem.retryable() => Outcome::Dead {
            state: if problem.is(Code::AgreementRevoked) {
                workflow::RETURNED
            } else {
                workflow::REJECTED
            },
            event: "rejected",
            detail: serde_json::to_value(&problem).unwrap_or_default(),
        },
        Answer::Refused(problem) => {
            if problem.is(Code::AttachmentMissing) {
                attachments::forget(g, &item.peer, e).await;
            }
            // Unavailable is the peer as a whole; anything else concerns this message.
            if problem.is(Code::Unavailable) {
                Outcome::Retry(problem.to_string())
            } else {
                Outcome::Later(problem.to_string(), problem.retry_after)
            }
        }
        Answer::Unreachable(error) => Outcome::Retry(error),
        Answer::Unreadable(status, error) => match status.as_u16() {
            502..=504 => Outcome::Retry(error),
            _ => Outcome::Later(error, None),
        },
    }
}
