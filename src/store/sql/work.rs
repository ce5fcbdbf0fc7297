//! Reading and handing out receipted work: the court work queue under leases (items
//! handed out to one poller for a while, retrieved and receipted only when the court
//! acknowledges them), and stored receipts for offline checks.

use sqlx::Row;
use time::OffsetDateTime;

use super::SqlStore;
use super::dialect::{Dialect, marks};
use super::read::{INBOX_COLUMNS, inbox_item};
use crate::clock::unix_millis;
use crate::ids::MessageId;
use crate::receipt::{Hop, Receipt};
use crate::store::{InboxItem, StoreError};

impl SqlStore {
    pub(super) async fn write_lease_work(
        &self,
        owner: &str,
        limit: i64,
        urgent_only: bool,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<InboxItem>, StoreError> {
        // Items another poller holds are skipped, not waited for.
        let skip_locked = match self.dialect {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE inbox SET lease_until = $1
             WHERE seq IN (SELECT seq FROM inbox WHERE court = $2 AND retrieved_at IS NULL
                             AND (lease_until IS NULL OR lease_until <= $3) AND priority >= $5
                           ORDER BY priority DESC, seq LIMIT $4{skip_locked})
             RETURNING seq"
        );
        let leased: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(unix_millis(until))
            .bind(owner)
            .bind(unix_millis(now))
            .bind(limit)
            .bind(if urgent_only {
                crate::envelope::Priority::High.rank()
            } else {
                i64::MIN
            })
            .fetch_all(&self.write)
            .await?;
        self.items_by_cursor(owner, &leased, &self.write).await
    }

    /// `owner`'s inbox items at `cursors` (others are left out), most urgent first.
    pub(super) async fn items_by_cursor(
        &self,
        owner: &str,
        cursors: &[i64],
        pool: &sqlx::AnyPool,
    ) -> Result<Vec<InboxItem>, StoreError> {
        if cursors.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{INBOX_COLUMNS} WHERE i.court = $1 AND i.seq IN ({}) ORDER BY i.priority DESC, i.seq",
            marks(2, cursors.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner);
        for c in cursors {
            query = query.bind(*c);
        }
        query
            .fetch_all(pool)
            .await?
            .iter()
            .map(inbox_item)
            .collect()
    }

    pub(super) async fn read_receipt_of(
        &self,
        message: &MessageId,
        hop: Hop,
    ) -> Result<Option<Receipt>, StoreError> {
        let row = sqlx::query("SELECT body FROM receipts WHERE message_id = $1 AND hop = $2")
            .bind(message.to_string())
            .bind(hop.as_str())
            .fetch_optional(&self.write)
            .await?;
        row.map(|r| {
            let body: String = r.try_get("body")?;
            serde_json::from_str(&body)
                .map_err(|e| StoreError::Backend(format!("stored receipt: {e}")))
        })
        .transpose()
    }

    pub(super) async fn read_receipts_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<crate::store::StoredReceipt>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.seq, r.body, m.digest FROM receipts r LEFT JOIN messages m ON m.id = r.message_id
             WHERE r.seq > $1 ORDER BY r.seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let body: String = r.try_get("body")?;
                let digest: Option<String> = r.try_get("digest")?;
                Ok(crate::store::StoredReceipt {
                    seq: r.try_get("seq")?,
                    receipt: serde_json::from_str(&body)
                        .map_err(|e| StoreError::Backend(format!("stored receipt: {e}")))?,
                    message_digest: digest
                        .map(|d| crate::ids::Sha256::parse(&d))
                        .transpose()
                        .map_err(|e| StoreError::Backend(format!("stored digest: {e}")))?,
                })
            })
            .collect()
    }

    /// Writes a consistent copy of this SQLite database to `to` (`VACUUM INTO`, one read
    /// transaction: what is committed meanwhile is not in it).
    pub async fn snapshot_into(&self, to: &std::path::Path) -> Result<(), StoreError> {
        if self.dialect != Dialect::Sqlite {
            return Err(StoreError::Backend(
                "a snapshot is taken of a SQLite database only".into(),
            ));
        }
        sqlx::query("VACUUM INTO $1")
            .bind(to.to_string_lossy().into_owned())
            .execute(&self.read)
            .await?;
        Ok(())
    }

    /// Every attachment held: its name and size.
    pub async fn attachment_list(&self) -> Result<Vec<(crate::ids::Sha256, u64)>, StoreError> {
        let rows = sqlx::query("SELECT sha256, bytes FROM attachments ORDER BY sha256")
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get("sha256")?;
                let bytes: i64 = r.try_get("bytes")?;
                Ok((
                    crate::ids::Sha256::parse(&name)
                        .map_err(|e| StoreError::Backend(format!("stored attachment: {e}")))?,
                    u64::try_from(bytes).unwrap_or_default(),
                ))
            })
            .collect()
    }

    /// The last audit entry: its sequence number and hash.
    pub async fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| Ok((r.try_get("seq")?, r.try_get("hash")?)))
            .transpose()
    }
}
