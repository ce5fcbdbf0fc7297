//! The demo's journey table: for each request, the states it passed on both gateways,
//! the time each hop took, and whether every receipt verifies with its issuer's key.

use std::fmt::Write as _;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::agreement::Agreement;
use crate::ids::{CourtId, Family, MessageId};
use crate::receipt::Receipt;

/// One request the demo sent, and what each side's court sees of it.
pub struct Journey {
    /// The kind of work.
    pub family: Family,
    /// Requesting court.
    pub from: CourtId,
    /// Requested court.
    pub to: CourtId,
    /// The request.
    pub request_id: MessageId,
    /// `GET /v1/requests/{id}` at the requesting gateway.
    pub requester: Value,
    /// `GET /v1/requests/{id}` at the executing gateway.
    pub executor: Value,
}

/// What the table says of one journey.
#[derive(Debug)]
pub struct Assessment {
    /// States passed, in time order, across both gateways.
    pub states: Vec<String>,
    /// (hop, milliseconds) in order.
    pub hops: Vec<(&'static str, Option<i64>)>,
    /// Receipts that verify, and receipts found.
    pub receipts: (usize, usize),
    /// Receipts expected at least: submission, relay and retrieval for every message.
    pub receipts_expected: usize,
    /// Whether the requesting side sees it completed (a filing: docketed).
    pub completed: bool,
}

impl Assessment {
    /// Whether the journey completed with every expected receipt verified.
    pub fn ok(&self) -> bool {
        self.completed
            && self.receipts.0 == self.receipts.1
            && self.receipts.1 >= self.receipts_expected
    }
}

struct Step {
    at: OffsetDateTime,
    state: String,
    event: String,
}

fn steps(view: &Value) -> Vec<Step> {
    view["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter_map(|e| {
                    Some(Step {
                        at: OffsetDateTime::parse(e["at"].as_str()?, &Rfc3339).ok()?,
                        state: e["state"].as_str()?.to_owned(),
                        event: e["event"].as_str()?.to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn at(steps: &[Step], pred: impl Fn(&Step) -> bool, last: bool) -> Option<OffsetDateTime> {
    let mut found = steps.iter().filter(|s| pred(s));
    if last { found.last() } else { found.next() }.map(|s| s.at)
}

fn ms(from: Option<OffsetDateTime>, to: Option<OffsetDateTime>) -> Option<i64> {
    Some(((to? - from?).whole_microseconds() / 1000) as i64)
}

/// Assesses one journey against the agreement's keys.
pub fn assess(j: &Journey, agreement: &Agreement) -> Assessment {
    let (req, exe) = (steps(&j.requester), steps(&j.executor));
    let mut timeline: Vec<&Step> = req.iter().chain(exe.iter()).collect();
    timeline.sort_by_key(|s| s.at);
    let mut states: Vec<String> = Vec::new();
    for s in timeline {
        if states.last() != Some(&s.state) && !states.contains(&s.state) {
            states.push(s.state.clone());
        }
    }
    let submitted = at(&req, |s| s.event == "submitted", false);
    let relayed = at(&req, |s| s.event == "relayed", false);
    let received = at(&exe, |s| s.event == "received", false);
    let retrieved = at(&exe, |s| s.event == "retrieved", false);
    let answered = at(&exe, |s| s.event.starts_with("sent "), true);
    let returned = at(&req, |s| s.event.starts_with("received "), true);
    let hops = vec![
        ("relay", ms(submitted, relayed)),
        ("pickup", ms(received, retrieved)),
        ("answer", ms(retrieved, answered)),
        ("return", ms(answered, returned)),
    ];

    let receipts = verify_receipts(&[&j.requester, &j.executor], agreement);
    let messages = j.requester["messages"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    Assessment {
        states,
        hops,
        receipts,
        receipts_expected: 3 * messages,
        completed: finished(&j.requester),
    }
}

/// The receipts of request views (`GET /v1/requests/{id}`), each counted once however
/// many views show it: (those that verify with their issuer's key in `agreement`, all).
pub fn verify_receipts(views: &[&Value], agreement: &Agreement) -> (usize, usize) {
    let mut seen: Vec<(String, String, String)> = Vec::new();
    let (mut good, mut total) = (0, 0);
    for view in views {
        for r in view["receipts"].as_array().into_iter().flatten() {
            let Ok(receipt) = serde_json::from_value::<Receipt>(r.clone()) else {
                total += 1;
                continue;
            };
            let key = (
                receipt.message_id.to_string(),
                receipt.hop.as_str().to_owned(),
                receipt.issuer.to_string(),
            );
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            total += 1;
            if receipt_verifies(&receipt, agreement) {
                good += 1;
            }
        }
    }
    (good, total)
}

/// Whether `receipt` verifies with its issuer's message key in `agreement`.
pub fn receipt_verifies(receipt: &Receipt, agreement: &Agreement) -> bool {
    agreement
        .terms
        .party(&receipt.issuer)
        .is_some_and(|p| receipt.verify(&p.message_key))
}

/// Whether the work of a request view is done as asked: completed, or for a filing
/// docketed.
pub fn finished(view: &Value) -> bool {
    matches!(view["state"].as_str(), Some("completed" | "docketed"))
}

/// The table, one journey per row.
pub fn render(rows: &[(&Journey, Assessment)]) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "{:<3} {:<13} {:<7} {:<7} {:<70} {:<38} receipts verified",
        "#", "kind", "from", "to", "states passed", "time per hop (ms)"
    )
    .ok();
    for (i, (j, a)) in rows.iter().enumerate() {
        let hops: Vec<String> = a
            .hops
            .iter()
            .map(|(name, ms)| {
                format!(
                    "{name} {}",
                    ms.map(|m| m.to_string()).unwrap_or_else(|| "-".into())
                )
            })
            .collect();
        let verdict = if a.ok() { "ok" } else { "FAILED" };
        writeln!(
            out,
            "{:<3} {:<13} {:<7} {:<7} {:<70} {:<38} {}/{} {verdict}",
            i + 1,
            j.family.as_str(),
            j.from.as_str(),
            j.to.as_str(),
            a.states.join("→"),
            hops.join(" · "),
            a.receipts.0,
            a.receipts.1
        )
        .ok();
        writeln!(out, "      story:     {}", story(&j.requester)).ok();
        writeln!(out, "      deadlines: {}", deadlines(&j.requester)).ok();
    }
    out
}

/// What the requesting court received, in order, in a few words each.
fn story(view: &Value) -> String {
    let mut parts = Vec::new();
    for m in view["messages"].as_array().into_iter().flatten() {
        let p = &m["envelope"]["payload"];
        let text = |f: &str| p[f].as_str().unwrap_or_default().replace('_', " ");
        let part = match m["kind"].as_str().unwrap_or_default() {
            k if k.ends_with(".request") => format!("{} request", text("mode")).trim().to_owned(),
            k if k.ends_with(".status") => text("status"),
            "service.attempt" if p["channel"] == "postal" => match p["trackingNumber"].as_str() {
                Some(t) if p["outcome"] == "posted" => format!("posted {t}"),
                _ => text("outcome"),
            },
            "service.attempt" => format!("{} {}", text("channel"), text("outcome")),
            "service.result" => format!("certificate: {} ({})", text("status"), text("method")),
            "printing.event" => text("event"),
            "evidence.result" => format!("{} {}", text("type"), text("status"))
                .trim()
                .to_owned(),
            "filing.result" => match p["caseNumber"].as_str() {
                Some(number) => format!("{} {number}", text("type")),
                None => text("type"),
            },
            "preservation.result" => match p["expiresAt"].as_str() {
                Some(until) => format!("{} until {until}", text("status")),
                None => text("status"),
            },
            other => other.to_owned(),
        };
        let files = m["envelope"]["attachments"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0);
        let part = match files {
            0 => part,
            1 => format!("{part} [+1 file]"),
            n => format!("{part} [+{n} files]"),
        };
        parts.push(part);
    }
    parts.join(" → ")
}

/// Each legal deadline of the request: whether it was met, and when it was due.
fn deadlines(view: &Value) -> String {
    let list: Vec<String> = view["deadlines"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            format!(
                "{} {} (due {})",
                d["name"].as_str().unwrap_or_default(),
                d["status"].as_str().unwrap_or_default().replace('_', " "),
                d["dueAt"].as_str().unwrap_or_default()
            )
        })
        .collect();
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join("; ")
    }
}
