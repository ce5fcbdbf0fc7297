//! One message's way through the pipeline, as an operator sees it: a tracing span
//! `message` that every log line on the way carries (direction, request id, message id,
//! kind, courts, trace id: see [`super::trace`]), the time spent in each stage
//! (`kuayu_stage_duration_seconds`), and at the end one line saying how it came out
//! (`message accepted`, `message refused` with the problem code and the stage that
//! refused it, or `message already held` for a peer's copy of a message held before) and
//! the counts and end-to-end time (`kuayu_messages_total`,
//! `kuayu_message_duration_seconds`, `kuayu_message_refusals_total`). A journey that
//! makes more than one message (a print centre's `posted` report is also a
//! `service.attempt` to the requesting court, and `delivered` a `service.result` too)
//! counts each of them when it is accepted; a refusal counts the first.
//!
//! The pipeline marks its stages with [`stage`] and says what the message is with
//! [`describe`], wherever it runs; outside a journey (a dry run, a fuzz target) both do
//! nothing. Nothing of a payload is ever recorded: identifiers, kinds and courts only.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tracing::Instrument as _;
use tracing::field::Empty;

use super::Metrics;
use super::metrics::Outcome;
use crate::envelope::Envelope;
use crate::ids::MessageId;
use crate::problem::{Code, Problem};

const RECEIVED: &str = "received";

tokio::task_local! {
    static JOURNEY: Arc<Mutex<Journey>>;
}

/// Which way a message goes through this gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From one of this region's courts (or print centres), to a peer.
    Outbound,
    /// From a peer gateway, to one of this region's courts.
    Inbound,
}

impl Direction {
    /// `outbound` or `inbound`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }
}

struct Journey {
    direction: Direction,
    metrics: Arc<Metrics>,
    span: tracing::Span,
    stage: &'static str,
    stage_started: Instant,
    /// Every message described on the way (id and kind), the first being the one that
    /// arrived.
    messages: Vec<(MessageId, String)>,
    trace_id: String,
    duplicate: bool,
}

impl Journey {
    /// Ends the stage in progress (its time recorded) and starts `next`.
    fn enter(&mut self, next: &'static str) {
        let now = Instant::now();
        // `received` is the moment before the first stage, not a stage.
        if self.stage != RECEIVED {
            self.metrics.stage(
                self.direction.as_str(),
                self.stage,
                now - self.stage_started,
            );
        }
        self.stage = next;
        self.stage_started = now;
    }
}

/// Runs `work`, one message's way from its arrival (`direction`) to its answer, as a
/// journey: every log line within carries the span `message`; stages are timed; the
/// outcome is logged once and counted. `trace_id` is the W3C trace id the caller sent
/// (`traceparent`), if it sent a valid one; otherwise the journey starts a new trace.
pub async fn follow<T>(
    metrics: &Arc<Metrics>,
    direction: Direction,
    trace_id: Option<String>,
    work: impl Future<Output = Result<T, Problem>>,
) -> Result<T, Problem> {
    let span = tracing::info_span!(
        "message",
        direction = direction.as_str(),
        request_id = Empty,
        message_id = Empty,
        kind = Empty,
        from_court = Empty,
        to_court = Empty,
        trace_id = Empty,
    );
    let trace_id = trace_id.unwrap_or_else(super::trace::new_trace_id);
    span.record("trace_id", trace_id.as_str());
    let started = Instant::now();
    let journey = Arc::new(Mutex::new(Journey {
        direction,
        metrics: Arc::clone(metrics),
        span: span.clone(),
        stage: RECEIVED,
        stage_started: started,
        messages: Vec::new(),
        trace_id,
        duplicate: false,
    }));
    let outcome = JOURNEY
        .scope(Arc::clone(&journey), work.instrument(span.clone()))
        .await;
    let mut j = journey.lock().unwrap_or_else(PoisonError::into_inner);
    let stage = j.stage;
    j.enter("answered");
    let took = started.elapsed();
    let kind = j
        .messages
        .first()
        .map_or_else(|| "unknown".to_owned(), |(_, k)| k.clone());
    let ms = took.as_secs_f64() * 1000.0;
    let _inside = span.enter();
    match &outcome {
        Ok(_) if j.duplicate => {
            metrics.message(direction.as_str(), &kind, Outcome::Duplicate, took);
            tracing::info!(outcome = "duplicate", stage, ms, "message already held");
        }
        Ok(_) => {
            metrics.message(direction.as_str(), &kind, Outcome::Accepted, took);
            for (_, also) in j.messages.iter().skip(1) {
                metrics.message(direction.as_str(), also, Outcome::Accepted, took);
            }
            tracing::info!(outcome = "accepted", stage, ms, "message accepted");
        }
        Err(p) => {
            let code = static_code(p);
            metrics.message(
                direction.as_str(),
                &kind,
                Outcome::Refused(code, stage),
                took,
            );
            tracing::info!(outcome = "refused", code, stage, ms, "message refused");
        }
    }
    outcome
}

