//! Trips: which of the items the relay started go to their peer together, and when.
//! Items started in one pass (or held back) go in trips by peer and urgency, up to
//! [`TRIP_MAX`] each ([`board`]). Preservation orders travel only with preservation
//! orders and never wait. Ordinary items wait while [`MAX_TRIPS`] ordinary trips to their
//! peer are in flight, and go together when one ends: under load the trips grow, so each
//! costs the peer one request and one commit; with nothing in flight an item
//! leaves at once. A trip out for longer than [`TRIP_PATIENCE`] holds back nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ids::RegionId;
use crate::store::OutboxItem;

/// Most messages in one trip (the route takes up to [`crate::inbound::BATCH_MAX`]).
pub const TRIP_MAX: usize = 16;
/// Ordinary trips in flight to one peer, at most, not counting those out for longer than
/// [`TRIP_PATIENCE`]: ordinary messages started meanwhile wait for one to end, and so
/// go together.
pub const MAX_TRIPS: usize = 2;
/// A trip out for longer than this no longer holds back the next (a slow peer, or
/// attachments being transferred).
pub const TRIP_PATIENCE: Duration = Duration::from_millis(100);

/// The trips in flight, per peer, and when each left.
#[derive(Default)]
pub struct InFlight {
    trips: Mutex<HashMap<RegionId, Vec<(u64, Instant)>>>,
    next: std::sync::atomic::AtomicU64,
}

impl InFlight {
    /// Whether another ordinary trip to `peer` may leave now.
    fn room(&self, peer: &RegionId) -> bool {
        let trips = self.trips.lock().unwrap_or_else(|p| p.into_inner());
        let young = |t: &Vec<(u64, Instant)>| {
            t.iter()
                .filter(|(_, at)| at.elapsed() < TRIP_PATIENCE)
                .count()
        };
        trips.get(peer).map_or(0, young) < MAX_TRIPS
    }

    /// An ordinary trip to `peer` leaves: its number, for [`InFlight::end`].
    pub(super) fn begin(&self, peer: &RegionId) -> u64 {
        self.begin_at(peer, Instant::now())
    }

    fn begin_at(&self, peer: &RegionId, at: Instant) -> u64 {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut trips = self.trips.lock().unwrap_or_else(|p| p.into_inner());
        trips.entry(peer.clone()).or_default().push((id, at));
        id
    }

    /// Trip `id` to `peer` ended.
    pub(super) fn end(&self, peer: &RegionId, id: u64) {
        let mut trips = self.trips.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = trips.get_mut(peer) {
            t.retain(|(i, _)| *i != id);
        }
    }
}

/// Splits `items` (those held back before, then those started in this pass) into the
/// trips that leave now, by peer and urgency, in order, up to [`TRIP_MAX`] each, and the
/// ordinary items held back for a trip to end. Preservation orders never wait.
pub fn board(
    items: Vec<OutboxItem>,
    in_flight: &InFlight,
) -> (Vec<Vec<OutboxItem>>, Vec<OutboxItem>) {
    let mut trips: Vec<Vec<OutboxItem>> = Vec::new();
    for item in items {
        let urgent = super::urgent(&item);
        let open = trips.iter_mut().find(|t| {
            t.len() < TRIP_MAX && t[0].peer == item.peer && super::urgent(&t[0]) == urgent
        });
        match open {
            Some(trip) => trip.push(item),
            None => trips.push(vec![item]),
        }
    }
    let (mut leave, mut held) = (Vec::new(), Vec::new());
    let mut leaving: Vec<RegionId> = Vec::new();
    for trip in trips {
        let peer = &trip[0].peer;
        if super::urgent(&trip[0]) {
            leave.push(trip);
        } else if !leaving.contains(peer) && in_flight.room(peer) {
            leaving.push(peer.clone());
            leave.push(trip);
        } else {
            held.extend(trip);
        }
    }
    (leave, held)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Priority;
    use crate::ids::{MessageId, Sha256};

    fn item(seq: i64, peer: &str, priority: Priority) -> OutboxItem {
        let id = MessageId::new();
        OutboxItem {
            seq,
            message_id: id,
            request_id: id,
            peer: RegionId::parse(peer).unwrap(),
            priority: priority.rank(),
            digest: Sha256::digest(b"e"),
            attempts: 0,
            trace_id: None,
        }
    }

    fn seqs(trips: &[Vec<OutboxItem>]) -> Vec<Vec<i64>> {
        trips
            .iter()
            .map(|t| t.iter().map(|i| i.seq).collect())
            .collect()
    }

    #[test]
    fn items_go_by_peer_and_urgency_in_the_order_started() {
        let items = vec![
            item(1, "CQ", Priority::Normal),
            item(2, "GZ", Priority::Normal),
            item(3, "CQ", Priority::High),
            item(4, "CQ", Priority::Normal),
            item(5, "CQ", Priority::High),
        ];
        let (trips, held) = board(items, &InFlight::default());
        assert_eq!(seqs(&trips), vec![vec![1, 4], vec![2], vec![3, 5]]);
        assert!(held.is_empty());
    }

    #[test]
    fn a_trip_carries_at_most_trip_max_and_one_ordinary_trip_a_peer_leaves_a_pass() {
        let items = (1..=TRIP_MAX as i64 + 4)
            .map(|seq| item(seq, "CQ", Priority::Normal))
            .collect();
        let (trips, held) = board(items, &InFlight::default());
        assert_eq!(
            seqs(&trips),
            vec![(1..=TRIP_MAX as i64).collect::<Vec<_>>()]
        );
        let held: Vec<i64> = held.iter().map(|i| i.seq).collect();
        assert_eq!(
            held,
            (TRIP_MAX as i64 + 1..=TRIP_MAX as i64 + 4).collect::<Vec<_>>()
        );
    }

    #[test]
    fn ordinary_items_wait_while_max_trips_to_their_peer_are_young_but_orders_never_do() {
        let in_flight = InFlight::default();
        let cq = RegionId::parse("CQ").unwrap();
        let trips: Vec<u64> = (0..MAX_TRIPS).map(|_| in_flight.begin(&cq)).collect();
        let items = || {
            vec![
                item(1, "CQ", Priority::Normal),
                item(2, "CQ", Priority::High),
                item(3, "GZ", Priority::Normal),
            ]
        };
        let (leave, held) = board(items(), &in_flight);
        assert_eq!(seqs(&leave), vec![vec![2], vec![3]]);
        assert_eq!(held.iter().map(|i| i.seq).collect::<Vec<_>>(), vec![1]);
        // One trip ends: the next may leave.
        in_flight.end(&cq, trips[0]);
        let (leave, held) = board(items(), &in_flight);
        assert_eq!(seqs(&leave), vec![vec![1], vec![2], vec![3]]);
        assert!(held.is_empty());
    }

    #[test]
    fn a_trip_out_longer_than_the_patience_holds_back_nothing() {
        let in_flight = InFlight::default();
        let cq = RegionId::parse("CQ").unwrap();
        let long_ago = Instant::now() - TRIP_PATIENCE - Duration::from_millis(1);
        for _ in 0..MAX_TRIPS {
            in_flight.begin_at(&cq, long_ago);
        }
        let (leave, held) = board(vec![item(1, "CQ", Priority::Normal)], &in_flight);
        assert_eq!(seqs(&leave), vec![vec![1]]);
        assert!(held.is_empty());
    }
}
