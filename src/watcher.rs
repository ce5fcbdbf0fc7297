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

/// Runs until `shutdown` turns true.
pub async fn run(g: Arc<Gateway>, mut shutdown: watch::Receiver<bool>) {
    let mut next_sweep = tokio::time::Instant::now();
    let mut next_purge = g.config.purge_daily.then(|| g.clock.now());
    let mut purge_not_before = tokio::time::Instant::now();
    loop {
        if let Some(due) = next_purge
            && g.clock.now() >= due
            && tokio::time::Instant::now() >= purge_not_before
        {
            if crate::ops::purge::daily(&g).await {
                next_purge = Some(g.clock.now() + time::Duration::days(1));
            } else {
                purge_not_before = tokio::time::Instant::now() + PURGE_RETRY;
            }
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
