//! The append-only, hash-chained audit log: each entry's hash covers the previous
//! entry's hash, so rewriting any entry breaks every hash after it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::crypto;
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
    let body = serde_json::json!({
        "seq": seq, "at": at, "actor": actor, "action": action,
        "subject": subject, "detail": detail, "prevHash": prev_hash,
    });
    // Invariant: a JSON value built from plain fields always canonicalises.
    let bytes = crypto::canonical_value(&body).expect("an audit entry always serialises");
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
}
