//! What the main page shows, read from the store and the relay's breakers at one instant:
//! volumes, work in flight, cycle times, the postal fallback, freezes nearing expiry and
//! the health of each partner gateway.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use crate::clock::unix_millis;
use crate::gateway::Gateway;
use crate::ids::RegionId;
use crate::relay::breaker::State as Breaker;
use crate::store::{
    Buckets, CycleSample, DAY_MS, DeadLetter, DueItem, OpenCount, StoreError, local_day,
};
use crate::workflow::deadlines::ANSWERABLE;

/// Rows of the overdue and due-soon lists shown (the counts are complete).
pub const LIST_LIMIT: i64 = 50;
/// Met deadlines per name the cycle times are computed from.
pub const CYCLE_SAMPLES: i64 = 500;
/// Days of the volume charts: 14 days; 12 weeks.
pub const DAYS: i64 = 14;
/// Weeks of the volume charts.
pub const WEEKS: i64 = 12;
/// The period of refusals and of the postal fallback rate.
pub const RECENT_MS: i64 = 30 * DAY_MS;

/// The kinds of work, in the order pages list them.
pub const FAMILIES: &[&str] = &["service", "printing", "evidence", "preservation", "filing"];

/// Requests counted today, over the last 7 days and the last 12 weeks.
pub type Counts = Buckets;

/// One deadline's cycle times.
#[derive(Debug, Clone)]
pub struct Cycle {
    /// The deadline's name.
    pub name: String,
    /// Samples.
    pub samples: usize,
    /// Median, 90th percentile and the median allowed time, in milliseconds.
    pub p50_ms: i64,
    /// 90th percentile.
    pub p90_ms: i64,
    /// The median time the deadline allowed.
    pub allowed_ms: i64,
    /// Samples that took longer than allowed.
    pub late: usize,
}

/// One partner gateway's health.
#[derive(Debug, Clone)]
pub struct Partner {
    /// The peer region.
    pub peer: RegionId,
    /// Its breaker.
    pub breaker: Breaker,
    /// Messages waiting for it, and since when.
    pub pending: i64,
    /// When the oldest waiting message was committed (Unix ms).
    pub oldest_ms: Option<i64>,
    /// When a message was last delivered to it (Unix ms).
    pub last_delivery_ms: Option<i64>,
    /// Messages it refused for good lately, by problem code.
    pub refusals: Vec<(String, i64)>,
    /// The latest of them.
    pub dead: Vec<DeadLetter>,
}

/// Everything on the main page.
#[derive(Debug, Clone)]
pub struct Overview {
    /// When it was read.
    pub now: OffsetDateTime,
    /// Today's local day number.
    pub today: i64,
    /// Requests per day (oldest first), outbound and inbound.
    pub per_day: Vec<(i64, i64, i64)>,
    /// Requests per week of 7 days ending today (oldest first), outbound and inbound.
    pub per_week: Vec<(i64, i64, i64)>,
    /// By (kind, role).
    pub by_kind: BTreeMap<(String, String), Counts>,
    /// By partner region.
    pub by_partner: BTreeMap<String, Counts>,
    /// By our court.
    pub by_court: BTreeMap<String, Counts>,
    /// Open requests by state, kind and side.
    pub open: Vec<OpenCount>,
    /// Overdue: how many, and the earliest.
    pub overdue: (i64, Vec<DueItem>),
    /// Due by the end of the next working day: how many, and the earliest.
    pub due_next: (i64, Vec<DueItem>),
    /// When the next working day ends.
    pub next_day_end: OffsetDateTime,
    /// Cycle times per deadline that has samples.
    pub cycles: Vec<Cycle>,
    /// Service requests received lately, and how many of them fell back to the post.
    pub postal: (i64, crate::store::PostalSummary),
    /// Freezes whose expiry warning falls within 30 days either side of now.
    pub freezes: Vec<DueItem>,
    /// Each partner gateway.
    pub partners: Vec<Partner>,
}

