//! The retention purge on both engines ([`crate::store::Retention`]): the finished
//! requests of an agreement past the cutoff, and their purge in one transaction.

use std::collections::BTreeSet;

use async_trait::async_trait;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use super::SqlStore;
use super::dialect::{marks, of_requests, terminal};
use super::tx::{append_audit, serialise};
use crate::clock::{from_unix_millis, rfc3339, unix_millis};
use crate::ids::{AgreementId, MessageId, Sha256};
use crate::store::{Purged, Retention, StoreError, StoredBlob};

/// Ids bound in one statement (well under both engines' limits on parameters).
const CHUNK: usize = 500;

/// The requests of agreement `$1` that a purge with cutoff `$2` takes (see
/// [`crate::store::retention`] for the rule), oldest change first. They are read through
/// `requests_to_purge`, by when they were opened (`created_at < $2`: a request last
/// changed before the cutoff was opened before it, unless the clock went back between
/// the two, and then a later purge takes it), an index a change of state does not move.
fn candidates_sql() -> String {
    format!(
        "SELECT r.id FROM requests r
         WHERE r.agreement_id = $1 AND r.purged_at IS NULL AND r.created_at < $2 AND r.updated_at < $2
           AND {finished}
           AND NOT EXISTS (SELECT 1 FROM deadlines d WHERE d.request_id = r.id AND d.kind = 'warning' AND d.due_at >= $2)
           AND NOT EXISTS (SELECT 1 FROM frozen_assets f WHERE f.request_id = r.id AND f.lifted_at IS NULL)
           AND NOT EXISTS (SELECT 1 FROM inbox i WHERE i.request_id = r.id AND i.retrieved_at IS NULL)
           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.request_id = r.id AND o.state = 'pending')
         ORDER BY r.updated_at, r.id",
        finished = terminal("r.state")
    )
}

fn bad(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("stored {what} is unreadable: {e}"))
}

/// What a purge with this cutoff takes, read on `conn` (a read connection for a dry run,
/// the purge's own transaction otherwise).
async fn plan(
    conn: &mut AnyConnection,
    agreement: &AgreementId,
    cutoff: OffsetDateTime,
) -> Result<Purged, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(candidates_sql()))
        .bind(agreement.to_string())
        .bind(unix_millis(cutoff))
        .fetch_all(&mut *conn)
        .await?;
    let mut purged = Purged::default();
    let mut listed = BTreeSet::new();
    for chunk in ids.chunks(CHUNK) {
        let messages = format!(
            "SELECT COUNT(*) FROM messages m WHERE {}",
            of_requests(1, chunk.len())
        );
        let blobs = format!(
            "SELECT DISTINCT ma.sha256 FROM message_attachments ma JOIN messages m ON m.id = ma.message_id
             WHERE {}",
            of_requests(1, chunk.len())
        );
        let mut count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(messages));
        let mut digests = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(blobs));
        for id in chunk {
            count = count.bind(id);
            digests = digests.bind(id);
        }
        purged.messages += u64::try_from(count.fetch_one(&mut *conn).await?).unwrap_or_default();
        listed.extend(digests.fetch_all(&mut *conn).await?);
    }
    let taken: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    for sha256 in listed {
        // Kept if a message of a request not purged here lists it too.
        let listers: Vec<String> = sqlx::query_scalar(
            "SELECT CASE WHEN m.request_id = '' THEN m.id ELSE m.request_id END
             FROM message_attachments ma JOIN messages m ON m.id = ma.message_id
             WHERE ma.sha256 = $1",
        )
        .bind(&sha256)
        .fetch_all(&mut *conn)
        .await?;
        if listers.iter().any(|r| !taken.contains(r.as_str())) {
            continue;
        }
        let row = sqlx::query("SELECT bytes, stored_at FROM attachments WHERE sha256 = $1")
            .bind(&sha256)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(row) = row {
            purged.attachments.push(StoredBlob {
                sha256: Sha256::parse(&sha256).map_err(|e| bad("attachment digest", e))?,
                bytes: u64::try_from(row.try_get::<i64, _>("bytes")?).unwrap_or_default(),
                stored_at: from_unix_millis(row.try_get("stored_at")?),
            });
        }
    }
    purged.requests = ids
        .iter()
        .map(|id| MessageId::parse(id).map_err(|e| bad("request id", e)))
        .collect::<Result<_, _>>()?;
    Ok(purged)
}

#[async_trait]
impl Retention for SqlStore {
    async fn purge_plan(
        &self,
        agreement: &AgreementId,
        cutoff: OffsetDateTime,
    ) -> Result<Purged, StoreError> {
        let mut conn = self.read.acquire().await?;
        plan(&mut conn, agreement, cutoff).await
    }

    async fn purge(
        &self,
        agreement: &AgreementId,
        cutoff: OffsetDateTime,
        actor: &str,
        detail: serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<Purged, StoreError> {
        let at = unix_millis(now);
        let mut tx = self.dialect.begin_write(&self.write).await?;
        // Replicas purging at once take turns: the second then finds what the first left.
        serialise(&mut tx, &format!("purge:{agreement}")).await?;
        let purged = plan(&mut tx, agreement, cutoff).await?;
        if purged.is_empty() {
            return Ok(purged);
        }
        let ids: Vec<String> = purged.requests.iter().map(ToString::to_string).collect();
        for chunk in ids.chunks(CHUNK) {
            let list = marks(2, chunk.len());
            for sql in [
                format!("UPDATE requests SET purged_at = $1 WHERE id IN ({list})"),
                format!(
                    "UPDATE messages AS m SET envelope = 'null', envelope_z = NULL, purged_at = $1 WHERE {}",
                    of_requests(2, chunk.len())
                ),
                // Who may read a blob, from the messages that list it: these no longer do.
                format!(
                    "DELETE FROM message_attachments WHERE message_id IN
                     (SELECT m.id FROM messages m WHERE m.purged_at = $1 AND {})",
                    of_requests(2, chunk.len())
                ),
            ] {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(at);
                for id in chunk {
                    q = q.bind(id);
                }
                q.execute(&mut *tx).await?;
            }
        }
        for blob in &purged.attachments {
            for sql in [
                "DELETE FROM attachment_deliveries WHERE sha256 = $1",
                "DELETE FROM attachments_sent WHERE sha256 = $1",
                "DELETE FROM attachments WHERE sha256 = $1",
            ] {
                sqlx::query(sql)
                    .bind(blob.sha256.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let mut counts = serde_json::json!({
            "cutoff": rfc3339(cutoff),
            "requests": purged.requests.len(),
            "messages": purged.messages,
            "attachments": purged.attachments.len(),
            "attachmentBytes": purged.attachment_bytes(),
        });
        if let (Some(map), serde_json::Value::Object(more)) = (counts.as_object_mut(), detail) {
            map.extend(more);
        }
        let subject = agreement.to_string();
        append_audit(&mut tx, at, actor, "retention.purged", &subject, &counts).await?;
        tx.commit().await?;
        Ok(purged)
    }
}
