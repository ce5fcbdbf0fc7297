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

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// The relay's wake-up, and whether the outbox changed since its last read.
#[derive(Debug, Default)]
pub struct Wake {
    notify: Notify,
    changed: AtomicBool,
}

impl Wake {
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
