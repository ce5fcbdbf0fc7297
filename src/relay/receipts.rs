//! Carries retrieval receipts back to the gateways that sent the messages
//! (`POST /federation/v1/receipts`, see [`crate::evidence`]), from the queue the retrieval
//! wrote in its own transaction: oldest first, retried with the relay's backoff while the
//! peer cannot be reached or is unavailable, stopped (with the reason kept) when the peer
//! refuses one for good. The peer keeps each receipt once, so a second sending (a retry
//! after a lost answer, two replicas at once) changes nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::api::ReceiptTaken;
use crate::clock::unix_millis;
use crate::gateway::Gateway;
use crate::observe::trace;
use crate::peers::PeerClients;
use crate::problem::Problem;
use crate::store::{ReceiptOutboxItem, ReceiptOutcome};

/// Receipts read at a time.
const BATCH: i64 = 32;
/// Longest sleep (also how often a hand-driven clock is looked at).
const MAX_IDLE: Duration = Duration::from_millis(500);
/// The route receipts go to.
pub const PATH: &str = "/federation/v1/receipts";

/// Runs until `shutdown` turns true.
pub async fn run(g: Arc<Gateway>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let now_ms = unix_millis(g.clock.now());
        match g.store.due_receipts(now_ms, BATCH).await {
            Ok(due) => {
                for item in due {
                    send(&g, item).await;
                }
            }
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

/// One attempt: the outcome is recorded; a failure to record it is retried next pass.
async fn send(g: &Gateway, item: ReceiptOutboxItem) {
    let error = attempt(g, &item).await.err();
    let now = g.clock.now();
    let outcome = match &error {
        None => ReceiptOutcome::Delivered,
        Some((error, true)) => {
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
        Some((error, false)) => {
            tracing::warn!(message = %item.message_id, peer = %item.peer, %error, "peer refused a retrieval receipt");
            ReceiptOutcome::Dead { error }
        }
    };
    if let Err(e) = g.store.receipt_attempt(item.seq, outcome, now).await {
        tracing::error!(message = %item.message_id, error = %e, "cannot record a receipt's sending; will send again");
    }
}

/// Sends one receipt; on failure, why and whether to try again.
async fn attempt(g: &Gateway, item: &ReceiptOutboxItem) -> Result<(), (String, bool)> {
    let (agreement, _) = g
        .agreements
        .by_digest(&item.agreement_sha256, g.clock.now())
        .ok_or_else(|| {
            (
                format!("agreement {} is no longer held", item.agreement_sha256),
                false,
            )
        })?;
    let url = PeerClients::url(&agreement, &item.peer, PATH)
        .ok_or_else(|| (format!("{} is no party of the agreement", item.peer), false))?;
    let timeout = Duration::from_millis(g.relay.request_timeout_ms);
    let client = g
        .peers
        .get(&agreement, &item.peer, timeout)
        .map_err(|e| (e, true))?;
    let mut request = client.post(&url).json(&item.receipt);
    if let Some(trace) = &item.trace_id {
        request = request.header(trace::HEADER, trace::traceparent(trace));
    }
    let response = request
        .send()
        .await
        .map_err(|e| (format!("{url}: {}", crate::client::error_text(&e)), true))?;
    let status = response.status();
    let body = crate::peers::read_answer(response)
        .await
        .map_err(|e| (format!("{url}: reading the answer: {e}"), true))?;
    if status.is_success() {
        return crate::json::from_slice::<ReceiptTaken>(&body)
            .map(|_| ())
            .map_err(|e| (format!("{url}: the answer is not a receipt's: {e}"), true));
    }
    Err(match crate::json::from_slice::<Problem>(&body) {
        Ok(p) => {
            let retry = p.retryable();
            (p.to_string(), retry)
        }
        Err(_) => (
            format!("{url}: HTTP {status} without a problem document"),
            true,
        ),
    })
}
