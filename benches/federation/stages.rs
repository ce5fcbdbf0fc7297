//! Where a gateway's pipeline spends a message's time: the mean of each stage
//! (`kuayu_stage_duration_seconds`) and of whole journeys (`kuayu_message_duration_seconds`)
//! over a stretch of a run, from two readings of the gateway's own metrics.

use std::collections::BTreeMap;

/// Sum (seconds) and count of each duration series, by name and labels.
#[derive(Default)]
pub struct Reading(BTreeMap<String, (f64, f64)>);

/// Reads the duration series of `gateway`'s metrics now.
pub fn read(gateway: &kuayu::gateway::Gateway) -> Reading {
    let text = gateway.observer.metrics.render();
    let mut series = BTreeMap::<String, (f64, f64)>::new();
    for line in text.lines() {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        for (suffix, sum) in [("_sum", true), ("_count", false)] {
            for family in [
                "kuayu_stage_duration_seconds",
                "kuayu_message_duration_seconds",
            ] {
                if let Some(labels) = name.strip_prefix(&format!("{family}{suffix}")) {
                    let entry = series
                        .entry(format!("{}{labels}", &family[6..family.len() - 17]))
                        .or_default();
                    if sum {
                        entry.0 += value;
                    } else {
                        entry.1 += value;
                    }
                }
            }
        }
    }
    Reading(series)
}

impl Reading {
    /// `series (mean ms × count)` for each series of `direction` that grew since
    /// `before`, longest mean first.
    pub fn since(&self, before: &Reading, direction: &str) -> String {
        let needle = format!("direction=\"{direction}\"");
        let mut grew: Vec<(String, f64, f64)> = self
            .0
            .iter()
            .filter(|(k, _)| k.contains(&needle))
            .filter_map(|(k, (sum, count))| {
                let (s0, c0) = before.0.get(k).copied().unwrap_or_default();
                let n = count - c0;
                (n > 0.0).then(|| {
                    (
                        k.replace(&needle, "").replace(",}", "}"),
                        (sum - s0) / n * 1e3,
                        n,
                    )
                })
            })
            .collect();
        grew.sort_by(|a, b| b.1.total_cmp(&a.1));
        grew.iter()
            .map(|(k, mean, n)| format!("{k} {mean:.2} ms × {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
