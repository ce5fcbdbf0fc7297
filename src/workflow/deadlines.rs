//! Legal deadlines: which start when work arrives, which an update meets, and when a
//! freeze must warn that it is about to expire. Periods and the calendar come from the
//! agreement (`deadlines`, `calendar`); the rules for counting them are in
//! [`crate::calendar`].
//!
//! Both gateways keep the same clocks. Each starts them from the moment the executing
//! gateway committed the request (its relay receipt's time), so the requesting court and
//! the executing court see the same due times to the millisecond.

use serde::Serialize;
use serde_json::Value;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use crate::agreement::{Period, Terms};
use crate::ids::{Family, MessageKind};
use crate::problem::{Code, Problem};

/// A deadline: work owed by a due time.
pub const DEADLINE: &str = "deadline";
/// A warning: something to tell the requesting court ahead of time.
pub const WARNING: &str = "warning";

/// Names of the deadlines an answer can meet.
pub const ANSWERABLE: &[&str] = &[
    "acknowledge",
    "service.serve",
    "evidence.complete_or_explain",
    "preservation.decide",
    "preservation.lift",
    "preservation.lift_urgent",
    "printing.post",
    "evidence.expected_completion",
    "filing.acknowledge",
    "filing.docket_or_rule",
    "filing.correction",
];

/// Clocks a later start moves (a new delay notice gives a new expected date); any other
/// clock keeps its first start.
pub const MOVABLE: &[&str] = &["evidence.expected_completion", "filing.correction"];

/// One clock to start on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Due {
    /// The agreement's name for it, e.g. `service.serve`.
    pub name: String,
    /// [`DEADLINE`] or [`WARNING`].
    pub kind: &'static str,
    /// When it falls due.
    #[serde(with = "crate::clock::ts")]
    pub due_at: OffsetDateTime,
}

