//! The light ping of a peer that cannot be reached: `GET /federation/v1/ping` over the
//! same mutual TLS as every delivery, with the peer's anchor from an agreement active
//! here, every `[relay] probe_interval_ms`. When the peer answers, its backoff ends
//! ([`super::breaker::Breakers::pinged`]) and the messages waiting for it fall due at once,
//! so a returning peer is noticed within seconds, however long its backoff had grown.

use std::time::Duration;

use crate::clock::unix_millis;
use crate::gateway::Gateway;
use crate::ids::RegionId;
use crate::peers::PeerClients;

use super::breaker::Breakers;

/// The federation route a ping asks.
pub const PATH: &str = "/federation/v1/ping";

/// Longest a ping waits for its answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Pings `peer` and records the answer (or its absence).
pub async fn ping(g: &Gateway, breakers: &Breakers, peer: RegionId) {
    let answered = match ask(g, &peer).await {
        Ok(()) => true,
        Err(why) => {
            tracing::debug!(%peer, %why, "peer still cannot be reached");
            false
        }
    };
    let now_ms = unix_millis(g.clock.now());
    breakers.pinged(&peer, answered, now_ms);
    if answered {
        tracing::info!(%peer, "peer answers again; its messages go now");
        if let Err(e) = g.store.outbox_due_now(&peer, now_ms).await {
            tracing::error!(%peer, error = %e, "relay cannot bring the peer's messages forward");
        }
        g.relay_wake.outbox_changed();
    }
}

/// One authenticated request to the peer's ping route; `Ok` if it answered 2xx.
async fn ask(g: &Gateway, peer: &RegionId) -> Result<(), String> {
    let now = g.clock.now();
    let agreement = g
        .agreements
        .active(now)
        .into_iter()
        .find(|a| a.party(peer).is_some() && a.party(&g.region).is_some())
        .ok_or_else(|| format!("no agreement active here joins {} with {peer}", g.region))?;
    let timeout = Duration::from_millis(g.relay.request_timeout_ms).min(TIMEOUT);
    let client = g.peers.get(&agreement, peer, timeout)?;
    let url = PeerClients::url(&agreement, peer, PATH)
        .ok_or_else(|| format!("{peer} has no federation endpoint"))?;
    let response = client
        .get(&url)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| format!("{url}: {}", crate::client::error_text(&e)))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("{url}: HTTP {}", response.status()))
    }
}
