//! Dry run: replay the traffic a gateway stored over the last days through a candidate
//! agreement's directions, limits, schemas and policies, and count what it would refuse,
//! grouped by reason. Signatures are not needed: this is for before anyone signs.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::agreement::{ActiveAgreement, Agreement};
use crate::clock::unix_millis;
use crate::envelope::Envelope;
use crate::pipeline;
use crate::problem::Problem;
use crate::schema::SchemaCatalog;
use crate::store::Store;

/// What the candidate would have done with the stored traffic.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The candidate, e.g. `SC-CQ-2026 v2`.
    pub agreement: String,
    /// How many days of traffic.
    pub days: u32,
    /// Messages replayed.
    pub messages: usize,
    /// Messages it would accept.
    pub accepted: usize,
    /// Messages it would refuse, by reason, most frequent first.
    pub refused: Vec<Reason>,
}

/// One reason for refusal and how often it applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reason {
    /// The problem code the candidate would answer with.
    pub code: String,
    /// What, in short: the policies, the schema and field, the kind and direction.
    pub reason: String,
    /// How many messages.
    pub count: usize,
    /// Up to three of them.
    pub examples: Vec<String>,
}

/// The short reason a problem gives, for grouping.
fn reason_of(p: &Problem, e: &Envelope) -> String {
    if !p.policies.is_empty() {
        return p.policies.join(", ");
    }
    if let Some(v) = p.errors.first() {
        return format!(
            "{}@{} {} at {:?}",
            e.schema.id, e.schema.version, v.keyword, v.pointer
        );
    }
    match p.code.as_str() {
        "kind_not_permitted" => format!(
            "{} from {} to {}",
            e.kind, e.sender.region, e.recipient.region
        ),
        "schema_violation" => format!(
            "{} version {} not accepted for {}",
            e.schema.id, e.schema.version, e.kind
        ),
        _ => p.detail.clone(),
    }
}

/// Replays `envelopes` through `candidate`, with schema windows judged at `now`.
pub fn replay(
    candidate: &Agreement,
    schemas: &SchemaCatalog,
    envelopes: &[serde_json::Value],
    days: u32,
    now: OffsetDateTime,
) -> Result<Report, String> {
    let agreement = ActiveAgreement::candidate(candidate.clone()).map_err(|e| e.to_string())?;
    let mut report = Report {
        agreement: format!("{} v{}", candidate.terms.id, candidate.terms.version),
        days,
        messages: 0,
        accepted: 0,
        refused: Vec::new(),
    };
    for json in envelopes {
        let Ok(e) = serde_json::from_value::<Envelope>(json.clone()) else {
            continue;
        };
        report.messages += 1;
        match pipeline::check_terms(schemas, &agreement, &e, now) {
            Ok(()) => report.accepted += 1,
            Err(p) => {
                let reason = reason_of(&p, &e);
                match report
                    .refused
                    .iter_mut()
                    .find(|r| r.code == p.code && r.reason == reason)
                {
                    Some(r) => {
                        r.count += 1;
                        if r.examples.len() < 3 {
                            r.examples.push(e.id.to_string());
                        }
                    }
                    None => report.refused.push(Reason {
                        code: p.code.clone(),
                        reason,
                        count: 1,
                        examples: vec![e.id.to_string()],
                    }),
                }
            }
        }
    }
    report.refused.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.code.cmp(&b.code))
            .then(a.reason.cmp(&b.reason))
    });
    Ok(report)
}

/// Replays the last `days` of `store`'s traffic through `candidate`.
pub async fn against_store(
    candidate: &Agreement,
    schemas: &SchemaCatalog,
    store: &dyn Store,
    days: u32,
    now: OffsetDateTime,
) -> Result<Report, String> {
    let from = unix_millis(now - time::Duration::days(i64::from(days)));
    let envelopes = store
        .messages_since(from)
        .await
        .map_err(|e| e.to_string())?;
    replay(candidate, schemas, &envelopes, days, now)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "dry run of {} over the last {} days: {} messages",
            self.agreement, self.days, self.messages
        )?;
        writeln!(f, "  would accept {:>6}", self.accepted)?;
        writeln!(f, "  would refuse {:>6}", self.messages - self.accepted)?;
        for r in &self.refused {
            writeln!(
                f,
                "    {:>6}  {:<20} {}   e.g. {}",
                r.count,
                r.code,
                r.reason,
                r.examples.join(", ")
            )?;
        }
        Ok(())
    }
}
