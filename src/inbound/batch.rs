//! Several relayed messages in one request (`POST /federation/v1/messages/batch`): each
//! checked and committed as the single route does it ([`super::receive`]), all at once,
//! so that their commits share one of the store's group commits; each answered on its
//! own, in the order sent.

use rustls_pki_types::CertificateDer;
use serde_json::Value;

use crate::api::{MessageBatch, MessageResult, MessageResults};
use crate::gateway::Gateway;
use crate::observe::journey::{self, Direction};
use crate::problem::{Code, Problem};

/// Most messages in one batch.
pub const BATCH_MAX: usize = 64;

/// Takes a peer gateway's batch of up to [`BATCH_MAX`] messages. Each is checked and
/// committed as [`super::receive`] does one, under the trace its `traceparent` names, and
/// gets its own result: the relay receipt, or the problem the single route would have
/// answered. A refused message leaves the others as they are. Only a caller that is not a
/// peer gateway, or a body that is not a batch (an item that is not an envelope
/// included), is refused whole.
pub async fn receive_batch(
    g: &Gateway,
    chain: &[CertificateDer<'static>],
    body: Value,
) -> Result<MessageResults, Problem> {
    crate::attachments::peers::authenticate(g, chain)?;
    let batch: MessageBatch = serde_json::from_value(body).map_err(|e| {
        Problem::new(
            Code::BadRequest,
            format!(
                "the body is not a batch of messages (`{{\"messages\": [{{\"envelope\": …}}]}}`): {e}"
            ),
        )
    })?;
    let count = batch.messages.len();
    if count == 0 || count > BATCH_MAX {
        return Err(Problem::new(
            Code::BadRequest,
            format!("a batch carries 1 to {BATCH_MAX} messages, not {count}"),
        ));
    }
    // A batch whose items are not all envelopes is malformed: refused whole.
    let mut parsed = Vec::with_capacity(count);
    for (place, m) in batch.messages.into_iter().enumerate() {
        let unverified = crate::pipeline::parse(m.envelope).map_err(|p| {
            Problem::new(
                Code::BadRequest,
                format!(
                    "messages[{place}].envelope is not an envelope: {}",
                    p.detail
                ),
            )
        })?;
        parsed.push((unverified, m.traceparent));
    }
    // Polled together, so the commits of those that pass reach the committer together.
    let work = parsed.into_iter().map(|(unverified, traceparent)| {
        let trace = crate::observe::trace::parse(traceparent.as_deref());
        let one = super::receive_parsed(g, chain, unverified);
        journey::follow(&g.observer.metrics, Direction::Inbound, trace, one)
    });
    let results = futures_util::future::join_all(work)
        .await
        .into_iter()
        .map(|answer| match answer {
            Ok(answer) => MessageResult::Taken(answer),
            Err(problem) => MessageResult::Refused { problem },
        })
        .collect();
    Ok(MessageResults { results })
}