/// What a commit does to a request's clocks.
#[derive(Debug, Clone, Default)]
pub struct Clocks {
    /// Clocks to start (a clock already started under the same name is kept as it is).
    pub start: Vec<Due>,
    /// Deadlines this commit meets, by name.
    pub meet: Vec<&'static str>,
    /// Clocks of other requests this commit ends, e.g. the expiry warning of a freeze
    /// that a lift released.
    pub close: Vec<(crate::ids::MessageId, &'static str)>,
    /// Clocks to start again from the beginning, pending, even if they were met: the seven
    /// days to docket a filing, once the corrections asked for arrive.
    pub restart: Vec<Due>,
}

/// The deadlines a request starts when the executing gateway commits it at `received`.
pub fn on_receipt(
    terms: &Terms,
    kind: &MessageKind,
    payload: &Value,
    received: OffsetDateTime,
) -> Vec<Due> {
    let calendar = terms.calendar();
    let due = |name: &str| {
        terms.deadlines.get(name).map(|p| Due {
            name: name.to_owned(),
            kind: DEADLINE,
            due_at: calendar.due(received, *p),
        })
    };
    let field = |name: &str| {
        payload
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    // A filing's first acknowledgement is owed within the time the parties chose for it.
    let acknowledge = match kind.family() {
        Family::Filing => due("filing.acknowledge").or_else(|| due("acknowledge")),
        _ => due("acknowledge"),
    };
    let mut out: Vec<Due> = acknowledge.into_iter().collect();
    let main = match kind.family() {
        Family::Service => due("service.serve"),
        // The date in the job prevails; else the agreement's period (no statute fixes one).
        Family::Printing => match date(field("deadline")) {
            Some(by) => Some(Due {
                name: "printing.post".to_owned(),
                kind: DEADLINE,
                due_at: calendar.end_of(by),
            }),
            None => due("printing.post"),
        },
        // A date the requesting court set prevails (民诉法解释 Art 134).
        Family::Evidence => due("evidence.complete_or_explain").map(|mut d| {
            if let Some(by) = date(field("respondBy")) {
                d.due_at = calendar.end_of(by);
            }
            d
        }),
        Family::Preservation if field("mode") == "lift" => {
            if field("urgency") == "URGENT" {
                due("preservation.lift_urgent")
            } else {
                due("preservation.lift")
            }
        }
        Family::Preservation => due("preservation.decide"),
        // Docket or rule within seven days of receiving the filing (民诉法 Art 126).
        Family::Filing => due("filing.docket_or_rule"),
    };
    out.extend(main);
    out
}

/// The clocks an update restarts where it arrives, from the moment the executing gateway
/// committed it (the same instant on both sides: the requesting side takes it from the
/// relay receipt): the corrections a competent court asked for restart its seven days to
/// docket or rule, counted from their receipt.
pub fn restarted_by(terms: &Terms, kind: &MessageKind, arrived: OffsetDateTime) -> Vec<Due> {
    if kind.as_str() != "filing.correction" {
        return Vec::new();
    }
    terms
        .deadlines
        .get("filing.docket_or_rule")
        .map(|p| Due {
            name: "filing.docket_or_rule".to_owned(),
            kind: DEADLINE,
            due_at: terms.calendar().due(arrived, *p),
        })
        .into_iter()
        .collect()
}

/// The deadlines an update naming `event` meets.
pub fn met_by(event: &str) -> Vec<&'static str> {
    ANSWERABLE
        .iter()
        .copied()
        .filter(|name| meets(name, event))
        .collect()
}

fn meets(name: &str, event: &str) -> bool {
    match name {
        // Any answer acknowledges; a progress note alone does not (nor the requesting
        // court's own corrections).
        "acknowledge" | "filing.acknowledge" => !matches!(event, "in_progress" | "corrected"),
        // Asking for corrections answers a filing in time; their arrival restarts the clock.
        "filing.docket_or_rule" => matches!(
            event,
            "correction_needed"
                | "docketed"
                | "not_accepted"
                | "transferred"
                | "refused"
                | "returned"
        ),
        // The corrections are owed by the date the competent court allowed.
        "filing.correction" => event == "corrected",
        // Explaining the delay by letter within the period is meeting it.
        "evidence.complete_or_explain" => {
            matches!(event, "result" | "delay_notice" | "refused" | "returned")
        }
        // A print job is done on time once it is in the post.
        "printing.post" => matches!(event, "posted" | "refused" | "returned"),
        _ => matches!(event, "result" | "refused" | "returned"),
    }
}

/// The clocks an update starts on the side that sends or receives it: a delay notice
/// (evidence) its expected completion date, by which the work is owed next; a request for
/// corrections to a filing (补正) the last day it allows for them.
pub fn on_update(terms: &Terms, event: &str, payload: &Value) -> Vec<Due> {
    let day = |field: &str| payload.get(field).and_then(Value::as_str).and_then(date);
    let by = |name: &str, day: Date| Due {
        name: name.to_owned(),
        kind: DEADLINE,
        due_at: terms.calendar().end_of(day),
    };
    match event {
        "delay_notice" => day("expectedCompletion")
            .map(|d| by("evidence.expected_completion", d))
            .into_iter()
            .collect(),
        "correction_needed" => day("correctBy")
            .map(|d| by("filing.correction", d))
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// The warnings a freeze result starts: `freeze.expiry_warning` before the earliest
/// expiry of the assets it froze.
pub fn on_result(terms: &Terms, kind: &MessageKind, payload: &Value) -> Vec<Due> {
    if kind.family() != Family::Preservation || kind.document() != "result" {
        return Vec::new();
    }
    let Some(before) = terms.deadlines.get("freeze.expiry_warning") else {
        return Vec::new();
    };
    let Some(expiry) = expiries(payload).into_iter().min() else {
        return Vec::new();
    };
    let calendar = terms.calendar();
    vec![Due {
        name: "freeze.expiry_warning".to_owned(),
        kind: WARNING,
        due_at: calendar.before(expiry, *before),
    }]
}

/// The expiry dates a preservation result gives (top level and per frozen asset).
fn expiries(payload: &Value) -> Vec<Date> {
    let top = payload
        .get("expiresAt")
        .and_then(Value::as_str)
        .and_then(date);
    let assets = payload
        .get("assets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("expiresAt").and_then(Value::as_str).and_then(date));
    top.into_iter().chain(assets).collect()
}

/// A freeze result may not freeze an asset for longer than the agreement's maximum for its
/// type (`freeze.bank_deposit`, `freeze.movable`, …; 民诉法解释 Art 487).
pub fn check_freeze_periods(
    terms: &Terms,
    kind: &MessageKind,
    payload: &Value,
) -> Result<(), Problem> {
    if kind.family() != Family::Preservation || kind.document() != "result" {
        return Ok(());
    }
    let calendar = terms.calendar();
    let Some(frozen_at) = payload
        .get("frozenAt")
        .and_then(Value::as_str)
        .and_then(|t| {
            OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        })
    else {
        return Ok(());
    };
    let assets = payload
        .get("assets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for (i, asset) in assets.enumerate() {
        let kind = asset
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = format!("freeze.{kind}");
        let (Some(max), Some(expires)) = (
            terms.deadlines.get(&name),
            asset
                .get("expiresAt")
                .and_then(Value::as_str)
                .and_then(date),
        ) else {
            continue;
        };
        // The last day of the period (its end is 24:00 of that day).
        let end = calendar.due(frozen_at, *max) - time::Duration::milliseconds(1);
        let limit = calendar.local_date(end);
        if expires > limit {
            return Err(Problem::new(
                Code::FreezePeriodExceeded,
                format!(
                    "asset {i} ({kind}) is frozen until {expires}, beyond the longest freeze the agreement allows for it ({name}: {}), which ends on {limit}; freeze until {limit} at most and renew before expiry",
                    describe(*max),
                ),
            ));
        }
    }
    Ok(())
}

/// A period in words, e.g. `12 months`.
pub fn describe(p: Period) -> String {
    let (n, unit) = match p {
        Period::Days(n) => (n, "day"),
        Period::WorkingDays(n) => (n, "working day"),
        Period::Hours(n) => (n, "hour"),
        Period::Months(n) => (n, "month"),
        Period::WorkingMinutes(n) => (n, "working minute"),
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

fn date(text: &str) -> Option<Date> {
    Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_meet_the_deadlines_they_answer() {
        assert_eq!(
            met_by("acknowledged"),
            ["acknowledge", "filing.acknowledge"]
        );
        assert!(met_by("in_progress").is_empty());
        assert!(met_by("result").contains(&"service.serve"));
        assert!(met_by("delay_notice").contains(&"evidence.complete_or_explain"));
        assert!(!met_by("delay_notice").contains(&"service.serve"));
        assert_eq!(
            met_by("correction_needed"),
            ["acknowledge", "filing.acknowledge", "filing.docket_or_rule"]
        );
        assert_eq!(met_by("corrected"), ["filing.correction"]);
        assert!(met_by("docketed").contains(&"filing.docket_or_rule"));
    }
}
