//! The lifecycle of each kind of work: its states, and which update may move a request
//! from which state to which. Both gateways enforce it, so an update that is not a legal
//! next step is refused by the executing court's gateway and, if a peer lets one
//! through, by the requesting court's gateway too.
//!
//! Every request starts *open* (the gateway states `submitted`, `relayed`, `received`,
//! `retrieved`: delivered, not yet answered). Updates name an event, read from their kind
//! and payload ([`event_of`]); the tables below say where each event may lead.

use serde_json::Value;

use crate::ids::{Family, MessageKind};

/// One legal step: from any of `from`, `event` leads to `to` (`"="`: the state stays).
pub struct Step {
    /// States the step may start from (`open` stands for every not-yet-answered state).
    pub from: &'static [&'static str],
    /// The event.
    pub event: &'static str,
    /// The state it leads to.
    pub to: &'static str,
}

const fn step(from: &'static [&'static str], event: &'static str, to: &'static str) -> Step {
    Step { from, event, to }
}

/// Commissioned service: acknowledge, accept, attempt electronic service; a failed,
/// refused or unconsented electronic attempt turns it into postal service (a print job at
/// the print centre for the addressee's area), whose steps are reported as they happen;
/// then the certificate of service.
pub const SERVICE: &[Step] = &[
    step(&["open"], "acknowledged", "acknowledged"),
    step(&["open", "acknowledged"], "accepted", "accepted"),
    step(&["accepted", "serving"], "attempt", "serving"),
    step(&["accepted", "serving"], "postal_fallback", "postal"),
    step(&["postal"], "postal_progress", "="),
    step(&["accepted", "serving", "postal"], "in_progress", "="),
    step(&["accepted", "serving", "postal"], "result", "completed"),
    step(&["open", "acknowledged", "accepted"], "refused", "refused"),
    step(
        &["open", "acknowledged", "accepted", "serving", "postal"],
        "returned",
        "returned",
    ),
];

/// Remote printing: accept, print, envelope, post, delivery attempts, then delivered or
/// returned by the post.
pub const PRINTING: &[Step] = &[
    step(&["open"], "acknowledged", "acknowledged"),
    step(&["open", "acknowledged"], "accepted", "accepted"),
    step(&["open", "acknowledged", "accepted"], "printed", "printed"),
    step(&["printed"], "enveloped", "enveloped"),
    step(&["printed", "enveloped"], "posted", "posted"),
    step(
        &["posted", "in_delivery"],
        "delivery_attempt",
        "in_delivery",
    ),
    step(&["posted", "in_delivery"], "delivered", "completed"),
    step(&["posted", "in_delivery"], "mail_returned", "mail_returned"),
    step(
        &["completed", "mail_returned"],
        "return_receipt_scanned",
        "=",
    ),
    step(
        &["accepted", "printed", "enveloped", "posted", "in_delivery"],
        "in_progress",
        "=",
    ),
    step(&["open", "acknowledged", "accepted"], "refused", "refused"),
    step(
        &["open", "acknowledged", "accepted"],
        "returned",
        "returned",
    ),
];

/// Evidence: acknowledge, accept, possibly ask for missing information or give notice of
/// a delay, then complete.
pub const EVIDENCE: &[Step] = &[
    step(&["open"], "acknowledged", "acknowledged"),
    step(
        &["open", "acknowledged", "info_requested"],
        "accepted",
        "accepted",
    ),
    step(
        &["open", "acknowledged", "accepted", "delayed"],
        "missing_information",
        "info_requested",
    ),
    step(
        &["acknowledged", "accepted", "info_requested", "delayed"],
        "delay_notice",
        "delayed",
    ),
    step(&["accepted", "delayed"], "in_progress", "="),
    step(&["accepted", "delayed"], "result", "completed"),
    step(
        &["open", "acknowledged", "accepted", "info_requested"],
        "refused",
        "refused",
    ),
    step(
        &[
            "open",
            "acknowledged",
            "accepted",
            "info_requested",
            "delayed",
        ],
        "returned",
        "returned",
    ),
];

/// Preservation (freeze or lift): acknowledge, accept, then the decision. Minutes matter:
/// a decision may come straight away.
pub const PRESERVATION: &[Step] = &[
    step(&["open"], "acknowledged", "acknowledged"),
    step(&["open", "acknowledged"], "accepted", "accepted"),
    step(&["accepted"], "in_progress", "="),
    step(&["open", "acknowledged", "accepted"], "result", "completed"),
    step(&["open", "acknowledged", "accepted"], "refused", "refused"),
    step(
        &["open", "acknowledged", "accepted"],
        "returned",
        "returned",
    ),
];

/// Cross-region case filing: the competent court acknowledges the filing, may ask for
/// corrections (补正) once or more, each answered by the assisting court's corrections,
/// and then dockets it (立案), rules not to accept it (不予受理) or transfers it (移送).
/// A filing left uncorrected may still be ruled on or returned.
pub const FILING: &[Step] = &[
    step(&["open"], "acknowledged", "acknowledged"),
    step(
        &["open", "acknowledged", "corrected"],
        "correction_needed",
        "correction_needed",
    ),
    step(&["correction_needed"], "corrected", "corrected"),
    step(
        &["acknowledged", "correction_needed", "corrected"],
        "in_progress",
        "=",
    ),
    step(
        &["open", "acknowledged", "corrected"],
        "docketed",
        "docketed",
    ),
    step(
        &["open", "acknowledged", "correction_needed", "corrected"],
        "not_accepted",
        "not_accepted",
    ),
    step(
        &["open", "acknowledged", "corrected"],
        "transferred",
        "transferred",
    ),
    step(&["open", "acknowledged"], "refused", "refused"),
    step(
        &["open", "acknowledged", "correction_needed", "corrected"],
        "returned",
        "returned",
    ),
];

