//! Starting the outbox items a commit handed over ([`super::wake::Wake::item_committed`])
//! without reading the outbox. Only when the relay's last read saw every due item started:
//! then nothing waits ahead of a new request's message, and a read would find just the
//! items handed over. One that cannot start at once (its peer down, or out of slots) is
//! left to the next read, which finds it in the outbox.

use std::collections::{HashSet, VecDeque};

use super::breaker::State;
use super::slots::Room;
use super::{Relay, urgent};
use crate::store::OutboxItem;

/// Outbox positions remembered as started.
const REMEMBERED: usize = 4096;

/// The outbox positions the relay started lately: an item handed over that a read found
/// and started first (and perhaps delivered since, so no longer in flight) is not started
/// again.
#[derive(Default)]
pub(super) struct Started {
    order: VecDeque<i64>,
    seqs: HashSet<i64>,
}

impl Started {
    /// `seq` was started.
    pub fn add(&mut self, seq: i64) {
        if self.seqs.insert(seq) {
            self.order.push_back(seq);
            if self.order.len() > REMEMBERED
                && let Some(oldest) = self.order.pop_front()
            {
                self.seqs.remove(&oldest);
            }
        }
    }

    /// Whether `seq` was started lately.
    pub fn contains(&self, seq: i64) -> bool {
        self.seqs.contains(&seq)
    }
}

impl Relay {
    /// Starts `handed` (items committed since the last pass, the last read having seen
    /// every due item started), most urgent first: whether every one started or had
    /// started already (if not, the next pass reads).
    pub(super) fn start_handed(&mut self, mut handed: Vec<OutboxItem>, now_ms: i64) -> bool {
        handed.sort_by(OutboxItem::most_urgent_first);
        let mut all = true;
        for item in handed {
            if self.started.contains(item.seq) {
                continue;
            }
            // A peer that is down gets its probe from a read (the most urgent message).
            if self.breakers.state(&item.peer) != State::Closed {
                all = false;
                continue;
            }
            match self.slots.room(item.seq, &item.peer, urgent(&item), now_ms) {
                Room::Busy => {}
                Room::Full => all = false,
                Room::Free => self.start(item, now_ms),
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_position_is_remembered_until_many_later_ones_were_started() {
        let mut started = Started::default();
        started.add(1);
        started.add(1);
        assert!(started.contains(1) && !started.contains(2));
        for seq in 2..=REMEMBERED as i64 {
            started.add(seq);
        }
        assert!(started.contains(1), "{REMEMBERED} remembered");
        started.add(REMEMBERED as i64 + 1);
        assert!(!started.contains(1) && started.contains(2));
    }
}
