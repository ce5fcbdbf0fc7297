//! One trip ([`super::trips`]): its messages go to their peer in one request
//! (`POST /federation/v1/messages/batch`), so that the peer checks them together and
//! commits them in one of its group commits, and their outcomes are recorded here
//! together, in one of this store's. An envelope over [`ALONE_BYTES`] goes on its own,
//! and so does a message alone in its trip.
//!
//! A peer that answers the batch route 404 as a whole runs a kuayu from before it (the
//! route itself answers a message it does not know in that message's result): it gets
//! each message on its own route, and for [`SINGLES_FOR`] only so. A batch refused whole
//! as malformed (400) or too large (413) is sent again one by one, so that each message
//! gets its own answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tracing::Instrument;

use super::breaker::Breakers;
use super::deliver::{self, load, record, unreadable};
use super::send::{self, Answer, Route};
use super::slots::Slots;
use crate::api::{MessageResult, MessageResults};
use crate::envelope::Envelope;
use crate::gateway::Gateway;
use crate::ids::RegionId;
use crate::problem::Problem;
use crate::store::OutboxItem;

/// An envelope longer than this goes on its own (a trip stays well under the route's
/// body limit, [`crate::http::federation::MAX_BODY`]).
pub(super) const ALONE_BYTES: usize = 128 * 1024;
/// How long a peer without the batch route gets messages one by one before it is asked
/// again.
pub(super) const SINGLES_FOR: Duration = Duration::from_secs(600);

/// The peers that answered the batch route 404, and when.
#[derive(Default)]
pub struct Singles(Mutex<HashMap<RegionId, Instant>>);

impl Singles {
    fn only(&self, peer: &RegionId) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(peer) {
            Some(at) if at.elapsed() < SINGLES_FOR => true,
            Some(_) => {
                map.remove(peer);
                false
            }
            None => false,
        }
    }

    fn mark(&self, peer: &RegionId) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(peer.clone(), Instant::now());
    }
}

/// A message ready to go.
struct Ready {
    item: OutboxItem,
    envelope: Arc<Envelope>,
    text: String,
    route: Route,
}

/// Delivers a trip (items to one peer), every log line of an item under its span
/// ([`deliver::span`]), and records each outcome, the records together. For each item,
/// its outbox position and whether the relay must read the outbox again (see
/// [`super::wake`]): `false` only when the peer acknowledged it, that was recorded, and
/// no other item of its request is pending.
pub(super) async fn deliver(
    g: &Gateway,
    breakers: &Breakers,
    slots: &Slots,
    singles: &Singles,
    items: Vec<OutboxItem>,
) -> Vec<(i64, bool)> {
    let mut ended = Vec::with_capacity(items.len());
    let mut unread = Vec::new();
    let mut ready: Vec<Ready> = Vec::with_capacity(items.len());
    for item in items {
        let span = deliver::span(&item);
        match load(g, &item).instrument(span.clone()).await {
            None => unread.push((item.seq, true)),
            Some((_, None)) => ended.push((item, None, unreadable())),
            Some((text, Some(envelope))) => {
                match send::prepare(g, &item, &envelope).instrument(span).await {
                    Err(outcome) => ended.push((item, Some(envelope), outcome)),
                    Ok(route) => ready.push(Ready {
                        item,
                        envelope,
                        text,
                        route,
                    }),
                }
            }
        }
    }
    // One request for each agreement version (each has its own client).
    let mut answered: Vec<(Ready, Answer)> = Vec::with_capacity(ready.len());
    while let Some(first) = ready.first() {
        let agreement = first.route.agreement;
        let (group, rest): (Vec<Ready>, Vec<Ready>) = ready
            .into_iter()
            .partition(|r| r.route.agreement == agreement);
        ready = rest;
        answered.extend(send_group(singles, group).await);
    }
    let judged = answered.into_iter().map(|(r, answer)| async move {
        let span = deliver::span(&r.item);
        let outcome = send::judge(g, &r.item, &r.envelope, &r.route, answer)
            .instrument(span)
            .await;
        (r.item, Some(r.envelope), outcome)
    });
    ended.extend(join_all(judged).await);
    let records = ended
        .into_iter()
        .map(|(item, envelope, outcome)| async move {
            let (seq, span) = (item.seq, deliver::span(&item));
            let recorded = record(g, breakers, slots, item, envelope.as_deref(), outcome);
            (seq, recorded.instrument(span).await)
        });
    let mut done = join_all(records).await;
    done.extend(unread);
    done
}

