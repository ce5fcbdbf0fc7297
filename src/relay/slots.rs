//! The relay's deliveries in flight, per peer. Each peer has its own slots
//! (`[relay] peer_slots`), so a hung peer holds back no other; the last slot of each peer
//! is kept for preservation orders (high priority): ordinary work takes at most one
//! fewer, so it can never leave a freeze waiting behind it. While a preservation order
//! to a peer is in flight, and for [`QUIET_FOR_MS`] after one started, ordinary work to
//! that peer starts only while fewer than `[relay] quiet_slots` of its ordinary
//! deliveries are in flight, so preservation orders share both gateways' CPU with few
//! others (preservation first: minutes matter).
//!
//! A message is never in flight twice: a message in flight is not taken again, nor one
//! whose delivery ended after the outbox was read (that read may show it still pending).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crate::ids::RegionId;

/// Whether a message may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// A slot is free for it.
    Free,
    /// It is in flight, or its delivery ended after the outbox was read: leave it.
    Busy,
    /// Its peer has no slot left for a message of its priority.
    Full,
}

/// How long after a preservation order to a peer started its link stays quiet, in
/// milliseconds: orders seldom come alone (a freeze, then its lift or a few more), and
/// one that starts into a full link waits behind every delivery already in flight.
pub const QUIET_FOR_MS: i64 = 250;

#[derive(Debug, Default)]
struct Inner {
    /// Deliveries in flight to each peer.
    per_peer: HashMap<RegionId, usize>,
    /// Preservation orders in flight to each peer.
    urgent: HashMap<RegionId, usize>,
    /// When the last preservation order to each peer started (relay clock, ms).
    urgent_at: HashMap<RegionId, i64>,
    /// The messages in flight (outbox position), with their peer and whether each is a
    /// preservation order.
    in_flight: HashMap<i64, (RegionId, bool)>,
    /// Messages the peer answered whose outcome is still being committed: no longer
    /// holding a slot, but not to be taken again.
    recording: HashSet<i64>,
    /// Messages whose delivery ended since the current read of the outbox began.
    settled: HashSet<i64>,
}

/// The slots of every peer.
#[derive(Debug)]
pub struct Slots {
    per_peer: usize,
    /// Ordinary deliveries a peer takes at most while its link is quiet (see
    /// [`QUIET_FOR_MS`]).
    quiet: usize,
    inner: Mutex<Inner>,
}

