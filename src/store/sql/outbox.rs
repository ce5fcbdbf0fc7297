//! The relay's side of the outbox outside the group commit: the due items a replica
//! claims (on PostgreSQL, where several share the outbox), the stored envelope a
//! delivery sends, a retry put off, a message given up, and a peer's items brought
//! forward when it answers again. Each is its own statement or transaction.

use time::OffsetDateTime;

use super::SqlStore;
use super::exec::{Exec as _, args};
use super::tx::{finish_outbox, json_text, record};
use crate::ids::{MessageId, RegionId};
use crate::store::{Event, OutboxItem, StateChange, StoreError};

impl SqlStore {
    /// Up to `limit` due items for peers not in `skip` (see `read_due_outbox`), those
    /// another replica holds left out: on SQLite all of them (one process per file).
    pub(super) async fn claim_due(
        &self,
        now_ms: i64,
        limit: i64,
        skip: &[RegionId],
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let items = self.read_due_outbox(now_ms, limit, skip).await?;
        if self.dialect == super::Dialect::Sqlite || items.is_empty() {
            // One process per SQLite file: nobody to share the work with.
            return Ok(items);
        }
        let claimed = self.claim_outbox(&items, now_ms).await?;
        Ok(items
            .into_iter()
            .filter(|i| claimed.contains(&i.seq))
            .collect())
    }

    /// The stored text of message `id`'s envelope (`None` once purged, or unknown).
    pub(super) async fn stored_envelope_text(
        &self,
        id: &MessageId,
    ) -> Result<Option<String>, StoreError> {
        let row = self
            .reader()
            .await?
            .optional(
                "SELECT envelope, envelope_z FROM messages WHERE id = $1",
                args![&id.to_string()],
            )
            .await?;
        Ok(row
            .map(|r| super::packed::envelope_in(&r, 0, 1, &id.to_string()))
            .transpose()?
            .flatten())
    }

    /// `peer`'s pending items due later than `now_ms` fall due now.
    pub(super) async fn bring_forward(
        &self,
        peer: &RegionId,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET next_attempt_at = $1 WHERE peer = $2 AND state = 'pending' AND next_attempt_at > $1",
        )
        .bind(now_ms)
        .bind(peer.as_str())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// One more attempt counted, the next at `next_attempt_ms`, the lease let go.
    pub(super) async fn retry_later(
        &self,
        item: &OutboxItem,
        next_attempt_ms: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2,
                               lease_until = NULL, leased_by = NULL
             WHERE seq = $3 AND state = 'pending'",
        )
        .bind(next_attempt_ms)
        .bind(error)
        .bind(item.seq)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// The item given up (dead), with why and the request's change, in one transaction;
    /// nothing if it was no longer pending.
    pub(super) async fn give_up(
        &self,
        item: &OutboxItem,
        change: Option<&StateChange>,
        event: &Event,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.dialect.begin_write(&self.write).await?;
        if !finish_outbox(&mut tx, item, "dead", now).await? {
            return Ok(());
        }
        sqlx::query("UPDATE outbox SET last_error = $1 WHERE seq = $2")
            .bind(json_text(&event.detail)?)
            .bind(item.seq)
            .execute(&mut *tx)
            .await?;
        record(&mut tx, change, event, item.message_id, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// How long a replica holds the outbox items it claimed, unless told otherwise
/// ([`SqlStore::with_outbox_lease`]): longer than a delivery attempt may take (the relay's
/// request timeout), so a live replica never loses an item it is sending; a dead
/// replica's items pass to another when it ends.
pub const OUTBOX_LEASE_MS: i64 = 60_000;

impl SqlStore {
    /// Claims `items` for this replica for its lease time: the ones no other
    /// replica holds. Rows another replica is claiming at this moment are skipped, not
    /// waited for (`FOR UPDATE SKIP LOCKED`). Returns the sequence numbers claimed.
    async fn claim_outbox(
        &self,
        items: &[OutboxItem],
        now_ms: i64,
    ) -> Result<std::collections::BTreeSet<i64>, StoreError> {
        let sql = format!(
            "UPDATE outbox SET lease_until = $1, leased_by = $2
             WHERE seq IN (SELECT seq FROM outbox WHERE seq IN ({}) AND state = 'pending'
                           AND (lease_until IS NULL OR lease_until <= $3 OR leased_by = $2)
                           FOR UPDATE SKIP LOCKED)
             RETURNING seq",
            super::dialect::marks(4, items.len())
        );
        let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(now_ms.saturating_add(self.outbox_lease_ms))
            .bind(self.replica.as_ref())
            .bind(now_ms);
        for item in items {
            query = query.bind(item.seq);
        }
        let claimed: Vec<i64> = query.fetch_all(&self.write).await?;
        Ok(claimed.into_iter().collect())
    }
}
