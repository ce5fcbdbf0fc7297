//! The store's operations: each is one `BEGIN … COMMIT`, except the pipeline's commits,
//! which share one with whatever arrives with them ([`super::group`]).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::SqlStore;
use super::group::{Done, Unit};
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
        let done = self.commit_unit(Unit::inbound(m)).await;
        self.inbound_outcome(id, done).await
    }

    async fn commit_inbound_together(
        &self,
        messages: Vec<Inbound>,
    ) -> Vec<Result<InboundOutcome, StoreError>> {
        let ids: Vec<MessageId> = messages.iter().map(|m| m.sealed.envelope.id).collect();
        let units = messages.into_iter().map(Unit::inbound).collect();
        let done = self.commit_together(units).await;
        let mut outcomes = Vec::with_capacity(ids.len());
        for (id, done) in ids.into_iter().zip(done) {
            outcomes.push(self.inbound_outcome(id, done).await);
        }
        outcomes
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
        self.items_by_cursor(owner, cursors).await
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
        self.commit_retrievals(retrievals, actor, now).await
    }

    async fn sent_message(
        &self,
        id: &MessageId,
    ) -> Result<Option<crate::store::SentMessage>, StoreError> {
        self.read_sent_message(id).await
    }

    async fn record_peer_receipts(
        &self,
        receipts: &[Receipt],
        actor: &str,
        now: OffsetDateTime,
    ) -> Vec<Result<bool, StoreError>> {
        self.commit_peer_receipts(receipts, actor, now).await
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
        self.commit_receipt_attempts(attempts, now).await
    }

    async fn due_outbox(
        &self,
        now_ms: i64,
        limit: i64,
        skip: &[RegionId],
    ) -> Result<Vec<OutboxItem>, StoreError> {
        self.claim_due(now_ms, limit, skip).await
    }

    async fn envelope_text(&self, id: &MessageId) -> Result<Option<String>, StoreError> {
        self.stored_envelope_text(id).await
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
        self.bring_forward(peer, now_ms).await
    }

    async fn outbox_retry(
        &self,
        item: &OutboxItem,
        next_attempt_ms: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        self.retry_later(item, next_attempt_ms, error).await
    }

    async fn outbox_dead(
        &self,
        item: &OutboxItem,
        change: Option<StateChange>,
        event: Event,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.give_up(item, change.as_ref(), &event, now).await
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
        let mut tx = self.dialect.begin_write(&self.write).await?;
        super::tx::append_audit(&mut tx, unix_millis(now), actor, action, subject, detail).await?;
        tx.commit().await?;
        Ok(())
    }
}
