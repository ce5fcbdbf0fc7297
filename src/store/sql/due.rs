//! What the relay reads from the outbox at each wake: the pending items due now, most
//! urgent first, and when the next retry falls due.
//!
//! Each read costs about what it returns, however long the queue: a wake of the relay
//! comes with every delivery that ends, so a read that walked every pending item made
//! draining a queue of `n` items cost `n²`. Items are read peer by peer, each through its
//! own part of `outbox_pending_by_peer`, so the peers the relay skips (down, or with every
//! slot taken) are not walked past, and merged by priority; the next retry is a seek in
//! `outbox_pending_next`.

use super::SqlStore;
use super::exec::{Arg, Exec, Row};
use super::read::bad;
use crate::ids::{MessageId, RegionId, Sha256};
use crate::store::{OutboxItem, StoreError};

impl SqlStore {
    /// Up to `limit` pending items due at `now_ms` for peers not in `skip`, by priority
    /// (highest first) then position: an item waits while an earlier one of its request
    /// is pending, and while another replica's lease on it runs.
    pub(super) async fn read_due_outbox(
        &self,
        now_ms: i64,
        limit: i64,
        skip: &[RegionId],
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let mut reader = self.reader().await?;
        // The peers with pending items, one index seek each; then the items of each one
        // not skipped.
        let sql = self.due_sql();
        let mut due = Vec::new();
        for peer in pending_peers(&mut reader, self).await? {
            if skip.contains(&peer) {
                continue;
            }
            let bound = [
                Arg::from(now_ms),
                Arg::from(limit),
                Arg::from(peer.as_str()),
            ];
            for row in reader.rows(&sql, &bound).await? {
                due.push(outbox_item(&row)?);
            }
        }
        due.sort_by(OutboxItem::most_urgent_first);
        due.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(due)
    }

    /// The due-items statement of one peer (`$1` now, `$2` the limit, `$3` the peer).
    fn due_sql(&self) -> String {
        let from = self.dialect.through("outbox o", "outbox_pending_by_peer");
        format!(
            "SELECT o.seq, o.message_id, o.request_id, o.peer, o.priority, o.attempts,
                    m.digest,
                    CASE WHEN m.trace_id = '' THEN (SELECT q.trace_id FROM requests q WHERE q.id = m.id)
                         ELSE m.trace_id END AS trace_id
             FROM {from} JOIN messages m ON m.id = o.message_id
             WHERE o.state = 'pending' AND o.next_attempt_at <= $1 AND o.peer = $3
               AND (o.lease_until IS NULL OR o.lease_until <= $1 OR o.leased_by = '{}')
               AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.request_id = o.request_id
                               AND e.state = 'pending' AND e.seq < o.seq)
             ORDER BY o.priority DESC, o.seq LIMIT $2 + 0",
            self.replica
        )
    }

    /// When the next pending item for a peer not in `skip` falls due after `after_ms`, by
    /// its next attempt: a seek in `outbox_pending_next` to the first item due after
    /// `after_ms`, so the items due already (waiting for a slot, or for a peer that is
    /// down) are not looked at. An item another replica holds a lease on may fall due
    /// when the lease ends rather than at its next attempt; the relay looks again within
    /// its longest sleep (half a second) whatever this says, which notices a lease that
    /// ran out.
    pub(super) async fn read_next_due(
        &self,
        after_ms: i64,
        skip: &[RegionId],
    ) -> Result<Option<i64>, StoreError> {
        let not_skipped = if skip.is_empty() {
            String::new()
        } else {
            format!(
                " AND peer NOT IN ({})",
                super::dialect::marks(2, skip.len())
            )
        };
        let sql = format!(
            "SELECT next_attempt_at FROM {} WHERE state = 'pending' AND next_attempt_at > $1{not_skipped}
             ORDER BY next_attempt_at LIMIT 1",
            self.dialect.through("outbox", "outbox_pending_next"),
        );
        let mut bound = vec![Arg::from(after_ms)];
        bound.extend(skip.iter().map(|peer| Arg::from(peer.as_str())));
        let row = self.reader().await?.optional(&sql, &bound).await?;
        row.map_or(Ok(None), |r| r.optional_int(0))
    }
}

/// The peers with pending items, in order: a loose scan of `outbox_pending_by_peer`, one
/// seek per peer, however many items each has.
async fn pending_peers<E: Exec + ?Sized>(
    reader: &mut E,
    store: &SqlStore,
) -> Result<Vec<RegionId>, StoreError> {
    let index = store.dialect.through("outbox", "outbox_pending_by_peer");
    let sql = format!(
        "WITH RECURSIVE peers (p) AS (
             SELECT (SELECT MIN(peer) FROM {index} WHERE state = 'pending')
             UNION ALL
             SELECT (SELECT MIN(peer) FROM {index} WHERE state = 'pending' AND peer > p)
             FROM peers WHERE p IS NOT NULL
         )
         SELECT p FROM peers WHERE p IS NOT NULL"
    );
    reader
        .rows(&sql, &[])
        .await?
        .iter()
        .map(|r| RegionId::parse(r.text(0)?).map_err(|e| bad("peer", e)))
        .collect()
}

/// An outbox item from a row of the due-items statement.
fn outbox_item(r: &Row) -> Result<OutboxItem, StoreError> {
    Ok(OutboxItem {
        seq: r.int(0)?,
        message_id: MessageId::parse(r.text(1)?).map_err(|e| bad("message_id", e))?,
        request_id: MessageId::parse(r.text(2)?).map_err(|e| bad("request_id", e))?,
        peer: RegionId::parse(r.text(3)?).map_err(|e| bad("peer", e))?,
        priority: r.int(4)?,
        attempts: r.int(5)?,
        digest: Sha256::parse(&r.hex(6)?).map_err(|e| bad("digest", e))?,
        trace_id: r.optional_hex(7)?,
    })
}
