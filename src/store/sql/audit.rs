//! Reads of the audit log: for proof bundles, the entries about given subjects and the
//! chain's head; the columns every read of entries takes.
//!
//! Each entry's hash covers the previous entry's hash (see [`crate::audit`]). A new row
//! keeps `prev_hash` empty, since it is the previous row's `hash` (or the genesis hash
//! for the first entry): reading puts it back from that row ([`ENTRIES`]). Rows written
//! before keep theirs. What an entry's hash covers is unchanged, so the chain checks as
//! before: changing an entry breaks its own hash, and rewriting that breaks the next.

use super::SqlStore;
use super::read::audit_entry;
use crate::audit::AuditEntry;
use crate::store::StoreError;

/// The columns of audit entries (as [`super::read::audit_entry`] reads them), each with
/// its `prev_hash` put back; add `WHERE`/`ORDER BY` on `a`.
pub(super) const ENTRIES: &str =
    "SELECT a.seq, a.at, a.actor, a.action, a.subject, a.detail, a.hash,
        CASE WHEN a.prev_hash <> '' THEN a.prev_hash
             WHEN a.seq = 1 THEN '0000000000000000000000000000000000000000000000000000000000000000'
             ELSE p.hash END AS prev_hash
     FROM audit a LEFT JOIN audit p ON p.seq = a.seq - 1";

impl SqlStore {
    pub(super) async fn read_audit_about(
        &self,
        subjects: &[String],
    ) -> Result<Vec<AuditEntry>, StoreError> {
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{ENTRIES} WHERE a.subject IN ({}) ORDER BY a.seq",
            super::dialect::marks(1, subjects.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for s in subjects {
            query = query.bind(s.as_str());
        }
        query
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(audit_entry)
            .collect()
    }

    pub(super) async fn read_audit_head(&self) -> Result<Option<AuditEntry>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ENTRIES} ORDER BY a.seq DESC LIMIT 1"
        )))
        .fetch_optional(&self.read)
        .await?
        .as_ref()
        .map(audit_entry)
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_first_entry_reads_back_the_genesis_hash() {
        let first = format!("WHEN a.seq = 1 THEN '{}'", crate::audit::GENESIS);
        assert!(super::ENTRIES.contains(&first));
    }
}
