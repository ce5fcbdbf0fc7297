//! A circuit breaker per peer gateway. While a peer cannot be reached, the relay does not
//! try its messages one by one: it waits out a backoff, then sends one probe, the most
//! urgent message due for that peer. When the probe is delivered the peer is up again and
//! the rest follow in priority order, so the first message a returning peer receives is
//! the most urgent one waiting (a preservation order before ordinary work).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::ids::RegionId;

/// Whether a delivery to a peer may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// The peer is up.
    Open,
    /// The peer is down and its backoff is over: this delivery is the probe.
    Probe,
    /// The peer is down: wait.
    Wait,
}

#[derive(Debug, Clone, Copy)]
struct Down {
    /// Failed attempts in a row.
    failures: u32,
    /// When the next probe may go (Unix ms).
    retry_at_ms: i64,
    /// A probe is in flight.
    probing: bool,
}

/// The breakers of every peer.
#[derive(Debug, Default)]
pub struct Breakers {
    down: Mutex<HashMap<RegionId, Down>>,
}

impl Breakers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RegionId, Down>> {
        self.down.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Peers no delivery may start to at `now_ms` (down, and probing or backing off).
    pub fn blocked(&self, now_ms: i64) -> Vec<RegionId> {
        self.lock()
            .iter()
            .filter(|(_, d)| d.probing || now_ms < d.retry_at_ms)
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Whether a delivery to `peer` may start at `now_ms`; a down peer admits one probe.
    pub fn admit(&self, peer: &RegionId, now_ms: i64) -> Admit {
        match self.lock().get_mut(peer) {
            None => Admit::Open,
            Some(d) if d.probing || now_ms < d.retry_at_ms => Admit::Wait,
            Some(d) => {
                d.probing = true;
                Admit::Probe
            }
        }
    }

    /// A delivery to `peer` succeeded: it is up.
    pub fn succeeded(&self, peer: &RegionId) {
        self.lock().remove(peer);
    }

    /// A delivery to `peer` failed at `now_ms`: it is down until `delay(failures so far)`
    /// has passed. Returns when the next probe may go.
    pub fn failed(&self, peer: &RegionId, now_ms: i64, delay: impl Fn(u32) -> i64) -> i64 {
        let mut down = self.lock();
        let d = down.entry(peer.clone()).or_insert(Down {
            failures: 0,
            retry_at_ms: now_ms,
            probing: false,
        });
        let retry_at = now_ms + delay(d.failures);
        // A failure reported by a delivery that started before the peer went down must not
        // shorten the wait set by a later one.
        d.retry_at_ms = d.retry_at_ms.max(retry_at);
        d.failures = d.failures.saturating_add(1);
        d.probing = false;
        d.retry_at_ms
    }

    /// The probe was not sent after all (the message turned out unsendable): let another go.
    pub fn release(&self, peer: &RegionId) {
        if let Some(d) = self.lock().get_mut(peer) {
            d.probing = false;
        }
    }

    /// The earliest time a down peer may be probed, if any peer is down.
    pub fn next_probe_ms(&self) -> Option<i64> {
        self.lock()
            .values()
            .filter(|d| !d.probing)
            .map(|d| d.retry_at_ms)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_down_peer_takes_one_probe_after_its_backoff_and_opens_when_it_succeeds() {
        let b = Breakers::default();
        let cq = RegionId::parse("CQ").unwrap();
        assert_eq!(b.admit(&cq, 0), Admit::Open);
        assert_eq!(b.failed(&cq, 1_000, |n| 100 << n), 1_100);
        assert_eq!(b.blocked(1_050), std::slice::from_ref(&cq));
        assert_eq!(b.admit(&cq, 1_050), Admit::Wait);
        assert_eq!(b.admit(&cq, 1_100), Admit::Probe);
        assert_eq!(b.admit(&cq, 1_100), Admit::Wait, "one probe at a time");
        assert_eq!(b.failed(&cq, 1_200, |n| 100 << n), 1_400, "backoff doubles");
        assert_eq!(b.next_probe_ms(), Some(1_400));
        assert_eq!(b.admit(&cq, 1_400), Admit::Probe);
        b.succeeded(&cq);
        assert_eq!(b.admit(&cq, 1_400), Admit::Open);
        assert!(b.blocked(1_400).is_empty());
    }
}
