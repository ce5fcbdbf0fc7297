//! How the committer cuts waiting ordinary work into groups: whole batches (units sent
//! together stay together) of about [`SLICE`] units, or [`QUIET_SLICE`] while preservation
//! work was committed in the last [`QUIET_FOR`]. Between two groups the committer looks for
//! preservation work, which goes first, so a preservation unit arriving while ordinary
//! work is being committed waits for the rest of one slice; while preservation work is
//! about, that slice is short (preservation first: minutes matter), at the cost of more
//! fsyncs per ordinary unit for that while.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Ordinary units in one group, about, while more wait behind them. 12 rather than 32:
/// in three alternating pairs of the federation benchmark's preservation run, p99 first
/// seen 152 against 182 ms and the 10,000 queued drained no slower (17.5 to 23.6 s
/// against 23.3 to 26.4 s).
pub(super) const SLICE: usize = 12;

/// Ordinary units in one group, about, while preservation work is about.
pub(super) const QUIET_SLICE: usize = 3;

/// How long after preservation work was committed slices stay [`QUIET_SLICE`]: longer than
/// the usual gap between a preservation order's commits on the way (its inbound commit,
/// then a court's lease of it; its submission, then its delivery record).
pub(super) const QUIET_FOR: Duration = Duration::from_millis(250);

/// Ordinary batches waiting for the committer, oldest first.
pub(super) struct Slices<T> {
    waiting: VecDeque<Vec<T>>,
    /// When preservation work was last committed.
    urgent_at: Option<Instant>,
}

impl<T> Default for Slices<T> {
    fn default() -> Self {
        Slices {
            waiting: VecDeque::new(),
            urgent_at: None,
        }
    }
}

impl<T> Slices<T> {
    /// Whether no ordinary work waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// A batch of ordinary units to be committed together, behind those waiting.
    pub fn push(&mut self, batch: Vec<T>) {
        if !batch.is_empty() {
            self.waiting.push_back(batch);
        }
    }

    /// Preservation work was committed at `at`.
    pub fn urgent_committed(&mut self, at: Instant) {
        self.urgent_at = Some(at);
    }

    /// About how many ordinary units the next group takes at `now`.
    pub fn size(&self, now: Instant) -> usize {
        match self.urgent_at {
            Some(at) if now.saturating_duration_since(at) < QUIET_FOR => QUIET_SLICE,
            _ => SLICE,
        }
    }

    /// The next group of ordinary work at `now`: whole batches, oldest first, up to
    /// [`Slices::size`] units (a larger first batch goes whole); empty if none waits.
    pub fn next(&mut self, now: Instant) -> Vec<T> {
        let size = self.size(now);
        let mut group = Vec::new();
        while let Some(batch) = self.waiting.pop_front() {
            if !group.is_empty() && group.len() + batch.len() > size {
                self.waiting.push_front(batch);
                break;
            }
            group.extend(batch);
        }
        group
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_groups_shrink_while_preservation_work_is_about_and_grow_back_after() {
        let mut s = Slices::default();
        for unit in 0..40 {
            s.push(vec![unit]);
        }
        let t = Instant::now();
        assert_eq!(s.next(t), (0..12).collect::<Vec<_>>(), "a full slice");
        s.urgent_committed(t);
        assert_eq!(
            s.next(t),
            vec![12, 13, 14],
            "quiet beside preservation work"
        );
        assert_eq!(
            s.next(t + QUIET_FOR - Duration::from_millis(1)),
            vec![15, 16, 17]
        );
        assert_eq!(
            s.next(t + QUIET_FOR).len(),
            SLICE,
            "full slices again once it has been quiet for a while"
        );
    }

    #[test]
    fn units_sent_together_stay_together() {
        let mut s = Slices::default();
        s.push(vec![1, 2]);
        s.push(vec![3; 20]);
        s.push(vec![]);
        s.push(vec![4]);
        let t = Instant::now();
        assert_eq!(s.next(t), vec![1, 2], "the next batch would pass the slice");
        assert_eq!(
            s.next(t).len(),
            20,
            "a batch larger than a slice goes whole"
        );
        assert_eq!(s.next(t), vec![4]);
        assert!(s.is_empty());
        assert!(s.next(t).is_empty());
    }
}
