//! The SQLite engine's attachment records: blobs held, their deliveries, the peers each
//! was sent to, and who may read one.

use sqlx::Row;
use time::OffsetDateTime;

use super::SqlStore;
use super::exec::{Exec, args};
use super::tx::append_audit;
use crate::clock::{from_unix_millis, unix_millis};
use crate::envelope::Envelope;
use crate::ids::{RegionId, Sha256};
use crate::store::{BlobDelivery, BlobSource, StoreError, StoredBlob};

fn size(bytes: u64) -> Result<i64, StoreError> {
    i64::try_from(bytes).map_err(|_| StoreError::Backend(format!("{bytes} bytes is too large")))
}

/// Records, inside the transaction that stores a message, which attachments it lists:
/// its two courts may read them. Every blob must still be held: one removed as unlisted
/// since the pipeline checked it fails the commit (`Conflict`), so nothing is stored that
/// names a blob this gateway no longer has.
pub(super) async fn insert_message_attachments<E: Exec + ?Sized>(
    tx: &mut E,
    e: &Envelope,
) -> Result<(), StoreError> {
    for a in &e.attachments {
        let sha256 = a.sha256.to_string();
        tx.execute(
            "INSERT INTO message_attachments (sha256, message_id, sender_court, recipient_court)
             SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM attachments WHERE sha256 = $1)
             ON CONFLICT (sha256, message_id) DO NOTHING",
            args![
                &sha256,
                &e.id.to_string(),
                e.sender.court.as_str(),
                e.recipient.court.as_str(),
            ],
        )
        .await?;
        let held = tx
            .optional(
                "SELECT 1 FROM attachments WHERE sha256 = $1",
                args![&sha256],
            )
            .await?;
        if held.is_none() {
            return Err(StoreError::AttachmentGone(format!(
                "attachment {} was removed (no message listed it) before this message was stored",
                a.sha256
            )));
        }
    }
    Ok(())
}

