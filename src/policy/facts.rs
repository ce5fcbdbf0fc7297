//! The facts a policy decision reads (Cedar's context): from the payload and the
//! envelope, with the deciding gateway's time, and their schema type [`FACTS`].

use cedar_policy::RestrictedExpression;
use serde_json::Value;
use time::OffsetDateTime;

use crate::envelope::Envelope;

/// The context attributes every request carries (absent facts are 0, "" or empty).
pub const FACTS: &str = r#"type Facts = {
  "amount": Long,
  "urgency": String,
  "mode": String,
  "pageCount": Long,
  "evidenceKinds": Set<String>,
  "hour": Long,
  "now": Long,
  "test": Bool,
};"#;

/// The facts policies may read, from the payload and the envelope, with the time facts
/// at `at`.
pub fn facts(e: &Envelope, at: OffsetDateTime) -> Vec<(String, RestrictedExpression)> {
    let p = &e.payload;
    let text = |name: &str| {
        p.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let amount = p
        .pointer("/amount/value")
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
        .floor() as i64;
    let copies = p.get("copies").and_then(Value::as_i64).unwrap_or(1).max(1);
    let pages: i64 = p
        .get("documents")
        .and_then(Value::as_array)
        .map(|docs| {
            docs.iter()
                .filter_map(|d| d.get("pages").and_then(Value::as_i64))
                .sum()
        })
        .unwrap_or(0);
    let evidence_kinds: Vec<RestrictedExpression> = p
        .get("items")
        .and_then(Value::as_array)
        .map(|items| {
            let mut kinds: Vec<&str> = items
                .iter()
                .filter_map(|i| i.get("kind").and_then(Value::as_str))
                .collect();
            kinds.sort();
            kinds.dedup();
            kinds
                .into_iter()
                .map(|k| RestrictedExpression::new_string(k.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    // China Standard Time; a time too close to the end of the calendar to move keeps UTC.
    let local = at
        .checked_to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC))
        .unwrap_or(at);
    vec![
        ("amount".into(), RestrictedExpression::new_long(amount)),
        (
            "urgency".into(),
            RestrictedExpression::new_string(text("urgency")),
        ),
        (
            "mode".into(),
            RestrictedExpression::new_string(text("mode")),
        ),
        (
            "pageCount".into(),
            RestrictedExpression::new_long(pages.saturating_mul(copies)),
        ),
        (
            "evidenceKinds".into(),
            RestrictedExpression::new_set(evidence_kinds),
        ),
        (
            "hour".into(),
            RestrictedExpression::new_long(i64::from(local.hour())),
        ),
        (
            "now".into(),
            RestrictedExpression::new_long(at.unix_timestamp()),
        ),
        ("test".into(), RestrictedExpression::new_bool(e.test)),
    ]
}

#[cfg(test)]
pub(super) use tests::sample_envelope;

#[cfg(test)]
mod tests {
    use super::*;

    /// A service request from SC0104 to CQ0103 created at `created_at` (RFC 3339, its
    /// expiry half an hour later) with `payload`.
    pub(crate) fn sample_envelope(created_at: &str, payload: Value) -> Envelope {
        let created =
            OffsetDateTime::parse(created_at, &time::format_description::well_known::Rfc3339)
                .unwrap();
        serde_json::from_value(serde_json::json!({
            "id": "0190c2a4-6f1e-7d2a-8b3c-4d5e6f708192",
            "kind": "service.request",
            "schema": {"id": "service-request", "version": 1},
            "agreement": {"id": "SC-CQ-2026", "version": 1, "sha256": "00".repeat(32)},
            "sender": {"region": "SC", "court": "SC0104"},
            "recipient": {"region": "CQ", "court": "CQ0103"},
            "createdAt": created_at,
            "expiresAt": crate::clock::rfc3339(created + time::Duration::minutes(30)),
            "priority": "normal",
            "payload": payload,
        }))
        .unwrap()
    }

    #[test]
    fn facts_of_a_message_created_at_the_end_of_the_calendar_are_read_not_a_panic() {
        // Found by fuzzing: 9999-12-31T23:00Z has no date in UTC+8, and moving it there
        // panicked.
        let e = sample_envelope("9999-12-31T23:00:00Z", serde_json::json!({}));
        let facts = facts(&e, e.created_at);
        let hour = facts
            .iter()
            .find(|(k, _)| k == "hour")
            .map(|(_, v)| format!("{v:?}"));
        assert!(
            hour.as_deref().is_some_and(|h| h.contains("Long(23)")),
            "{hour:?}"
        );
    }
}
