//! Reading and handing out receipted work: the court work queue under leases (items
//! handed out to one poller for a while, retrieved and receipted only when the court
//! acknowledges them), and stored receipts for offline checks.

use sqlx::Row;
use time::OffsetDateTime;

use super::SqlStore;
use super::dialect::{Dialect, marks};
use super::exec::{Arg, Exec, args};
use super::group::{Done, Unit};
use super::read::{INBOX_COLUMNS, inbox_item};
use crate::clock::unix_millis;
use crate::ids::MessageId;
use crate::receipt::{Hop, Receipt};
use crate::store::{InboxItem, StoreError};

/// A lease on work-queue items (see `Store::lease_work`): a unit of the group commit, so
/// that it takes no turn of its own at the write connection; a preservation desk's
/// (`urgent_only`) goes in the urgent group, ahead of ordinary work.
pub(super) struct Lease {
    pub owner: String,
    pub limit: i64,
    pub urgent_only: bool,
    pub now: OffsetDateTime,
    pub until: OffsetDateTime,
}

/// The lease statement, with what follows its item query (PostgreSQL skips the items
/// another poller's transaction holds rather than waiting for them).
macro_rules! lease_sql {
    ($tail:literal) => {
        concat!(
            "UPDATE inbox SET lease_until = $1
             WHERE seq IN (SELECT seq FROM inbox WHERE court = $2 AND retrieved_at IS NULL
                             AND (lease_until IS NULL OR lease_until <= $3) AND priority >= $5
                           ORDER BY priority DESC, seq LIMIT $4 + 0",
            $tail,
            ") RETURNING seq"
        )
    };
}

/// Leases the items of `l`; their cursors.
pub(super) async fn lease<E: Exec + ?Sized>(tx: &mut E, l: &Lease) -> Result<Vec<i64>, StoreError> {
    let sql = if tx.postgres() {
        lease_sql!(" FOR UPDATE SKIP LOCKED")
    } else {
        lease_sql!("")
    };
    let least = if l.urgent_only {
        crate::envelope::Priority::High.rank()
    } else {
        i64::MIN
    };
    let rows = tx
        .rows(
            sql,
            args![
                unix_millis(l.until),
                l.owner.as_str(),
                unix_millis(l.now),
                l.limit,
                least
            ],
        )
        .await?;
    rows.iter().map(|r| r.int(0)).collect()
}

impl SqlStore {
    pub(super) async fn write_lease_work(
        &self,
        lease: Lease,
    ) -> Result<Vec<InboxItem>, StoreError> {
        let owner = lease.owner.clone();
        match self.commit_unit(Unit::Lease(Box::new(lease))).await? {
            Done::Leased(seqs) => self.items_by_cursor(&owner, &seqs).await,
            other => Err(other.wrong()),
        }
    }

    /// `owner`'s inbox items at `cursors` (others are left out), most urgent first.
    pub(super) async fn items_by_cursor(
        &self,
        owner: &str,
        cursors: &[i64],
    ) -> Result<Vec<InboxItem>, StoreError> {
        if cursors.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{INBOX_COLUMNS} WHERE i.court = $1 AND i.seq IN ({}) ORDER BY i.priority DESC, i.seq",
            marks(2, cursors.len())
        );
        let mut bound = vec![Arg::from(owner)];
        bound.extend(cursors.iter().map(|c| Arg::from(*c)));
        self.reader()
            .await?
            .rows(&sql, &bound)
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
        let row = sqlx::query(
            "SELECT r.body, r.issuer, r.at AS receipt_at, r.signature AS receipt_signature, m.digest
             FROM receipts r LEFT JOIN messages m ON m.id = r.message_id
             WHERE r.message_id = $1 AND r.hop = $2",
        )
        .bind(message.to_string())
        .bind(hop.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            let body: String = r.try_get("body")?;
            let issuer: String = r.try_get("issuer")?;
            let digest = super::read::optional_hex(&r, "digest")?;
            let (at, signature) = super::receipt_rows::at_and_signature(&r)?;
            super::receipt_rows::ReceiptRow {
                body: &body,
                message_id: &message.to_string(),
                hop: hop.as_str(),
                issuer: &issuer,
                at,
                signature: signature.as_deref(),
                digest: digest.as_deref(),
            }
            .receipt()
        })
        .transpose()
    }

    pub(super) async fn read_receipts_after(
        &self,
        after: &crate::store::ReceiptKey,
        limit: i64,
    ) -> Result<Vec<crate::store::StoredReceipt>, StoreError> {
        // Paged by the receipts' key, the table's B-tree on SQLite (migration 0028) and
        // its unique index on PostgreSQL.
        let rows = sqlx::query(
            "SELECT r.body, r.message_id, r.hop, r.issuer, r.at AS receipt_at, r.signature AS receipt_signature, m.digest
             FROM receipts r LEFT JOIN messages m ON m.id = r.message_id
             WHERE (r.message_id, r.hop, r.issuer) > ($1, $2, $3)
             ORDER BY r.message_id, r.hop, r.issuer LIMIT $4 + 0",
        )
        .bind(&after.message_id)
        .bind(&after.hop)
        .bind(&after.issuer)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let body: String = r.try_get("body")?;
                let digest = super::read::optional_hex(r, "digest")?;
                let (at, signature) = super::receipt_rows::at_and_signature(r)?;
                let key = crate::store::ReceiptKey {
                    message_id: r.try_get("message_id")?,
                    hop: r.try_get("hop")?,
                    issuer: r.try_get("issuer")?,
                };
                Ok(crate::store::StoredReceipt {
                    receipt: super::receipt_rows::ReceiptRow {
                        body: &body,
                        message_id: &key.message_id,
                        hop: &key.hop,
                        issuer: &key.issuer,
                        at,
                        signature: signature.as_deref(),
                        digest: digest.as_deref(),
                    }
                    .receipt()?,
                    key,
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
        row.map(|r| Ok((r.try_get("seq")?, super::read::hex_text(&r, "hash")?)))
            .transpose()
    }
}
