//! One delivery's ends: the envelope it sends ([`load`]) and the outcome committed
//! ([`record`]: delivered with the peer's verified relay receipt, retry later, or stopped
//! for good). Sending it is [`super::send`]'s, in a trip of [`super::batch`]'s.

use std::sync::Arc;

use crate::clock::unix_millis;
use crate::envelope::Envelope;
use crate::gateway::Gateway;
use crate::store::{Event, OutboxItem, StateChange};
use crate::workflow::{self, deadlines, deadlines::Clocks};

use super::breaker::Breakers;
use super::slots::Slots;

/// How one attempt ended.
pub(super) enum Outcome {
    /// The peer committed it; here is its verified receipt.
    Delivered(crate::receipt::Receipt),
    /// The peer cannot be reached (or is unavailable as a whole): back off from the peer.
    Retry(String),
    /// The peer answered, but this message must wait (e.g. the peer's rate, a blob it
    /// lost): back off this message alone, for as long as the peer asked if it did; the
    /// peer stays open for the others.
    Later(String, Option<u64>),
    /// Stop: the peer refused it for good, or it cannot be sent.
    Dead {
        state: &'static str,
        event: &'static str,
        detail: serde_json::Value,
    },
}

impl Outcome {
    /// The `outcome` label of `kuayu_relay_deliveries_total`.
    fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered(_) => "delivered",
            Outcome::Retry(_) => "unreachable",
            Outcome::Later(..) => "deferred",
            Outcome::Dead { event, .. } => match *event {
                "rejected" => "rejected",
                "expired" => "expired",
                _ => "unsendable",
            },
        }
    }
}

/// The deadlines a request starts, or an update restarts (a filing's corrections), from
/// when the peer committed it (its receipt's time): the same due times the executing
/// gateway keeps.
fn started_at_peer(g: &Gateway, e: &Envelope, committed: time::OffsetDateTime) -> Clocks {
    let Some((agreement, _)) = g.agreements.by_digest(&e.agreement.sha256, g.clock.now()) else {
        return Clocks::default();
    };
    let terms = agreement.terms();
    if !e.kind.is_request() {
        return Clocks {
            restart: deadlines::restarted_by(terms, &e.kind, committed),
            ..Clocks::default()
        };
    }
    Clocks {
        start: deadlines::on_receipt(terms, &e.kind, &e.payload, committed),
        ..Clocks::default()
    }
}

/// The span `delivery` of `item`: message, request, peer and W3C trace id.
pub(super) fn span(item: &OutboxItem) -> tracing::Span {
    tracing::info_span!(
        "delivery",
        message_id = %item.message_id,
        request_id = %item.request_id,
        peer = %item.peer,
        trace_id = item.trace_id.as_deref().unwrap_or_default(),
    )
}

/// The text to send and the envelope it holds (`None` if it does not parse): handed over
/// by its commit ([`super::fresh`]), or read for this delivery only (the relay's reads of
/// the outbox leave it out) and parsed once, here; the stored text itself is what goes to
/// the peer. `None` if the store cannot be read (the relay retries).
pub(super) async fn load(
    g: &Gateway,
    item: &OutboxItem,
) -> Option<(String, Option<Arc<Envelope>>)> {
    if let Some(handed) = g.relay_fresh.take(&item.message_id) {
        return Some((handed.text, Some(handed.envelope)));
    }
    match g.store.envelope_text(&item.message_id).await {
        Ok(text) => {
            let text = text.unwrap_or_default();
            let envelope: Option<Envelope> = serde_json::from_str(&text).ok();
            Some((text, envelope.map(Arc::new)))
        }
        Err(e) => {
            tracing::error!(error = %e, "relay cannot read the envelope; will retry");
            None
        }
    }
}

/// The outcome of a stored envelope that does not parse.
pub(super) fn unreadable() -> Outcome {
    Outcome::Dead {
        state: workflow::FAILED,
        event: "unsendable",
        detail: serde_json::json!({"reason": "stored envelope is unreadable"}),
    }
}

