//! A circuit breaker per peer gateway. While a peer cannot be reached, the relay does not
//! try its messages one by one: it waits out a backoff, then sends one probe, the most
//! urgent message due for that peer. When the probe is delivered the peer is up again and
//! the rest follow in priority order, so the first message a returning peer receives is
//! the most urgent one waiting (a preservation order before ordinary work).
//!
//! Besides, every `ping_interval_ms` a down peer gets a light ping ([`super::probe`]): when
//! it answers, the backoff is over at once and the probe message goes, so a returning
//! peer is noticed within seconds however long the backoff had grown.

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
    /// When the next ping may go (Unix ms).
    ping_at_ms: i64,
    /// A ping is in flight.
    pinging: bool,
    /// A ping was answered since the last failure: no more until the next one.
    answered: bool,
}

/// Where a peer's breaker stands, for the dashboard and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Messages go (the peer answered the last delivery, or none failed yet).
    Closed,
    /// The peer is down: backing off until `retry_at_ms`, after `failures` failures.
    Open {
        /// Failed attempts in a row.
        failures: u32,
        /// When the next probe may go (Unix ms).
        retry_at_ms: i64,
    },
    /// The peer is down and one probe message is on its way to it.
    Probing {
        /// Failed attempts in a row.
        failures: u32,
    },
}

/// The breakers of every peer.
#[derive(Debug)]
pub struct Breakers {
    down: Mutex<HashMap<RegionId, Down>>,
    ping_interval_ms: i64,
}

impl Breakers {
    /// No peer down yet; a down peer is pinged every `ping_interval_ms`.
    pub fn new(ping_interval_ms: u64) -> Self {
        Breakers {
            down: Mutex::default(),
            ping_interval_ms: i64::try_from(ping_interval_ms).unwrap_or(i64::MAX),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RegionId, Down>> {
        self.down.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where `peer`'s breaker stands.
    pub fn state(&self, peer: &RegionId) -> State {
        match self.lock().get(peer) {
            None => State::Closed,
            Some(d) if d.probing => State::Probing {
                failures: d.failures,
            },
            Some(d) => State::Open {
                failures: d.failures,
                retry_at_ms: d.retry_at_ms,
            },
        }
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
            ping_at_ms: now_ms.saturating_add(self.ping_interval_ms),
            pinging: false,
            answered: false,
        });
        let retry_at = now_ms + delay(d.failures);
        // A failure reported by a delivery that started before the peer went down must not
        // shorten the wait set by a later one.
        d.retry_at_ms = d.retry_at_ms.max(retry_at);
        d.failures = d.failures.saturating_add(1);
        d.probing = false;
        if d.answered {
            d.answered = false;
            d.ping_at_ms = now_ms.saturating_add(self.ping_interval_ms);
        }
        d.retry_at_ms
    }

    /// Down peers to ping at `now_ms` (each marked as being pinged): not while a probe
    /// message is in flight, nor again once one answered.
    pub fn pings_due(&self, now_ms: i64) -> Vec<RegionId> {
        let mut down = self.lock();
        down.iter_mut()
            .filter(|(_, d)| !d.probing && !d.pinging && !d.answered && d.ping_at_ms <= now_ms)
            .map(|(p, d)| {
                d.pinging = true;
                p.clone()
            })
            .collect()
    }

    /// A ping of `peer` ended at `now_ms`: if it answered, its backoff is over (the next
    /// delivery is its probe); if not, the next ping goes an interval later.
    pub fn pinged(&self, peer: &RegionId, answered: bool, now_ms: i64) {
        if let Some(d) = self.lock().get_mut(peer) {
            d.pinging = false;
            if answered {
                d.answered = true;
                d.retry_at_ms = d.retry_at_ms.min(now_ms);
            } else {
                d.ping_at_ms = now_ms.saturating_add(self.ping_interval_ms);
            }
        }
    }

    /// The probe was not sent after all (the message turned out unsendable): let another go.
    pub fn release(&self, peer: &RegionId) {
        if let Some(d) = self.lock().get_mut(peer) {
            d.probing = false;
        }
    }

    /// The earliest time after `now_ms` a down peer may be probed or pinged, if any.
    pub fn next_after(&self, now_ms: i64) -> Option<i64> {
        self.lock()
            .values()
            .flat_map(|d| {
                let probe = (!d.probing).then_some(d.retry_at_ms);
                let ping = (!d.probing && !d.pinging && !d.answered).then_some(d.ping_at_ms);
                probe.into_iter().chain(ping)
            })
            .filter(|t| *t > now_ms)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_down_peer_takes_one_probe_after_its_backoff_and_opens_when_it_succeeds() {
        let b = Breakers::new(3_000);
        let cq = RegionId::parse("CQ").unwrap();
        assert_eq!(b.admit(&cq, 0), Admit::Open);
        assert_eq!(b.state(&cq), State::Closed);
        assert_eq!(b.failed(&cq, 1_000, |n| 100 << n), 1_100);
        assert_eq!(
            b.state(&cq),
            State::Open {
                failures: 1,
                retry_at_ms: 1_100
            }
        );
        assert_eq!(b.blocked(1_050), std::slice::from_ref(&cq));
        assert_eq!(b.admit(&cq, 1_050), Admit::Wait);
        assert_eq!(b.admit(&cq, 1_100), Admit::Probe);
        assert_eq!(b.admit(&cq, 1_100), Admit::Wait, "one probe at a time");
        assert_eq!(b.state(&cq), State::Probing { failures: 1 });
        assert_eq!(b.failed(&cq, 1_200, |n| 100 << n), 1_400, "backoff doubles");
        assert_eq!(b.next_after(1_200), Some(1_400));
        assert_eq!(b.admit(&cq, 1_400), Admit::Probe);
        b.succeeded(&cq);
        assert_eq!(b.state(&cq), State::Closed);
        assert_eq!(b.admit(&cq, 1_400), Admit::Open);
        assert!(b.blocked(1_400).is_empty());
    }

    #[test]
    fn a_down_peer_is_pinged_every_interval_and_an_answer_ends_its_backoff() {
        let b = Breakers::new(3_000);
        let cq = RegionId::parse("CQ").unwrap();
        assert_eq!(b.failed(&cq, 0, |_| 60_000), 60_000);
        assert!(b.pings_due(2_999).is_empty());
        assert_eq!(b.next_after(0), Some(3_000));
        assert_eq!(b.pings_due(3_000), vec![cq.clone()]);
        assert!(b.pings_due(3_000).is_empty(), "one ping at a time");
        b.pinged(&cq, false, 3_100);
        assert_eq!(b.next_after(3_100), Some(6_100));
        assert_eq!(b.pings_due(6_100), vec![cq.clone()]);
        b.pinged(&cq, true, 6_200);
        assert_eq!(b.admit(&cq, 6_200), Admit::Probe, "the backoff is over");
        assert!(
            b.pings_due(60_000).is_empty(),
            "no ping while the probe is out"
        );
        b.failed(&cq, 6_300, |_| 60_000);
        assert_eq!(
            b.next_after(6_300),
            Some(9_300),
            "pinged again after a failure"
        );
    }
}
