//! After the journeys, the demo scrapes each gateway's `/metrics` (over its admin socket)
//! and compares `kuayu_messages_total` with the messages the journeys' request views show
//! each gateway sent and received, kind by kind.

use std::collections::BTreeMap;

use super::report::Journey;
use crate::devnet::DevFederation;

/// Messages per (region, direction, kind).
type Tally = BTreeMap<(String, &'static str, String), u64>;

/// What the request views say each gateway sent (`outbound`) and received (`inbound`).
fn from_views(journeys: &[Journey]) -> Tally {
    let mut tally = Tally::new();
    for j in journeys {
        for (region, view) in [
            (j.from.region(), &j.requester),
            (j.to.region(), &j.executor),
        ] {
            for m in view["messages"].as_array().into_iter().flatten() {
                let direction = match m["direction"].as_str() {
                    Some("out") => "outbound",
                    Some("in") => "inbound",
                    _ => continue,
                };
                let kind = m["kind"].as_str().unwrap_or_default().to_owned();
                *tally
                    .entry((region.as_str().to_owned(), direction, kind))
                    .or_default() += 1;
            }
        }
    }
    tally
}

/// The accepted messages in one scrape of a gateway's `/metrics`, per direction and kind.
fn from_scrape(region: &str, text: &str, tally: &mut Tally) {
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("kuayu_messages_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let label = |name: &str| {
            labels.split(',').find_map(|l| {
                l.strip_prefix(name)?
                    .strip_prefix("=\"")?
                    .strip_suffix('"')
                    .map(str::to_owned)
            })
        };
        if label("outcome").as_deref() != Some("accepted") {
            continue;
        }
        let direction = match label("direction").as_deref() {
            Some("outbound") => "outbound",
            Some("inbound") => "inbound",
            _ => continue,
        };
        let (Some(kind), Ok(n)) = (label("kind"), value.trim().parse::<f64>()) else {
            continue;
        };
        *tally
            .entry((region.to_owned(), direction, kind))
            .or_default() += n as u64;
    }
}

/// Prints the comparison; true when every count agrees.
pub async fn cross_check(fed: &DevFederation, journeys: &[Journey]) -> anyhow::Result<bool> {
    let views = from_views(journeys);
    let mut scraped = Tally::new();
    for region in ["SC", "CQ"] {
        let (status, text) = fed.admin_socket(region)?.health("/metrics").await?;
        anyhow::ensure!(status == 200, "{region} /metrics answered {status}");
        from_scrape(region, &text, &mut scraped);
    }
    let mut keys: Vec<_> = views.keys().chain(scraped.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut agree = true;
    let mut totals: BTreeMap<(&str, &str), (u64, u64)> = BTreeMap::new();
    for key @ (region, direction, kind) in keys {
        let (seen, counted) = (
            views.get(key).copied().unwrap_or(0),
            scraped.get(key).copied().unwrap_or(0),
        );
        let t = totals.entry((region.as_str(), *direction)).or_default();
        (t.0, t.1) = (t.0 + counted, t.1 + seen);
        if seen != counted {
            agree = false;
            println!(
                "  MISMATCH {region} {direction} {kind}: /metrics counts {counted}, the request views show {seen}"
            );
        }
    }
    let line: Vec<String> = totals
        .iter()
        .map(|((region, direction), (counted, _))| format!("{region} {direction} {counted}"))
        .collect();
    let total: u64 = views.values().sum();
    println!(
        "\n  /metrics (kuayu_messages_total, accepted): {}; {} the {total} messages the request views show",
        line.join(", "),
        if agree {
            "metrics agree with"
        } else {
            "metrics DISAGREE with"
        }
    );
    Ok(agree)
}
