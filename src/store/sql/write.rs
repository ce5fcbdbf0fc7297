//! The store's operations: each is one `BEGIN … COMMIT`, except the pipeline's commits,
//! which share one with whatever arrives with them ([`super::group`]).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::SqlStore;
use super::exec::{Exec as _, args};
use super::group::{Done, Unit};
use super::tx::{finish_outbox, json_text, record};
use crate::agreement::Agreement;
use crate::audit::AuditEntry;
use crate::clock::unix_millis;
use crate::ids::{CourtId, MessageId, RegionId, Sha256};
use crate::receipt::Receipt;
use crate::store::{BlobSource, StoredBlob};
use crate::store::{
    Event, Idempotency, Inbound, InboundOutcome, InboxItem, InboxOrder, JobChange, Outbound,
    OutboundOutcome, OutboxItem, Passed, PrintJob, RequestRecord, RequestView, Returned, Revoke,
    StateChange, Store, StoreError, StoredAgreement,
};
use crate::workflow::deadlines::Clocks;

#[async_trait]
impl Store for SqlStore {
    async fn idempotent_answer(
        &self,
        owner: &str,
        key: &str,
    ) -> Result<Option<Idempotency>, StoreError> {
        self.read_idempotent(owner, key).await
    }

    async fn commit_outbound(&self, m: Outbound) -> Result<OutboundOutcome, StoreError> {
        match self.commit_unit(Unit::outbound(m)).await? {
            Done::Outbound(outcome) => Ok(outcome),
            other => Err(other.wrong()),
        }
    }

    async fn commit_inbound(&self, m: Inbound) -> Result<InboundOutcome, StoreError> {
        let id = m.sealed.envelope.id;
        match self.commit_unit(Unit::inbound(m)).await? {
            Done::Stored(true) => Ok(InboundOutcome::Committed),
            Done::Stored(false) => match self.inbound_receipt(&id).await? {
                Some((digest, receipt)) => Ok(InboundOutcome::Duplicate {
                    digest,
                    receipt: Box::new(receipt),
                }),
                None => Err(StoreError::Conflict(format!(
                    "message {id} is stored, but not as received"
                ))),
            },
            other => Err(other.wrong()),
        }
    }

    async fn inbound_receipt(
        &self,
        id: &MessageId,
    ) -> Result<Option<(Sha256, Receipt)>, StoreError> {
        self.read_inbound_receipt(id).await
    }

    async fn request(&self, id: &MessageId) -> Result<Option<RequestRecord>, StoreError> {
        self.read_request(id).await
    }

    async fn request_view(&self, id: &MessageId) -> Result<Option<RequestView>, StoreError> {
        self.read_request_view(id).await
    }

    async fn inbox(
        &self,
        court: &str,
        order: InboxOrder,
        limit: i64,
    ) -> Result<Vec<InboxItem>, StoreError> {
        self.read_inbox(court, order, limit).await
    }

