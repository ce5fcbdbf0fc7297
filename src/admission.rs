//! Admission of court submissions: ordinary work waits its turn for the store, at most
//! [`ORDINARY_AT_ONCE`] commits at a time; preservation orders and lifts do not wait
//! behind it. Under a burst of ordinary submissions a freeze still commits after at most
//! that many others, not after the whole burst.

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::envelope::Priority;

/// Ordinary submissions committing at once; the rest queue in arrival order.
pub const ORDINARY_AT_ONCE: usize = 4;

/// The admission gate of one gateway.
#[derive(Debug)]
pub struct Admission {
    ordinary: Semaphore,
}

impl Default for Admission {
    fn default() -> Self {
        Admission {
            ordinary: Semaphore::new(ORDINARY_AT_ONCE),
        }
    }
}

impl Admission {
    /// Waits for a turn at `priority`; hold the answer until the commit is done.
    pub async fn enter(&self, priority: Priority) -> Option<SemaphorePermit<'_>> {
        match priority {
            Priority::High => None,
            // The semaphore is never closed, so acquiring only waits.
            Priority::Normal => self.ordinary.acquire().await.ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_preservation_order_does_not_wait_behind_ordinary_work() {
        let gate = Admission::default();
        let mut held = Vec::new();
        for _ in 0..ORDINARY_AT_ONCE {
            held.push(gate.enter(Priority::Normal).await);
        }
        let ordinary = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            gate.enter(Priority::Normal),
        );
        assert!(ordinary.await.is_err(), "ordinary work waits its turn");
        let urgent = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            gate.enter(Priority::High),
        );
        assert!(urgent.await.is_ok(), "preservation goes straight through");
        drop(held);
        assert!(gate.enter(Priority::Normal).await.is_some());
    }
}