impl SqlStore {
    pub(super) async fn read_attachment(
        &self,
        sha256: &Sha256,
    ) -> Result<Option<StoredBlob>, StoreError> {
        let row = sqlx::query("SELECT bytes, stored_at FROM attachments WHERE sha256 = $1")
            .bind(sha256.to_string())
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| {
            let bytes: i64 = r.try_get("bytes")?;
            Ok(StoredBlob {
                sha256: *sha256,
                bytes: u64::try_from(bytes).unwrap_or_default(),
                stored_at: from_unix_millis(r.try_get("stored_at")?),
            })
        })
        .transpose()
    }

    pub(super) async fn write_attachment(
        &self,
        sha256: &Sha256,
        bytes: u64,
        source: &BlobSource,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let at = unix_millis(now);
        let mut tx = self.dialect.begin_write(&self.write).await?;
        let new = sqlx::query(
            "INSERT INTO attachments (sha256, bytes, stored_at) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256.to_string())
        .bind(size(bytes)?)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        sqlx::query(
            "INSERT INTO attachment_deliveries (sha256, source, stored, at) VALUES ($1, $2, $3, $4)",
        )
        .bind(sha256.to_string())
        .bind(source.to_string())
        .bind(i64::from(new))
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if new {
            let detail = serde_json::json!({"bytes": bytes});
            let subject = sha256.to_string();
            let actor = source.to_string();
            append_audit(&mut tx, at, &actor, "attachment.stored", &subject, &detail).await?;
        }
        tx.commit().await?;
        Ok(new)
    }

    pub(super) async fn read_attachment_visible(
        &self,
        sha256: &Sha256,
        who: &BlobSource,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = match who {
            BlobSource::Court(court) => {
                sqlx::query_scalar(
                    "SELECT 1 FROM attachment_deliveries WHERE sha256 = $1 AND source = $2
                     UNION ALL
                     SELECT 1 FROM message_attachments WHERE sha256 = $1 AND (sender_court = $3 OR recipient_court = $3)
                     LIMIT 1",
                )
                .bind(sha256.to_string())
                .bind(who.to_string())
                .bind(court.as_str())
                .fetch_optional(&self.read)
                .await?
            }
            BlobSource::Gateway(peer) => {
                sqlx::query_scalar(
                    "SELECT 1 FROM attachment_deliveries WHERE sha256 = $1 AND source = $2
                     UNION ALL
                     SELECT 1 FROM attachments_sent WHERE sha256 = $1 AND peer = $3
                     LIMIT 1",
                )
                .bind(sha256.to_string())
                .bind(who.to_string())
                .bind(peer.as_str())
                .fetch_optional(&self.read)
                .await?
            }
        };
        Ok(found.is_some())
    }

    pub(super) async fn read_pending_bytes(&self, who: &BlobSource) -> Result<u64, StoreError> {
        let bytes: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(a.bytes), 0) AS BIGINT) FROM attachments a
             WHERE a.sha256 IN (SELECT sha256 FROM attachment_deliveries WHERE source = $1)
               AND NOT EXISTS (SELECT 1 FROM message_attachments m WHERE m.sha256 = a.sha256)",
        )
        .bind(who.to_string())
        .fetch_one(&self.read)
        .await?;
        Ok(u64::try_from(bytes).unwrap_or_default())
    }

    pub(super) async fn read_unreferenced(
        &self,
        stored_before: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<StoredBlob>, StoreError> {
        let rows = sqlx::query(
            "SELECT sha256, bytes, stored_at FROM attachments a
             WHERE stored_at < $1
               AND NOT EXISTS (SELECT 1 FROM message_attachments m WHERE m.sha256 = a.sha256)
             ORDER BY stored_at LIMIT $2 + 0",
        )
        .bind(unix_millis(stored_before))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let text: String = r.try_get("sha256")?;
                let bytes: i64 = r.try_get("bytes")?;
                Ok(StoredBlob {
                    sha256: Sha256::parse(&text)
                        .map_err(|e| StoreError::Backend(format!("attachments.sha256: {e}")))?,
                    bytes: u64::try_from(bytes).unwrap_or_default(),
                    stored_at: from_unix_millis(r.try_get("stored_at")?),
                })
            })
            .collect()
    }

    pub(super) async fn delete_unreferenced(
        &self,
        sha256: &Sha256,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = self.dialect.begin_write(&self.write).await?;
        let listed: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM message_attachments WHERE sha256 = $1 LIMIT 1")
                .bind(sha256.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        if listed.is_some() {
            return Ok(false);
        }
        let key = sha256.to_string();
        for delete in [
            "DELETE FROM attachment_deliveries WHERE sha256 = $1",
            "DELETE FROM attachments_sent WHERE sha256 = $1",
        ] {
            sqlx::query(delete).bind(&key).execute(&mut *tx).await?;
        }
        let gone = sqlx::query("DELETE FROM attachments WHERE sha256 = $1")
            .bind(&key)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if gone {
            let detail = serde_json::json!({"reason": "no message lists it"});
            append_audit(
                &mut tx,
                unix_millis(now),
                "system",
                "attachment.removed",
                &key,
                &detail,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(gone)
    }

    pub(super) async fn read_attachment_sent(
        &self,
        sha256: &Sha256,
        peer: &RegionId,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM attachments_sent WHERE sha256 = $1 AND peer = $2")
                .bind(sha256.to_string())
                .bind(peer.as_str())
                .fetch_optional(&self.read)
                .await?;
        Ok(found.is_some())
    }

    pub(super) async fn write_attachment_sent(
        &self,
        sha256: &Sha256,
        peer: &RegionId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO attachments_sent (sha256, peer, sent_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(sha256.to_string())
        .bind(peer.as_str())
        .bind(unix_millis(now))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub(super) async fn delete_attachment_sent(
        &self,
        sha256: &Sha256,
        peer: &RegionId,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM attachments_sent WHERE sha256 = $1 AND peer = $2")
            .bind(sha256.to_string())
            .bind(peer.as_str())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub(super) async fn read_attachment_deliveries(
        &self,
        sha256: &Sha256,
    ) -> Result<Vec<BlobDelivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT source, stored, at FROM attachment_deliveries WHERE sha256 = $1 ORDER BY seq",
        )
        .bind(sha256.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BlobDelivery {
                    source: r.try_get("source")?,
                    stored: r.try_get::<i64, _>("stored")? != 0,
                    at: from_unix_millis(r.try_get("at")?),
                })
            })
            .collect()
    }
}