/// The pipeline enters stage `name` (the one in progress ends). Outside a journey, nothing.
pub fn stage(name: &'static str) {
    let _ = JOURNEY.try_with(|j| j.lock().unwrap_or_else(PoisonError::into_inner).enter(name));
}

/// The message was held already (a peer's relay sent it again, e.g. after its attempt
/// timed out): answered with the first receipt, counted as `duplicate`, not `accepted`.
pub fn duplicate() {
    let _ = JOURNEY.try_with(|j| j.lock().unwrap_or_else(PoisonError::into_inner).duplicate = true);
}

/// The trace id this journey's message travels under: the caller's, the one it adopted
/// ([`adopt_trace`]), or the new one it started. Outside a journey, a new trace id.
pub fn trace_id() -> String {
    JOURNEY
        .try_with(|j| {
            j.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .trace_id
                .clone()
        })
        .unwrap_or_else(|_| super::trace::new_trace_id())
}

/// The message continues trace `id` (its request's): every later log line of the journey,
/// and [`trace_id`], carry it.
pub fn adopt_trace(id: &str) {
    let _ = JOURNEY.try_with(|j| {
        let mut j = j.lock().unwrap_or_else(PoisonError::into_inner);
        j.span.record("trace_id", id);
        id.clone_into(&mut j.trace_id);
    });
}

/// What the message is, once known (as the sender claims it, before the signature is
/// checked, on the inbound side): its ids, kind and courts, never its payload. The span
/// names the first message described; a further one (a message the journey makes too) is
/// only counted.
pub fn describe(e: &Envelope) {
    let _ = JOURNEY.try_with(|j| {
        let mut j = j.lock().unwrap_or_else(PoisonError::into_inner);
        if j.messages.iter().any(|(id, _)| *id == e.id) {
            return;
        }
        j.messages.push((e.id, e.kind.as_str().to_owned()));
        if j.messages.len() > 1 {
            return;
        }
        let span = &j.span;
        span.record("message_id", tracing::field::display(&e.id));
        span.record(
            "request_id",
            tracing::field::display(e.in_reply_to.unwrap_or(e.id)),
        );
        span.record("kind", e.kind.as_str());
        span.record("from_court", e.sender.court.as_str());
        span.record("to_court", e.recipient.court.as_str());
    });
}

/// The problem's code as one of the fixed set (metric labels stay bounded).
pub fn static_code(p: &Problem) -> &'static str {
    Code::ALL
        .iter()
        .find(|c| p.is(**c))
        .map_or("other", |c| c.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_journey_times_its_stages_and_counts_its_outcome() {
        let metrics = Arc::new(Metrics::new());
        let out: Result<(), Problem> = follow(&metrics, Direction::Inbound, None, async {
            stage("parse");
            stage("verify");
            Err(Problem::new(Code::BadSignature, "no"))
        })
        .await;
        assert!(out.is_err());
        stage("outside"); // no journey: nothing happens
        let text = metrics.render();
        assert!(
            text.contains(r#"kuayu_message_refusals_total{direction="inbound",kind="unknown",code="bad_signature",stage="verify"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"kuayu_stage_duration_seconds_count{direction="inbound",stage="parse"} 1"#
            ),
            "{text}"
        );
        assert!(!text.contains("outside"), "{text}");
    }
}