/// Sends `group` (one peer, one agreement version): in one batch, or one by one when it is
/// a single message, a big one, or the peer takes no batch.
async fn send_group(singles: &Singles, group: Vec<Ready>) -> Vec<(Ready, Answer)> {
    let (alone, together): (Vec<Ready>, Vec<Ready>) =
        group.into_iter().partition(|r| r.text.len() > ALONE_BYTES);
    let mut answered = Vec::with_capacity(alone.len() + together.len());
    let batched = together.len() > 1 && !singles.only(&together[0].item.peer);
    let (together, one_by_one) = if batched {
        match post_batch(singles, &together).await {
            Some(answers) => (together.into_iter().zip(answers).collect(), Vec::new()),
            None => (Vec::new(), together),
        }
    } else {
        (Vec::new(), together)
    };
    answered.extend(together);
    let singly = alone.into_iter().chain(one_by_one).map(|r| async move {
        let span = deliver::span(&r.item);
        let answer = send::send(&r.route, &r.item, r.text.clone())
            .instrument(span)
            .await;
        (r, answer)
    });
    answered.extend(join_all(singly).await);
    answered
}

/// Posts `group` (two or more) as one batch: an answer for each, in order, or `None` when
/// the peer refused the batch as a whole in a way that calls for sending each on its own.
async fn post_batch(singles: &Singles, group: &[Ready]) -> Option<Vec<Answer>> {
    let to = &group[0].route;
    let url = format!("{}{}", to.base, crate::http::federation::BATCH_PATH);
    let all = |answer: &dyn Fn() -> Answer| Some(group.iter().map(|_| answer()).collect());
    let response = to
        .client
        .post(&url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body(group))
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(err) => {
            let why = format!("{url}: {}", crate::client::error_text(&err));
            return all(&|| Answer::Unreachable(why.clone()));
        }
    };
    let status = response.status();
    match status.as_u16() {
        404 => {
            tracing::info!(peer = %group[0].item.peer, "the peer has no batch route: messages go one by one");
            singles.mark(&group[0].item.peer);
            return None;
        }
        400 | 413 => return None,
        _ => {}
    }
    let max = crate::peers::MAX_ANSWER * group.len();
    let body = match crate::peers::read_answer(response, max).await {
        Ok(b) => b,
        Err(err) => {
            let why = format!("{url}: reading the answer: {err}");
            return all(&|| Answer::Unreachable(why.clone()));
        }
    };
    if !status.is_success() {
        // The batch refused whole: each message as the single route would have been.
        return match crate::json::from_slice::<Problem>(&body) {
            Ok(problem) => all(&|| Answer::Refused(problem.clone())),
            Err(_) => {
                let why = format!("{url}: HTTP {status} without a problem document");
                all(&|| Answer::Unreadable(status, why.clone()))
            }
        };
    }
    match crate::json::from_slice::<MessageResults>(&body) {
        Ok(answer) if answer.results.len() == group.len() => Some(
            answer
                .results
                .into_iter()
                .map(|result| match result {
                    MessageResult::Taken(answer) => Answer::Receipt(answer),
                    MessageResult::Refused { problem } => Answer::Refused(problem),
                })
                .collect(),
        ),
        Ok(answer) => {
            let why = format!(
                "{url}: {} results for {} messages",
                answer.results.len(),
                group.len()
            );
            all(&|| Answer::Unreadable(status, why.clone()))
        }
        Err(err) => {
            let why = format!("{url}: the answer is not the batch's results: {err}");
            all(&|| Answer::Unreadable(status, why.clone()))
        }
    }
}

/// The batch's body, the stored envelopes' own text inside it (`{"messages": [{"envelope":
/// …, "traceparent": …}]}`).
fn body(group: &[Ready]) -> String {
    let size = group.iter().map(|r| r.text.len() + 96).sum::<usize>();
    let mut body = String::with_capacity(size + 16);
    body.push_str(r#"{"messages":["#);
    for (i, r) in group.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(r#"{"envelope":"#);
        body.push_str(&r.text);
        if let Some(trace) = &r.item.trace_id {
            let traceparent = crate::observe::trace::traceparent(trace);
            body.push_str(r#","traceparent":"#);
            body.push_str(&serde_json::Value::from(traceparent).to_string());
        }
        body.push('}');
    }
    body.push_str("]}");
    body
}

#[cfg(test)]
mod tests;
