//! The gauges read when `/metrics` is scraped, from the store and the relay's breakers:
//! the outbox backlog and its oldest message per peer, each peer's breaker, the open
//! requests by kind and state, and the overdue ones by kind; and the store's group
//! commit counters, kept in memory by its committer.
//!
//! The store's reads are the supervision dashboard's ([`crate::store::Supervision`]), each
//! on an index or a small table, so a scrape stays cheap with millions of requests stored.
//! A series that had a value at an earlier scrape and has none now (a backlog drained, a
//! state emptied) is set to 0 rather than left at its old value. If the store cannot be
//! read, the store's gauges keep their last values and the scrape still answers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

use crate::clock::unix_millis;
use crate::gateway::Gateway;
use crate::ids::RegionId;
use crate::relay::breaker::State as Breaker;
use crate::store::StoreError;

/// One series: a gauge's name and its labels.
type Series = (&'static str, Vec<(&'static str, String)>);

/// The series set at earlier scrapes.
#[derive(Default)]
pub struct Seen(Mutex<BTreeSet<Series>>);

/// Sets every gauge read at scrape time on `g`'s metrics.
pub async fn refresh(g: &Gateway) {
    let now = g.clock.now();
    let peers = g.agreements.partners(&g.region, now);
    let mut values = breakers(g, &peers);
    let metrics = &g.observer.metrics;
    let (groups, units) = g.store.group_commits();
    metrics.group_commits(groups, units);
    match from_store(g, now, &peers).await {
        Ok(read) => values.extend(read),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read the store's gauges");
            for (series, value) in &values {
                metrics.set(series.0, &series.1, *value);
            }
            return;
        }
    }
    let mut seen = g
        .observer
        .gauges
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    for gone in seen.iter().filter(|s| !values.contains_key(*s)) {
        metrics.set(gone.0, &gone.1, 0.0);
    }
    for (series, value) in &values {
        metrics.set(series.0, &series.1, *value);
    }
    seen.extend(values.into_keys());
}

fn peer(region: &str) -> Vec<(&'static str, String)> {
    vec![("peer", region.to_owned())]
}

/// Each partner's breaker, as the relay sees it.
fn breakers(g: &Gateway, peers: &BTreeSet<RegionId>) -> BTreeMap<Series, f64> {
    peers
        .iter()
        .map(|region| {
            let state = match g.breakers.state(region) {
                Breaker::Closed => 0.0,
                Breaker::Probing { .. } => 1.0,
                Breaker::Open { .. } => 2.0,
            };
            (("kuayu_breaker_state", peer(region.as_str())), state)
        })
        .collect()
}

/// The backlog of every partner (and of any peer with messages waiting), the open
/// requests by kind and state (both sides together), and the overdue ones by kind.
async fn from_store(
    g: &Gateway,
    now: time::OffsetDateTime,
    partners: &BTreeSet<RegionId>,
) -> Result<BTreeMap<Series, f64>, StoreError> {
    let now_ms = unix_millis(now);
    let mut values = BTreeMap::new();
    let backlog = g.store.backlog().await?;
    let mut peers: BTreeSet<String> = partners.iter().map(ToString::to_string).collect();
    peers.extend(backlog.iter().map(|b| b.peer.clone()));
    for region in &peers {
        let waiting = backlog.iter().find(|b| &b.peer == region);
        let (pending, age_ms) = waiting.map_or((0, 0), |b| (b.pending, now_ms - b.oldest_ms));
        values.insert(("kuayu_outbox_backlog", peer(region)), pending as f64);
        values.insert(
            ("kuayu_outbox_oldest_age_seconds", peer(region)),
            age_ms.max(0) as f64 / 1000.0,
        );
    }
    for open in g.store.open_work().await? {
        let overdue = (
            "kuayu_requests_overdue",
            vec![("kind", open.family.clone())],
        );
        values.entry(overdue).or_insert(0.0);
        let series = (
            "kuayu_requests_open",
            vec![("kind", open.family), ("state", open.state)],
        );
        *values.entry(series).or_default() += open.requests as f64;
    }
    for (kind, n) in g.store.overdue_by_kind(now_ms).await? {
        values.insert(("kuayu_requests_overdue", vec![("kind", kind)]), n as f64);
    }
    Ok(values)
}
