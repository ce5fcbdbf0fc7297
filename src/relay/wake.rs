//! What wakes the relay, and whether it must read the outbox when it wakes.
//!
//! Every pass of the relay used to read the outbox, and under load it passes about three
//! times for each message (its commit, the peer's answer freeing its slot, its delivery
//! recorded), re-reading each time the deliveries still in flight. A read is needed only
//! when the outbox may hold a due item the relay has not started: a message committed,
//! a delivery that did not end in a clean acknowledgement (a retry, a refusal, an outcome
//! that could not be recorded), a delivery recorded while another item of its request is
//! still pending (it waited behind this one), a peer that answers again, a timer that
//! fell due (a retry, a lease, or the longest sleep, which also covers rows another
//! process wrote). A freed slot alone needs a read only if the last read left due items
//! waiting; the relay knows that (it keeps whether its last read saw them
//! all started).
//!
//! A commit that is a new request's only message hands its outbox item over instead
//! ([`Wake::item_committed`]): if the last read saw every due item started, nothing can
//! be waiting ahead of it, and the relay starts it without reading (what a read would
//! find is this item); otherwise it reads, and finds it there. On PostgreSQL, where
//! replicas share the outbox and claim its items, every commit calls for a read.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

use crate::store::OutboxItem;

/// Most items handed over between two passes of the relay; beyond it, a read.
const HANDED_MAX: usize = 1024;

/// The relay's wake-up, whether the outbox changed since its last read, and the items
/// committed since that it may start without a read.
#[derive(Debug, Default)]
pub struct Wake {
    notify: Notify,
    changed: AtomicBool,
    handed: Mutex<Vec<OutboxItem>>,
}

impl Wake {
    /// A new request's only message was committed with this outbox item: the relay may
    /// start it without reading the outbox (see the module docs).
    pub fn item_committed(&self, item: OutboxItem) {
        {
            let mut handed = self.handed.lock().unwrap_or_else(|e| e.into_inner());
            if handed.len() < HANDED_MAX {
                handed.push(item);
            } else {
                self.changed.store(true, Ordering::Release);
            }
        }
        self.notify.notify_one();
    }

    /// The items handed over since the last call, in commit order.
    pub(super) fn take_handed(&self) -> Vec<OutboxItem> {
        std::mem::take(&mut *self.handed.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The outbox may hold a due item the relay has not seen: it reads at its next pass.
    pub fn outbox_changed(&self) {
        self.changed.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// A delivery slot came free: the relay reads only if its last read left items
    /// waiting.
    pub fn slot_freed(&self) {
        self.notify.notify_one();
    }

    /// Whether the outbox changed since the last call (the flag is cleared before the
    /// read it calls for, so a change during that read makes the next pass read again).
    pub(super) fn take_changed(&self) -> bool {
        self.changed.swap(false, Ordering::AcqRel)
    }

    pub(super) async fn notified(&self) {
        self.notify.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_taken_once_and_a_freed_slot_is_no_change() {
        let wake = Wake::default();
        assert!(!wake.take_changed());
        wake.slot_freed();
        assert!(!wake.take_changed());
        wake.outbox_changed();
        assert!(wake.take_changed());
        assert!(!wake.take_changed());
    }
}
