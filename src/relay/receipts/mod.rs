//! Carries retrieval receipts back to the gateways that sent the messages
//! (`POST /federation/v1/receipts/batch`, see [`crate::evidence`]), from the queue the
//! retrieval wrote in its own transaction: oldest first, what is due for one peer in one
//! request, each receipt's outcome recorded in one commit; retried with the relay's
//! backoff while the peer cannot be reached or is unavailable, stopped (with the reason
//! kept) when the peer refuses one for good. The peer keeps each receipt once, so a second
//! sending (a retry after a lost answer, two replicas at once) changes nothing.
//!
//! A peer that answers the batch route 404 as a whole runs a kuayu from before it (the
//! route itself never answers 404: a receipt of an unknown message is refused in its
//! result): its receipts then go one by one to `POST /federation/v1/receipts`, so a
//! rolling upgrade across regions loses no evidence.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::unix_millis;
use crate::gateway::Gateway;
use crate::peers::PeerClients;
use crate::store::{ReceiptOutboxItem, ReceiptOutcome};

mod carry;

/// Receipts read (and sent to one peer in one request) at a time:
/// [`crate::evidence::BATCH_MAX`], what a peer takes in one request.
const BATCH: i64 = crate::evidence::BATCH_MAX as i64;
/// How long the carrier waits after a pass that sent fewer than [`BATCH`] receipts before
/// it reads again. Under load a trip then carries the receipts of many inbox reads (one
/// request to the peer and one commit at each end for them all), not those of one read
/// each; the first receipt after a quiet spell still goes at once. Nobody waits on a
/// retrieval receipt: it is the sender's evidence, and arrives this much later at most.
const GATHER: Duration = Duration::from_millis(50);
/// Longest sleep (also how often a hand-driven clock is looked at).
const MAX_IDLE: Duration = Duration::from_millis(500);
/// The route that takes one receipt.
pub const PATH: &str = "/federation/v1/receipts";
/// The route that takes several, which the relay uses.
pub const BATCH_PATH: &str = "/federation/v1/receipts/batch";

/// Why a receipt was not taken, and whether to try again.
type Failure = (String, bool);

/// Runs until `shutdown` turns true. A pass that sent a full batch is followed at once by
/// another, one that sent fewer after `GATHER`; only a pass that found none asks when
/// the next is due, and sleeps until then or until woken.
pub async fn run(g: Arc<Gateway>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let now_ms = unix_millis(g.clock.now());
        match g.store.due_receipts(now_ms, BATCH).await {
            Ok(due) if !due.is_empty() => {
                let full = due.len() >= BATCH as usize;
                send(&g, due).await;
                let pause = if full { Duration::ZERO } else { GATHER };
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = shutdown.changed() => break,
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot read the receipts to send back"),
        }
        let next = g.store.next_receipt_due().await.ok().flatten();
        let now_ms = unix_millis(g.clock.now());
        let wait = next.map_or(MAX_IDLE, |due| {
            Duration::from_millis(u64::try_from(due - now_ms).unwrap_or(0)).min(MAX_IDLE)
        });
        tokio::select! {
            _ = g.receipts_wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => break,
        }
    }
}

/// The receipts due for one peer, and where they go.
struct Trip {
    /// The peer's batch route.
    url: String,
    /// Its route for one receipt (a peer from before the batch route).
    single: String,
    client: reqwest::Client,
    items: Vec<ReceiptOutboxItem>,
}

/// Sends `due`, one request per peer, and records every outcome in one commit; a failure
/// to record them is retried next pass.
async fn send(g: &Gateway, due: Vec<ReceiptOutboxItem>) {
    if due.is_empty() {
        return;
    }
    let mut ended: Vec<(ReceiptOutboxItem, Result<(), Failure>)> = Vec::with_capacity(due.len());
    let mut trips: Vec<Trip> = Vec::new();
    for item in due {
        match destination(g, &item) {
            Err(failure) => ended.push((item, Err(failure))),
            Ok(trip) => match trips.iter_mut().find(|t| t.url == trip.url) {
                Some(same) => same.items.push(item),
                None => trips.push(Trip {
                    items: vec![item],
                    ..trip
                }),
            },
        }
    }
    for trip in trips {
        let outcomes = carry::attempt(&trip).await;
        ended.extend(trip.items.into_iter().zip(outcomes));
    }
    let now = g.clock.now();
    let outcomes: Vec<(i64, ReceiptOutcome<'_>)> = ended
        .iter()
        .map(|(item, result)| (item.seq, outcome(g, item, result, now)))
        .collect();
    if let Err(e) = g.store.receipt_attempts(&outcomes, now).await {
        tracing::error!(receipts = outcomes.len(), error = %e, "cannot record the sending of retrieval receipts; will send them again");
    }
}

/// What to record of one receipt's attempt (logged).
fn outcome<'a>(
    g: &Gateway,
    item: &ReceiptOutboxItem,
    result: &'a Result<(), Failure>,
    now: time::OffsetDateTime,
) -> ReceiptOutcome<'a> {
    match result {
        Ok(()) => ReceiptOutcome::Delivered,
        Err((error, true)) => {
            let failures = u32::try_from(item.attempts).unwrap_or(u32::MAX);
            let initial = g.relay.backoff_initial_ms as i64;
            let delay = initial
                .saturating_mul(1_i64 << failures.min(30))
                .min(g.relay.backoff_max_ms as i64);
            tracing::info!(message = %item.message_id, peer = %item.peer, %error, retry_in_ms = delay, "retrieval receipt not taken yet");
            ReceiptOutcome::Retry {
                at_ms: unix_millis(now) + delay,
                error,
            }
        }
        Err((error, false)) => {
            tracing::warn!(message = %item.message_id, peer = %item.peer, %error, "peer refused a retrieval receipt");
            ReceiptOutcome::Dead { error }
        }
    }
}

/// Where `item` goes: the peer's routes under the agreement its message travelled under,
/// and the client for that peer (a trip with no items yet).
fn destination(g: &Gateway, item: &ReceiptOutboxItem) -> Result<Trip, Failure> {
    let (agreement, _) = g
        .agreements
        .by_digest(&item.agreement_sha256, g.clock.now())
        .ok_or_else(|| {
            (
                format!("agreement {} is no longer held", item.agreement_sha256),
                false,
            )
        })?;
    let url = |path| {
        PeerClients::url(&agreement, &item.peer, path)
            .ok_or_else(|| (format!("{} is no party of the agreement", item.peer), false))
    };
    let timeout = Duration::from_millis(g.relay.request_timeout_ms);
    let client = g
        .peers
        .get(&agreement, &item.peer, timeout)
        .map_err(|e| (e, true))?;
    Ok(Trip {
        url: url(BATCH_PATH)?,
        single: url(PATH)?,
        client,
        items: Vec::new(),
    })
}