    async fn lease_work(
        &self,
        owner: &str,
        limit: i64,
        urgent_only: bool,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<InboxItem>, StoreError> {
        self.write_lease_work(super::work::Lease {
            owner: owner.to_owned(),
            limit,
            urgent_only,
            now,
            until,
        })
        .await
    }

    async fn inbox_items(
        &self,
        owner: &str,
        cursors: &[i64],
    ) -> Result<Vec<InboxItem>, StoreError> {
        self.items_by_cursor(owner, cursors, &self.read).await
    }

    async fn receipt_of(
        &self,
        message: &MessageId,
        hop: crate::receipt::Hop,
    ) -> Result<Option<Receipt>, StoreError> {
        self.read_receipt_of(message, hop).await
    }

    async fn record_retrievals(
        &self,
        retrievals: Vec<(InboxItem, Option<Receipt>)>,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if retrievals.is_empty() {
            return Ok(());
        }
        let unit = Unit::Retrievals(Box::new(super::retrievals::Retrievals {
            items: retrievals,
            actor: actor.to_owned(),
            now,
        }));
        self.commit_unit(unit).await.map(|_| ())
    }

    async fn sent_message(
        &self,
        id: &MessageId,
    ) -> Result<Option<(MessageId, Sha256, Option<String>)>, StoreError> {
        self.read_sent_message(id).await
    }

    async fn record_peer_receipts(
        &self,
        receipts: &[Receipt],
        actor: &str,
        now: OffsetDateTime,
    ) -> Vec<Result<bool, StoreError>> {
        let units = receipts
            .iter()
            .map(|receipt| {
                Unit::PeerReceipt(Box::new(super::retrievals::PeerReceipt {
                    receipt: receipt.clone(),
                    actor: actor.to_owned(),
                    now,
                }))
            })
            .collect();
        let outcomes = self.commit_together(units).await;
        outcomes
            .into_iter()
            .map(|outcome| match outcome? {
                Done::Stored(kept) => Ok(kept),
                other => Err(other.wrong()),
            })
            .collect()
    }

    async fn due_receipts(
        &self,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<crate::store::ReceiptOutboxItem>, StoreError> {
        self.read_due_receipts(now_ms, limit).await
    }

    async fn next_receipt_due(&self) -> Result<Option<i64>, StoreError> {
        self.read_next_receipt_due().await
    }

    async fn receipt_attempts(
        &self,
        attempts: &[(i64, crate::store::ReceiptOutcome<'_>)],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        // One unit: plain updates by `seq`, nothing in them that could fail one alone.
        let attempts = attempts
            .iter()
            .map(|(seq, outcome)| super::receipts::ReceiptAttempt::new(*seq, outcome, now))
            .collect();
        self.commit_together(vec![Unit::ReceiptAttempts(attempts)])
            .await
            .into_iter()
            .find_map(Result::err)
            .map_or(Ok(()), Err)
    }

    async fn due_outbox(
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

    async fn envelope_text(&self, id: &MessageId) -> Result<Option<String>, StoreError> {
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

    async fn next_due(&self, after_ms: i64, skip: &[RegionId]) -> Result<Option<i64>, StoreError> {
        self.read_next_due(after_ms, skip).await
    }

    async fn outbox_delivered(
        &self,
        item: &OutboxItem,
        receipt: Receipt,
        change: Option<StateChange>,
        event: Event,
        clocks: Clocks,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let unit = super::group::Unit::Delivered(Box::new(super::group::Delivered {
            item: item.clone(),
            receipt,
            change,
            event,
            clocks,
            now,
        }));
        match self.commit_unit(unit).await? {
            Done::Followed(followed) => Ok(followed),
            other => Err(other.wrong()),
        }
    }

    async fn outbox_due_now(&self, peer: &RegionId, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET next_attempt_at = $1 WHERE peer = $2 AND state = 'pending' AND next_attempt_at > $1",
        )
        .bind(now_ms)
        .bind(peer.as_str())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn outbox_retry(
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

    async fn outbox_dead(
        &self,
        item: &OutboxItem,
        change: Option<StateChange>,
        event: Event,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.write.begin().await?;
        if !finish_outbox(&mut tx, item, "dead", now).await? {
            return Ok(());
        }
        sqlx::query("UPDATE outbox SET last_error = $1 WHERE seq = $2")
            .bind(json_text(&event.detail)?)
            .bind(item.seq)
            .execute(&mut *tx)
            .await?;
        record(&mut tx, change.as_ref(), &event, item.message_id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_entries(&self, after: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        self.read_audit(after, limit).await
    }

    async fn audit_about(&self, subjects: &[String]) -> Result<Vec<AuditEntry>, StoreError> {
        self.read_audit_about(subjects).await
    }

    async fn audit_head(&self) -> Result<Option<AuditEntry>, StoreError> {
        self.read_audit_head().await
    }

    async fn receipts_after(
        &self,
        after: &crate::store::ReceiptKey,
        limit: i64,
    ) -> Result<Vec<crate::store::StoredReceipt>, StoreError> {
        self.read_receipts_after(after, limit).await
    }

    async fn save_agreement(
        &self,
        document: &Agreement,
        digest: Sha256,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.write_agreement(document, digest, actor, now).await
    }

    async fn stored_agreements(&self) -> Result<Vec<StoredAgreement>, StoreError> {
        self.read_agreements().await
    }

    async fn revoke_agreement(
        &self,
        revoke: Revoke,
        now: OffsetDateTime,
    ) -> Result<Vec<Returned>, StoreError> {
        self.write_revocation(revoke, now).await
    }

    async fn record_job(
        &self,
        job: JobChange,
        change: StateChange,
        event: Event,
        idempotency: Option<Idempotency>,
        now: OffsetDateTime,
    ) -> Result<Option<Idempotency>, StoreError> {
        self.write_job_step(job, change, event, idempotency, now)
            .await
    }

    async fn holders(
        &self,
        asset_key: &str,
        request: &MessageId,
    ) -> Result<Vec<(MessageId, String)>, StoreError> {
        self.read_holders(asset_key, request).await
    }

    async fn freezes_under(&self, ruling: &str) -> Result<Vec<MessageId>, StoreError> {
        self.read_requests_by_ruling(ruling).await
    }

    async fn print_job(&self, id: &MessageId) -> Result<Option<PrintJob>, StoreError> {
        self.read_print_job(id).await
    }

    async fn pass_deadlines(&self, now: OffsetDateTime) -> Result<Vec<Passed>, StoreError> {
        self.write_passed(now).await
    }

    async fn requests(
        &self,
        court: &CourtId,
        overdue_at: Option<OffsetDateTime>,
        after: Option<crate::store::RequestCursor>,
        limit: i64,
    ) -> Result<Vec<RequestRecord>, StoreError> {
        self.read_requests(court, overdue_at, after, limit).await
    }

    async fn messages_since(&self, from_ms: i64) -> Result<Vec<serde_json::Value>, StoreError> {
        self.read_messages_since(from_ms).await
    }

    async fn attachment(
        &self,
        sha256: &Sha256,
    ) -> Result<Option<crate::store::StoredBlob>, StoreError> {
        self.read_attachment(sha256).await
    }

    async fn record_attachment(
        &self,
        sha256: &Sha256,
        bytes: u64,
        source: &crate::store::BlobSource,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.write_attachment(sha256, bytes, source, now).await
    }

    async fn attachment_visible(
        &self,
        sha256: &Sha256,
        who: &BlobSource,
    ) -> Result<bool, StoreError> {
        self.read_attachment_visible(sha256, who).await
    }

    async fn pending_attachment_bytes(&self, who: &BlobSource) -> Result<u64, StoreError> {
        self.read_pending_bytes(who).await
    }

    async fn unreferenced_attachments(
        &self,
        stored_before: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<StoredBlob>, StoreError> {
        self.read_unreferenced(stored_before, limit).await
    }

    async fn remove_unreferenced_attachment(
        &self,
        sha256: &Sha256,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.delete_unreferenced(sha256, now).await
    }

    async fn attachment_deliveries(
        &self,
        sha256: &Sha256,
    ) -> Result<Vec<crate::store::BlobDelivery>, StoreError> {
        self.read_attachment_deliveries(sha256).await
    }

    async fn attachment_sent(&self, sha256: &Sha256, peer: &RegionId) -> Result<bool, StoreError> {
        self.read_attachment_sent(sha256, peer).await
    }

    async fn record_attachment_sent(
        &self,
        sha256: &Sha256,
        peer: &RegionId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.write_attachment_sent(sha256, peer, now).await
    }

    async fn forget_attachment_sent(
        &self,
        sha256: &Sha256,
        peer: &RegionId,
    ) -> Result<(), StoreError> {
        self.delete_attachment_sent(sha256, peer).await
    }

    async fn record_admin_action(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        detail: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.write.begin().await?;
        super::tx::append_audit(&mut tx, unix_millis(now), actor, action, subject, detail).await?;
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
