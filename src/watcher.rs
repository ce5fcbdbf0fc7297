//! The deadline watcher: tells courts when a deadline passes unmet or a warning falls due
//! (a history entry on the request and a notice in the court's inbox, once each); once a
//! minute it also removes uploads no message lists past their age
//! ([`crate::attachments::sweep`]); with `purge_daily`, it runs the retention purge at
//! start and once a day of the gateway clock ([`crate::ops::purge::daily`]), and a minute
//! after one that failed.
//!
//! It looks at the gateway clock every [`INTERVAL`] of real time, so a hand-driven clock
//! in tests and the demo is followed too. What a court reads never waits for it: a
//! request's `overdue` flag and its deadlines' statuses are computed against the clock
//! when the request is read.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::gateway::Gateway;

/// How often the clock is looked at.
pub const INTERVAL: Duration = Duration::from_millis(250);

/// How long after a failed daily purge it is tried again.
const PURGE_RETRY: Duration = Duration::from_secs(60);

/// How often unlisted uploads past their age are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// When the daily purge runs next: at a gateway-clock time, and, after one that failed,
/// not before a time of the runtime's own clock ([`PURGE_RETRY`] on), so that a failure
/// is retried a minute later even when the gateway clock stands still (tests, the demo).
#[derive(Debug)]
struct PurgeSchedule {
    /// The gateway-clock time of the next purge; `None` without `purge_daily`.
    due: Option<time::OffsetDateTime>,
    /// The runtime-clock time before which it is not tried (after a failure).
    not_before: tokio::time::Instant,
}

impl PurgeSchedule {
    /// With `purge_daily`, the first purge is due at once.
    fn new(daily: bool, clock: time::OffsetDateTime, instant: tokio::time::Instant) -> Self {
        PurgeSchedule {
            due: daily.then_some(clock),
            not_before: instant,
        }
    }

    /// Whether a purge is to run now.
    fn is_due(&self, clock: time::OffsetDateTime, instant: tokio::time::Instant) -> bool {
        self.due.is_some_and(|due| clock >= due) && instant >= self.not_before
    }

    /// After a purge ran at `clock` and `instant`: the next a day of the gateway clock
    /// later if it succeeded, else the same one again [`PURGE_RETRY`] later.
    fn ran(&mut self, succeeded: bool, clock: time::OffsetDateTime, instant: tokio::time::Instant) {
        if succeeded {
            self.due = Some(clock + time::Duration::days(1));
        } else {
            self.not_before = instant + PURGE_RETRY;
        }
    }
}

/// Runs until `shutdown` turns true.
pub async fn run(g: Arc<Gateway>, mut shutdown: watch::Receiver<bool>) {
    let mut next_sweep = tokio::time::Instant::now();
    let mut purge = PurgeSchedule::new(
        g.config.purge_daily,
        g.clock.now(),
        tokio::time::Instant::now(),
    );
    loop {
        if purge.is_due(g.clock.now(), tokio::time::Instant::now()) {
            let succeeded = crate::ops::purge::daily(&g).await;
            purge.ran(succeeded, g.clock.now(), tokio::time::Instant::now());
        }
        if tokio::time::Instant::now() >= next_sweep {
            crate::attachments::sweep::sweep(&g).await;
            next_sweep = tokio::time::Instant::now() + SWEEP_EVERY;
        }
        match g.store.pass_deadlines(g.clock.now()).await {
            Ok(passed) => {
                for p in passed {
                    tracing::info!(request = %p.request_id, deadline = %p.name, court = %p.court, "deadline time came; court told");
                }
            }
            Err(e) => tracing::error!(error = %e, "deadline watcher cannot read the store"),
        }
        tokio::select! {
            _ = tokio::time::sleep(INTERVAL) => {}
            _ = shutdown.changed() => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_failed_daily_purge_is_tried_again_a_minute_later_and_a_good_one_a_day_later() {
        let day0 = datetime!(2026-12-01 03:00 UTC);
        let t0 = tokio::time::Instant::now();
        let mut purge = PurgeSchedule::new(true, day0, t0);
        assert!(purge.is_due(day0, t0), "the first purge runs at start");

        // It fails: not again within the minute, whatever the gateway clock says.
        purge.ran(false, day0, t0);
        let almost = t0 + PURGE_RETRY - Duration::from_millis(1);
        assert!(!purge.is_due(day0, almost));
        assert!(!purge.is_due(day0 + time::Duration::hours(1), almost));
        // A minute on, it is tried again, though the gateway clock has not moved.
        let retry = t0 + PURGE_RETRY;
        assert!(purge.is_due(day0, retry));

        // That one succeeds: the next is a day of the gateway clock later.
        purge.ran(true, day0, retry);
        let later = retry + PURGE_RETRY * 10;
        assert!(!purge.is_due(day0 + time::Duration::hours(23), later));
        assert!(purge.is_due(day0 + time::Duration::days(1), later));
    }

    #[test]
    fn without_purge_daily_no_purge_is_ever_due() {
        let day0 = datetime!(2026-12-01 03:00 UTC);
        let t0 = tokio::time::Instant::now();
        let purge = PurgeSchedule::new(false, day0, t0);
        assert!(!purge.is_due(day0 + time::Duration::days(400), t0 + PURGE_RETRY));
    }
}