/// The value below which `q` of the sorted `values` fall (nearest rank).
pub fn percentile(sorted: &[i64], q: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Cycle times of one deadline from its samples.
pub fn cycle(name: &str, samples: &[CycleSample]) -> Cycle {
    let mut took: Vec<i64> = samples.iter().map(|s| s.took_ms).collect();
    let mut allowed: Vec<i64> = samples.iter().map(|s| s.allowed_ms).collect();
    took.sort_unstable();
    allowed.sort_unstable();
    Cycle {
        name: name.to_owned(),
        samples: samples.len(),
        p50_ms: percentile(&took, 0.5),
        p90_ms: percentile(&took, 0.9),
        allowed_ms: percentile(&allowed, 0.5),
        late: samples.iter().filter(|s| s.took_ms > s.allowed_ms).count(),
    }
}

impl Overview {
    /// Reads everything at `g`'s clock now.
    pub async fn read(g: &Gateway) -> Result<Overview, StoreError> {
        let now = g.clock.now();
        let now_ms = unix_millis(now);
        let today = local_day(now_ms);
        let store = g.store.as_ref();

        let volumes = store.volumes(today - WEEKS * 7 + 1, today).await?;
        let mut per_day = vec![(0, 0, 0); DAYS as usize];
        let mut per_week = vec![(0, 0, 0); WEEKS as usize];
        for (i, d) in per_day.iter_mut().enumerate() {
            d.0 = today - DAYS + 1 + i as i64;
        }
        for (i, w) in per_week.iter_mut().enumerate() {
            w.0 = today - (WEEKS - 1 - i as i64) * 7;
        }
        let mut by_kind: BTreeMap<(String, String), Counts> = BTreeMap::new();
        let mut received = 0;
        for (day, family, role, n) in &volumes.days {
            let out = role == "requester";
            let bump = |slot: &mut (i64, i64, i64)| {
                if out { slot.1 += n } else { slot.2 += n }
            };
            let age = today - day;
            if (0..DAYS).contains(&age) {
                bump(&mut per_day[(DAYS - 1 - age) as usize]);
            }
            if (0..WEEKS * 7).contains(&age) {
                bump(&mut per_week[(WEEKS - 1 - age / 7) as usize]);
            }
            let c = by_kind.entry((family.clone(), role.clone())).or_default();
            c.today += if age == 0 { *n } else { 0 };
            c.week += if age < 7 { *n } else { 0 };
            c.all += n;
            if family == "service" && role == "executor" && age < 30 {
                received += n;
            }
        }
        let by_partner = volumes.partners.into_iter().collect();
        let by_court = volumes.courts.into_iter().collect();

        let calendar = g
            .agreements
            .active(now)
            .first()
            .map(|a| a.document.terms.calendar().clone())
            .unwrap_or_default();
        let mut day = calendar.local_date(now);
        loop {
            day = day.next_day().unwrap_or(day);
            if calendar.is_working_day(day) || day == time::Date::MAX {
                break;
            }
        }
        let next_day_end = calendar.end_of(day);

        let overdue = store.deadlines_due(None, now_ms, LIST_LIMIT).await?;
        let due_next = store
            .deadlines_due(Some(now_ms), unix_millis(next_day_end), LIST_LIMIT)
            .await?;

        let mut cycles = Vec::new();
        for name in ANSWERABLE {
            let samples = store.cycle_times(name, CYCLE_SAMPLES).await?;
            if !samples.is_empty() {
                cycles.push(cycle(name, &samples));
            }
        }

        let since = now_ms - RECENT_MS;
        let postal = (received, store.postal_summary(since).await?);
        let freezes = store
            .warnings_due(
                "freeze.expiry_warning",
                now_ms - RECENT_MS,
                now_ms + RECENT_MS,
                LIST_LIMIT,
            )
            .await?;

        let partners = partners(g, now, since).await?;
        Ok(Overview {
            now,
            today,
            per_day,
            per_week,
            by_kind,
            by_partner,
            by_court,
            open: store.open_work().await?,
            overdue,
            due_next,
            next_day_end,
            cycles,
            postal,
            freezes,
            partners,
        })
    }
}

/// Every peer of an active agreement, and any other the outbox still holds work for.
async fn partners(
    g: &Gateway,
    now: OffsetDateTime,
    since_ms: i64,
) -> Result<Vec<Partner>, StoreError> {
    let store = g.store.as_ref();
    let backlog = store.backlog().await?;
    let refusals = store.refusals(since_ms).await?;
    let mut peers: BTreeSet<String> = g
        .agreements
        .partners(&g.region, now)
        .iter()
        .map(ToString::to_string)
        .collect();
    peers.extend(backlog.iter().map(|b| b.peer.clone()));
    let mut out = Vec::new();
    for peer in peers {
        let Ok(region) = RegionId::parse(&peer) else {
            continue;
        };
        let waiting = backlog.iter().find(|b| b.peer == peer);
        out.push(Partner {
            breaker: g.breakers.state(&region),
            pending: waiting.map_or(0, |b| b.pending),
            oldest_ms: waiting.map(|b| b.oldest_ms),
            last_delivery_ms: store.last_delivery(&peer).await?,
            refusals: refusals
                .iter()
                .filter(|(p, _, _)| *p == peer)
                .map(|(_, code, n)| (code.clone(), *n))
                .collect(),
            dead: store.dead_letters(&peer, 10).await?,
            peer: region,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 0.5), 5);
        assert_eq!(percentile(&v, 0.9), 9);
        assert_eq!(percentile(&[7], 0.9), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn a_cycle_counts_the_samples_over_their_deadline() {
        let s = [
            CycleSample {
                took_ms: 10,
                allowed_ms: 20,
            },
            CycleSample {
                took_ms: 30,
                allowed_ms: 20,
            },
        ];
        let c = cycle("service.serve", &s);
        assert_eq!((c.samples, c.late, c.p50_ms, c.p90_ms), (2, 1, 10, 30));
    }
}