/// Records how the delivery of `item` ended. Whether the relay must read the outbox again.
pub(super) async fn record(
    g: &Gateway,
    breakers: &Breakers,
    slots: &Slots,
    item: OutboxItem,
    envelope: Option<&Envelope>,
    outcome: Outcome,
) -> bool {
    g.observer
        .metrics
        .delivery(item.peer.as_str(), outcome.label(), item.attempts > 0);
    let is_request = envelope.is_some_and(|e| e.kind.is_request());
    let now = g.clock.now();
    let actor = format!("gateway:{}", g.region);
    let result = match outcome {
        Outcome::Delivered(receipt) => {
            breakers.succeeded(&item.peer);
            // The peer holds it: its slot can carry the next message while this is recorded.
            slots.answered(item.seq);
            g.relay_wake.slot_freed();
            let change = if is_request {
                StateChange::AdvanceFrom {
                    request_id: item.request_id,
                    from: workflow::SUBMITTED.to_owned(),
                    state: workflow::RELAYED.to_owned(),
                }
            } else {
                StateChange::Note {
                    request_id: item.request_id,
                }
            };
            let mut event = Event::new("relayed", format!("gateway:{}", item.peer));
            event.detail = serde_json::json!({"peer": item.peer, "attempts": item.attempts + 1});
            let clocks = envelope
                .map(|e| started_at_peer(g, e, receipt.at))
                .unwrap_or_default();
            g.store
                .outbox_delivered(&item, receipt, Some(change), event, clocks, now)
                .await
        }
        Outcome::Retry(error) => {
            // The peer is down: it is backed off as a whole, and the message stays due so
            // that the most urgent message waiting is the next probe.
            let now_ms = unix_millis(now);
            let retry_at = breakers.failed(&item.peer, now_ms, |n| backoff(g, n, item.seq));
            tracing::info!(message = %item.message_id, peer = %item.peer, attempt = item.attempts + 1, retry_in_ms = retry_at - now_ms, %error, "relay attempt failed");
            g.store
                .outbox_retry(&item, now_ms, &error)
                .await
                .map(|()| true)
        }
        Outcome::Later(error, asked) => {
            breakers.succeeded(&item.peer);
            let ours = backoff(
                g,
                u32::try_from(item.attempts).unwrap_or(u32::MAX),
                item.seq,
            );
            let asked =
                asked.map(|secs| i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX));
            let delay = asked.map_or(ours, |ms| ours.max(ms));
            tracing::info!(message = %item.message_id, peer = %item.peer, attempt = item.attempts + 1, retry_in_ms = delay, %error, "peer asks this message to wait");
            g.store
                .outbox_retry(&item, unix_millis(now) + delay, &error)
                .await
                .map(|()| true)
        }
        Outcome::Dead {
            state,
            event,
            detail,
        } => {
            tracing::warn!(message = %item.message_id, peer = %item.peer, %detail, "relay gave up");
            breakers.release(&item.peer);
            // Only a request still waiting for its first delivery can be refused or fail;
            // one already returned (its agreement revoked) stays returned.
            let change = if is_request {
                StateChange::AdvanceFrom {
                    request_id: item.request_id,
                    from: workflow::SUBMITTED.to_owned(),
                    state: state.to_owned(),
                }
            } else {
                StateChange::Note {
                    request_id: item.request_id,
                }
            };
            g.store
                .outbox_dead(
                    &item,
                    Some(change),
                    Event {
                        name: event.to_owned(),
                        actor,
                        detail,
                    },
                    now,
                )
                .await
                .map(|()| true)
        }
    };
    result.unwrap_or_else(|e| {
        tracing::error!(message = %item.message_id, error = %e, "relay cannot record the outcome; will retry");
        true
    })
}

/// Milliseconds to wait after `failures + 1` failures in a row: doubling from the initial
/// delay, capped, with a little spread so gateways do not all probe together.
fn backoff(g: &Gateway, failures: u32, seq: i64) -> i64 {
    let initial = g.relay.backoff_initial_ms as i64;
    let exp = initial.saturating_mul(1_i64 << failures.min(30));
    let capped = exp.min(g.relay.backoff_max_ms as i64);
    capped + (seq.wrapping_mul(7919).rem_euclid(1 + capped / 5))
}
