//! The append-only, hash-chained audit log: each entry's hash covers the previous
//! entry's hash, so rewriting any entry breaks every hash after it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical::{Member, canonical_members};
use crate::ids::Sha256;

/// The hash that precedes the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuditEntry {
    /// Position in the log, from 1.
    pub seq: i64,
    /// When, in Unix milliseconds.
    pub at: i64,
    /// Who: `court:SC0104`, `gateway:CQ`, `admin:...`, `system`.
    pub actor: String,
    /// What, e.g. `request.submitted`, `message.relayed`.
    pub action: String,
    /// The message or request it concerns.
    pub subject: String,
    /// Anything else worth keeping.
    pub detail: Value,
    /// Hash of the previous entry (or [`GENESIS`]).
    pub prev_hash: String,
    /// Hash of this entry.
    pub hash: String,
}

/// The hash of an entry: SHA-256 over the canonical form of everything but `hash`.
pub fn entry_hash(
    seq: i64,
    at: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &Value,
    prev_hash: &str,
) -> String {
    // The object {seq, at, actor, action, subject, detail, prevHash}, its members in
    // canonical order, written without a copy of `detail`.
    let bytes = canonical_members(&[
        ("action", Member::Str(action)),
        ("actor", Member::Str(actor)),
        ("at", Member::Int(at)),
        ("detail", Member::Value(detail)),
        ("prevHash", Member::Str(prev_hash)),
        ("seq", Member::Int(seq)),
        ("subject", Member::Str(subject)),
    ])
    // Invariant: writing to a Vec does not fail, nor does a `Value` (its numbers are finite).
    .expect("an audit entry always serialises");
    Sha256::digest(&bytes).to_string()
}

/// Checks a run of entries: consecutive, each chained to the one before, each hash right.
/// Returns the first broken sequence number.
pub fn verify_chain(entries: &[AuditEntry]) -> Result<(), i64> {
    let mut prev: Option<&AuditEntry> = None;
    for e in entries {
        let expected_prev = prev.map(|p| p.hash.as_str()).unwrap_or(GENESIS);
        let consecutive = prev.is_none_or(|p| p.seq + 1 == e.seq);
        let right = entry_hash(
            e.seq,
            e.at,
            &e.actor,
            &e.action,
            &e.subject,
            &e.detail,
            &e.prev_hash,
        ) == e.hash;
        if !consecutive || !right || (prev.is_some() || e.seq == 1) && e.prev_hash != expected_prev
        {
            return Err(e.seq);
        }
        prev = Some(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for seq in 1..=n {
            let prev_hash = out
                .last()
                .map(|e| e.hash.clone())
                .unwrap_or_else(|| GENESIS.to_owned());
            let detail = json!({"n": seq});
            let hash = entry_hash(
                seq,
                seq * 10,
                "court:SC0104",
                "request.submitted",
                "m",
                &detail,
                &prev_hash,
            );
            out.push(AuditEntry {
                seq,
                at: seq * 10,
                actor: "court:SC0104".into(),
                action: "request.submitted".into(),
                subject: "m".into(),
                detail,
                prev_hash,
                hash,
            });
        }
        out
    }

    #[test]
    fn an_untouched_chain_verifies_and_a_rewritten_entry_is_found() {
        let mut log = chain(5);
        assert_eq!(verify_chain(&log), Ok(()));
        log[2].actor = "court:SC0105".into();
        assert_eq!(verify_chain(&log), Err(3));
        let mut log = chain(5);
        log.remove(1);
        assert_eq!(verify_chain(&log), Err(3));
    }

    /// What the hash covers: SHA-256 of the RFC 8785 form of the entry's fields but
    /// `hash`, here made by the reference crate from the whole object, for details with
    /// escapes, non-ASCII keys (sorted by UTF-16) and nesting.
    #[test]
    fn the_hash_is_of_the_canonical_form_of_the_entry_but_its_hash() {
        let details = [
            json!({}),
            json!({"n": 1, "why": "a \"quoted\" \\ line\n", "list": [1.5, null, true]}),
            json!({"\u{10000}": 1, "\u{ff61}": 2, "b": {"z": [], "a": {"é": "法院"}}}),
        ];
        for (i, detail) in details.iter().enumerate() {
            let (seq, at) = (i as i64 + 1, 1_796_000_000_000 + i as i64);
            let subject = "0193a1b2-\u{7}";
            let whole = json!({
                "seq": seq, "at": at, "actor": "court:SC0104", "action": "message.relayed",
                "subject": subject, "detail": detail, "prevHash": GENESIS,
            });
            let reference = serde_json_canonicalizer::to_vec(&whole).unwrap();
            assert_eq!(
                entry_hash(
                    seq,
                    at,
                    "court:SC0104",
                    "message.relayed",
                    subject,
                    detail,
                    GENESIS
                ),
                Sha256::digest(&reference).to_string(),
                "{whole}"
            );
        }
    }
}