impl Slots {
    /// `per_peer` slots for each peer (at least 2: one is kept for preservation), of
    /// which ordinary work takes at most `quiet` (at least 1) while the peer's link is
    /// quiet (a preservation order to it in flight, or started in the last
    /// [`QUIET_FOR_MS`]).
    pub fn new(per_peer: usize, quiet: usize) -> Self {
        let per_peer = per_peer.max(2);
        Slots {
            per_peer,
            quiet: quiet.clamp(1, per_peer - 1),
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A read of the outbox begins: what ended before it, it shows as it is now.
    pub fn begin_read(&self) {
        self.lock().settled.clear();
    }

    /// Deliveries in flight or being recorded, to every peer (all of them still show
    /// as pending in the outbox).
    pub fn in_flight(&self) -> usize {
        let inner = self.lock();
        inner.in_flight.len() + inner.recording.len()
    }

    /// Peers with every slot taken.
    pub fn full(&self) -> Vec<RegionId> {
        self.lock()
            .per_peer
            .iter()
            .filter(|(_, n)| **n >= self.per_peer)
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Whether message `seq` to `peer` may start at `now_ms` (`urgent`: a preservation
    /// order).
    pub fn room(&self, seq: i64, peer: &RegionId, urgent: bool, now_ms: i64) -> Room {
        let inner = self.lock();
        if inner.in_flight.contains_key(&seq)
            || inner.recording.contains(&seq)
            || inner.settled.contains(&seq)
        {
            return Room::Busy;
        }
        let taken = inner.per_peer.get(peer).copied().unwrap_or(0);
        let urgent_in_flight = inner.urgent.get(peer).copied().unwrap_or(0);
        let quiet = urgent_in_flight > 0
            || inner
                .urgent_at
                .get(peer)
                .is_some_and(|at| now_ms.saturating_sub(*at) < QUIET_FOR_MS);
        let free = if urgent {
            taken < self.per_peer
        } else if quiet {
            // Counted apart from the preservation orders: ordinary work quiets down.
            taken - urgent_in_flight < self.quiet && taken < self.per_peer - 1
        } else {
            taken < self.per_peer - 1
        };
        if free { Room::Free } else { Room::Full }
    }

    /// Message `seq` starts to `peer` at `now_ms` (after [`Slots::room`] said
    /// [`Room::Free`]; `urgent`: a preservation order).
    pub fn take(&self, seq: i64, peer: &RegionId, urgent: bool, now_ms: i64) {
        let mut inner = self.lock();
        if inner.in_flight.contains_key(&seq) {
            return;
        }
        inner.in_flight.insert(seq, (peer.clone(), urgent));
        *inner.per_peer.entry(peer.clone()).or_default() += 1;
        if urgent {
            *inner.urgent.entry(peer.clone()).or_default() += 1;
            inner.urgent_at.insert(peer.clone(), now_ms);
        }
    }

    /// The peer answered `seq`: its slot is free for the next message while the outcome
    /// is committed, but `seq` itself is not taken again until [`Slots::release`].
    pub fn answered(&self, seq: i64) {
        let mut inner = self.lock();
        if inner.free_slot(seq) {
            inner.recording.insert(seq);
        }
    }

    /// The delivery of `seq` ended and its outcome is committed: its slot is free.
    pub fn release(&self, seq: i64) {
        let mut inner = self.lock();
        if inner.free_slot(seq) || inner.recording.remove(&seq) {
            inner.settled.insert(seq);
        }
    }
}

impl Inner {
    /// Frees the slot `seq` holds; `false` if it holds none.
    fn free_slot(&mut self, seq: i64) -> bool {
        let Some((peer, urgent)) = self.in_flight.remove(&seq) else {
            return false;
        };
        count_down(&mut self.per_peer, &peer);
        if urgent {
            count_down(&mut self.urgent, &peer);
        }
        true
    }
}

/// One fewer for `peer` (gone at zero).
fn count_down(counts: &mut HashMap<RegionId, usize>, peer: &RegionId) {
    if let Some(n) = counts.get_mut(peer) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            counts.remove(peer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_work_leaves_the_last_slot_of_a_peer_to_preservation() {
        let s = Slots::new(3, 3);
        let (cq, xz) = (
            RegionId::parse("CQ").unwrap(),
            RegionId::parse("XZ").unwrap(),
        );
        for seq in 1..=2 {
            assert_eq!(s.room(seq, &xz, false, 0), Room::Free);
            s.take(seq, &xz, false, 0);
        }
        assert_eq!(
            s.room(3, &xz, false, 0),
            Room::Full,
            "the last slot is kept"
        );
        assert_eq!(
            s.room(3, &cq, false, 0),
            Room::Free,
            "another peer has its own"
        );
        assert_eq!(s.room(4, &xz, true, 0), Room::Free);
        s.take(4, &xz, true, 0);
        assert_eq!(s.room(5, &xz, true, 0), Room::Full);
        assert_eq!(s.full(), vec![xz.clone()]);
        assert_eq!(s.room(1, &xz, false, 0), Room::Busy, "in flight");
        s.begin_read();
        s.release(1);
        assert_eq!(
            s.room(1, &xz, false, 0),
            Room::Busy,
            "ended after the read began: the read may show it pending"
        );
        s.begin_read();
        assert_eq!(s.room(1, &xz, true, 0), Room::Free);
        assert_eq!(s.in_flight(), 2);
    }

    #[test]
    fn an_answered_message_frees_its_slot_but_is_not_taken_again_until_recorded() {
        let s = Slots::new(2, 2);
        let xz = RegionId::parse("XZ").unwrap();
        s.take(1, &xz, false, 0);
        assert_eq!(s.room(2, &xz, false, 0), Room::Full);
        s.answered(1);
        assert_eq!(s.room(2, &xz, false, 0), Room::Free, "the slot is free");
        assert_eq!(s.room(1, &xz, false, 0), Room::Busy, "still being recorded");
        assert_eq!(s.in_flight(), 1, "it still shows as pending");
        s.begin_read();
        s.release(1);
        assert_eq!(
            s.room(1, &xz, false, 0),
            Room::Busy,
            "settled after the read began"
        );
        assert_eq!(s.in_flight(), 0);
        s.begin_read();
        assert_eq!(s.room(1, &xz, false, 0), Room::Free);
    }

    #[test]
    fn ordinary_work_to_a_peer_quiets_down_while_a_preservation_order_to_it_is_about() {
        let s = Slots::new(8, 2);
        let (cq, xz) = (
            RegionId::parse("CQ").unwrap(),
            RegionId::parse("XZ").unwrap(),
        );
        let t = 1_000;
        for seq in 1..=3 {
            s.take(seq, &xz, false, t);
        }
        s.take(10, &xz, true, t);
        assert_eq!(
            s.room(4, &xz, false, t),
            Room::Full,
            "three ordinary in flight beside a freeze: over the quiet two"
        );
        assert_eq!(
            s.room(11, &xz, true, t),
            Room::Free,
            "more freezes still go"
        );
        assert_eq!(
            s.room(4, &cq, false, t),
            Room::Free,
            "another peer is not quieted"
        );
        s.release(1);
        s.release(2);
        assert_eq!(
            s.room(4, &xz, false, t),
            Room::Free,
            "one ordinary in flight"
        );
        s.take(4, &xz, false, t);
        assert_eq!(s.room(5, &xz, false, t), Room::Full, "two: the quiet limit");
        s.answered(10);
        assert_eq!(
            s.room(5, &xz, false, t + QUIET_FOR_MS - 1),
            Room::Full,
            "the freeze has arrived, but the link stays quiet a while for the next"
        );
        assert_eq!(
            s.room(5, &xz, false, t + QUIET_FOR_MS),
            Room::Free,
            "quiet no longer"
        );
        for seq in 5..=7 {
            s.take(seq, &xz, false, t + QUIET_FOR_MS);
        }
        assert_eq!(
            s.room(8, &xz, false, t + QUIET_FOR_MS),
            Room::Free,
            "all but the last slot again"
        );
    }
}
