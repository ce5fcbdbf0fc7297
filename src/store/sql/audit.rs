//! Reads of the audit log for proof bundles: the entries about given subjects, and the
//! chain's head.

use super::SqlStore;
use super::read::audit_entry;
use crate::audit::AuditEntry;
use crate::store::StoreError;

impl SqlStore {
    pub(super) async fn read_audit_about(
        &self,
        subjects: &[String],
    ) -> Result<Vec<AuditEntry>, StoreError> {
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT * FROM audit WHERE subject IN ({}) ORDER BY seq",
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
        sqlx::query("SELECT * FROM audit ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&self.read)
            .await?
            .as_ref()
            .map(audit_entry)
            .transpose()
    }
}