/// Update kinds the requesting court sends (every other update comes from the executing
/// court): the assisting court's corrections to a filing.
pub const FROM_REQUESTER: &[&str] = &["filing.correction"];

/// Whether an update of `kind` is the requesting court's to send.
pub fn from_requester(kind: &MessageKind) -> bool {
    FROM_REQUESTER.contains(&kind.as_str())
}

/// The table of a family.
pub fn table(family: Family) -> &'static [Step] {
    match family {
        Family::Service => SERVICE,
        Family::Printing => PRINTING,
        Family::Evidence => EVIDENCE,
        Family::Preservation => PRESERVATION,
        Family::Filing => FILING,
    }
}

/// States in which a request is delivered but not yet answered.
pub const OPEN: &[&str] = &["submitted", "relayed", "received", "retrieved"];

fn phase(state: &str) -> &str {
    if OPEN.contains(&state) { "open" } else { state }
}

/// The event an update names, from its kind and payload.
pub fn event_of(kind: &MessageKind, payload: &Value) -> String {
    let field = |name: &str| {
        payload
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    match kind.document() {
        "status" => match field("status").as_str() {
            "received" => "acknowledged".into(),
            other => other.into(),
        },
        "result" if kind.family() == Family::Evidence => match field("type").as_str() {
            "acknowledgement" => "acknowledged".into(),
            "completion" => "result".into(),
            other => other.into(),
        },
        // A filing's result names what the competent court did.
        "result" if kind.family() == Family::Filing => match field("type").as_str() {
            "received" => "acknowledged".into(),
            other => other.into(),
        },
        "correction" => "corrected".into(),
        // One attempt to serve: electronic (failing over to the post when it fails, is
        // refused or has no consent), or a step of the postal service.
        "attempt" => match (field("channel").as_str(), field("outcome").as_str()) {
            ("postal", _) => "postal_progress".into(),
            (_, "failed" | "refused" | "no_consent") => "postal_fallback".into(),
            _ => "attempt".into(),
        },
        "event" => match field("event").as_str() {
            "returned" => "mail_returned".into(),
            other => other.into(),
        },
        other => other.into(),
    }
}

/// Why an update may not be applied now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Illegal {
    /// The event refused.
    pub event: String,
    /// The state the request is in.
    pub state: String,
    /// The events that are legal from that state.
    pub allowed: Vec<&'static str>,
}

/// The state `event` moves a request of `family` in `state` to, or why it may not.
pub fn transition(family: Family, state: &str, event: &str) -> Result<String, Illegal> {
    let here = phase(state);
    let steps = table(family);
    match steps
        .iter()
        .find(|s| s.event == event && s.from.contains(&here))
    {
        Some(s) if s.to == "=" => Ok(state.to_owned()),
        Some(s) => Ok(s.to.to_owned()),
        None => {
            let mut allowed: Vec<&'static str> = steps
                .iter()
                .filter(|s| s.from.contains(&here))
                .map(|s| s.event)
                .collect();
            allowed.dedup();
            Err(Illegal {
                event: event.to_owned(),
                state: state.to_owned(),
                allowed,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_reaches_an_end_from_open_and_never_leaves_one() {
        for family in [
            Family::Service,
            Family::Printing,
            Family::Evidence,
            Family::Preservation,
            Family::Filing,
        ] {
            let steps = table(family);
            for end in super::super::TERMINAL {
                assert!(
                    steps.iter().all(|s| !s.from.contains(end) || s.to == "="),
                    "{family}: a step leaves {end}"
                );
            }
            assert!(
                steps.iter().any(|s| s.from.contains(&"open")),
                "{family} starts from open"
            );
        }
    }

    #[test]
    fn a_filing_is_docketed_only_once_its_corrections_are_in() {
        let result = MessageKind::parse("filing.result").unwrap();
        let correction = MessageKind::parse("filing.correction").unwrap();
        let of = |t: &str| event_of(&result, &serde_json::json!({"type": t}));
        assert_eq!(of("received"), "acknowledged");
        assert_eq!(of("correction_needed"), "correction_needed");
        assert_eq!(event_of(&correction, &serde_json::json!({})), "corrected");
        assert!(from_requester(&correction) && !from_requester(&result));
        let err = transition(Family::Filing, "correction_needed", "docketed").unwrap_err();
        assert_eq!(
            err.allowed,
            ["corrected", "in_progress", "not_accepted", "returned"]
        );
        assert_eq!(
            transition(Family::Filing, "corrected", "docketed").unwrap(),
            "docketed"
        );
        assert!(transition(Family::Filing, "acknowledged", "corrected").is_err());
        assert!(transition(Family::Filing, "docketed", "correction_needed").is_err());
    }

    #[test]
    fn illegal_steps_list_what_is_allowed() {
        let err = transition(Family::Printing, "accepted", "delivered").unwrap_err();
        assert_eq!(
            err.allowed,
            ["printed", "in_progress", "refused", "returned"]
        );
        assert_eq!(
            transition(Family::Printing, "posted", "delivered").unwrap(),
            "completed"
        );
        assert_eq!(
            transition(Family::Service, "retrieved", "accepted").unwrap(),
            "accepted"
        );
        assert_eq!(
            transition(Family::Service, "serving", "in_progress").unwrap(),
            "serving"
        );
    }
}
