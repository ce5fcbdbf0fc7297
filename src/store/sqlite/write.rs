//! The SQLite engine's transactions: each public operation is one `BEGIN … COMMIT`.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{Row, Sqlite, Transaction};
use time::OffsetDateTime;

use super::SqliteStore;
use crate::audit::{self, AuditEntry};
use crate::clock::unix_millis;
use crate::envelope::Sealed;
use crate::ids::{CourtId, MessageId, Sha256};
use crate::receipt::Receipt;
use crate::store::{
    Event, Idempotency, Inbound, InboundOutcome, InboxItem, Outbound, OutboundOutcome, OutboxItem,
    RequestRecord, RequestView, StateChange, Store, StoreError,
};

type Tx<'a> = Transaction<'a, Sqlite>;

fn json_text(v: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(e.to_string()))
}

async fn insert_message(
    tx: &mut Tx<'_>,
    sealed: &Sealed,
    direction: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let e = &sealed.envelope;
    let request_id = e.in_reply_to.unwrap_or(e.id);
    let done = sqlx::query(
        "INSERT INTO messages (id, direction, kind, request_id, sender_court, recipient_court, agreement_id,
                               agreement_sha256, digest, envelope, test, created_at, committed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
    )
    .bind(e.id.to_string())
    .bind(direction)
    .bind(e.kind.as_str())
    .bind(request_id.to_string())
    .bind(e.sender.court.as_str())
    .bind(e.recipient.court.as_str())
    .bind(e.agreement.id.as_str())
    .bind(e.agreement.sha256.to_string())
    .bind(sealed.digest.to_string())
    .bind(json_text(&sealed.json)?)
    .bind(e.test)
    .bind(unix_millis(e.created_at))
    .bind(unix_millis(now))
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The state a request is in.
async fn current_state(tx: &mut Tx<'_>, request_id: &MessageId) -> Result<String, StoreError> {
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM requests WHERE id = ?")
        .bind(request_id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    state.ok_or_else(|| StoreError::Conflict(format!("no request {request_id}")))
}

/// Applies a state change and writes its history and audit entries.
async fn apply(
    tx: &mut Tx<'_>,
    change: &StateChange,
    event: &Event,
    message_id: Option<MessageId>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let at = unix_millis(now);
    let state = match change {
        StateChange::Open(r) => {
            sqlx::query(
                "INSERT INTO requests (id, family, role, requesting_court, requested_court, state, agreement_id,
                                       agreement_sha256, priority, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(r.id.to_string())
            .bind(r.family.as_str())
            .bind(r.role.as_str())
            .bind(r.requesting_court.as_str())
            .bind(r.requested_court.as_str())
            .bind(&r.state)
            .bind(r.agreement_id.as_str())
            .bind(r.agreement_sha256.to_string())
            .bind(r.priority)
            .bind(unix_millis(r.created_at))
            .bind(at)
            .execute(&mut **tx)
            .await?;
            r.state.clone()
        }
        StateChange::Advance { request_id, state } => {
            let done = sqlx::query("UPDATE requests SET state = ?, updated_at = ? WHERE id = ?")
                .bind(state)
                .bind(at)
                .bind(request_id.to_string())
                .execute(&mut **tx)
                .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Conflict(format!(
                    "no request {request_id} to move to {state}"
                )));
            }
            state.clone()
        }
        StateChange::AdvanceFrom {
            request_id,
            from,
            state,
        } => {
            sqlx::query("UPDATE requests SET state = ?, updated_at = ? WHERE id = ? AND state = ?")
                .bind(state)
                .bind(at)
                .bind(request_id.to_string())
                .bind(from)
                .execute(&mut **tx)
                .await?;
            current_state(tx, request_id).await?
        }
        StateChange::Note { request_id } => current_state(tx, request_id).await?,
    };
    let request_id = change.request_id().to_string();
    sqlx::query(
        "INSERT INTO history (request_id, at, state, event, actor, message_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&request_id)
    .bind(at)
    .bind(&state)
    .bind(&event.name)
    .bind(&event.actor)
    .bind(message_id.map(|m| m.to_string()))
    .bind(json_text(&event.detail)?)
    .execute(&mut **tx)
    .await?;
    let subject = message_id.map(|m| m.to_string()).unwrap_or(request_id);
    append_audit(
        tx,
        at,
        &event.actor,
        &format!("request.{}", event.name),
        &subject,
        &event.detail,
    )
    .await
}

/// Appends one entry to the hash-chained audit log.
async fn append_audit(
    tx: &mut Tx<'_>,
    at: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &Value,
) -> Result<(), StoreError> {
    let last = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    let (seq, prev_hash) = match last {
        Some(row) => (
            row.try_get::<i64, _>("seq")? + 1,
            row.try_get::<String, _>("hash")?,
        ),
        None => (1, audit::GENESIS.to_owned()),
    };
    let hash = audit::entry_hash(seq, at, actor, action, subject, detail, &prev_hash);
    sqlx::query("INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(seq)
        .bind(at)
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(json_text(detail)?)
        .bind(prev_hash)
        .bind(hash)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Applies `change` with its history and audit entries, or, with no change (test
/// messages, plain deliveries), writes only the audit entry.
async fn record(
    tx: &mut Tx<'_>,
    change: Option<&StateChange>,
    event: &Event,
    message_id: MessageId,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    match change {
        Some(change) => apply(tx, change, event, Some(message_id), now).await,
        None => {
            let action = format!("message.{}", event.name);
            append_audit(
                tx,
                unix_millis(now),
                &event.actor,
                &action,
                &message_id.to_string(),
                &event.detail,
            )
            .await
        }
    }
}

async fn insert_receipt(
    tx: &mut Tx<'_>,
    request_id: MessageId,
    receipt: &Receipt,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO receipts (request_id, message_id, hop, issuer, body) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (message_id, hop, issuer) DO NOTHING",
    )
    .bind(request_id.to_string())
    .bind(receipt.message_id.to_string())
    .bind(receipt.hop.as_str())
    .bind(receipt.issuer.as_str())
    .bind(json_text(receipt)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn finish_outbox(
    tx: &mut Tx<'_>,
    item: &OutboxItem,
    state: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE outbox SET state = ?, done_at = ?, attempts = attempts + 1 WHERE seq = ? AND state = 'pending'")
        .bind(state)
        .bind(unix_millis(now))
        .bind(item.seq)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn idempotent_answer(
        &self,
        court: &CourtId,
        key: &str,
    ) -> Result<Option<Idempotency>, StoreError> {
        self.read_idempotent(court, key).await
    }

    async fn commit_outbound(&self, m: Outbound) -> Result<OutboundOutcome, StoreError> {
        let mut tx = self.write.begin().await?;
        if let Some(idem) = &m.idempotency
            && let Some(first) = Self::idempotent_in(&mut tx, &idem.court, &idem.key).await?
        {
            return Ok(OutboundOutcome::Replay(first));
        }
        let id = m.sealed.envelope.id;
        if !insert_message(&mut tx, &m.sealed, "out", m.now).await? {
            return Err(StoreError::Conflict(format!(
                "message {id} is already stored"
            )));
        }
        apply(&mut tx, &m.change, &m.event, Some(id), m.now).await?;
        let request_id = m.change.request_id();
        insert_receipt(&mut tx, request_id, &m.receipt).await?;
        sqlx::query(
            "INSERT INTO outbox (message_id, request_id, peer, priority, state, next_attempt_at, created_at)
             VALUES (?, ?, ?, ?, 'pending', ?, ?)",
        )
        .bind(id.to_string())
        .bind(request_id.to_string())
        .bind(m.peer.as_str())
        .bind(m.sealed.envelope.priority.rank())
        .bind(unix_millis(m.now))
        .bind(unix_millis(m.now))
        .execute(&mut *tx)
        .await?;
        if let Some(idem) = &m.idempotency {
            sqlx::query(
                "INSERT INTO idempotency (court, key, request_hash, status, body, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(idem.court.as_str())
            .bind(&idem.key)
            .bind(idem.request_hash.to_string())
            .bind(i64::from(idem.status))
            .bind(json_text(&idem.body)?)
            .bind(unix_millis(m.now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(OutboundOutcome::Committed)
    }

    async fn commit_inbound(&self, m: Inbound) -> Result<InboundOutcome, StoreError> {
        let mut tx = self.write.begin().await?;
        let id = m.sealed.envelope.id;
        if !insert_message(&mut tx, &m.sealed, "in", m.now).await? {
            drop(tx);
            return match self.inbound_receipt(&id).await? {
                Some((digest, receipt)) => Ok(InboundOutcome::Duplicate {
                    digest,
                    receipt: Box::new(receipt),
                }),
                None => Err(StoreError::Conflict(format!(
                    "message {id} is stored, but not as received"
                ))),
            };
        }
        let request_id = m.sealed.envelope.in_reply_to.unwrap_or(id);
        record(&mut tx, m.change.as_ref(), &m.event, id, m.now).await?;
        insert_receipt(&mut tx, request_id, &m.receipt).await?;
        if let Some(court) = &m.inbox {
            sqlx::query(
                "INSERT INTO inbox (court, message_id, request_id, kind, priority, received_at) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(court.as_str())
            .bind(id.to_string())
            .bind(request_id.to_string())
            .bind(m.sealed.envelope.kind.as_str())
            .bind(m.sealed.envelope.priority.rank())
            .bind(unix_millis(m.now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(InboundOutcome::Committed)
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
        court: &CourtId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<InboxItem>, StoreError> {
        self.read_inbox(court, after, limit).await
    }

    async fn record_retrievals(
        &self,
        retrievals: Vec<(InboxItem, Receipt)>,
        court: &CourtId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if retrievals.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin().await?;
        let actor = format!("court:{court}");
        for (item, receipt) in &retrievals {
            let first = sqlx::query(
                "UPDATE inbox SET retrieved_at = ? WHERE seq = ? AND retrieved_at IS NULL",
            )
            .bind(unix_millis(now))
            .bind(item.cursor)
            .execute(&mut *tx)
            .await?;
            if first.rows_affected() == 0 {
                continue;
            }
            insert_receipt(&mut tx, item.request_id, receipt).await?;
            let exists: Option<String> = sqlx::query_scalar("SELECT id FROM requests WHERE id = ?")
                .bind(item.request_id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                continue;
            }
            let change = if item.kind.is_request() {
                StateChange::AdvanceFrom {
                    request_id: item.request_id,
                    from: crate::workflow::RECEIVED.to_owned(),
                    state: crate::workflow::RETRIEVED.to_owned(),
                }
            } else {
                StateChange::Note {
                    request_id: item.request_id,
                }
            };
            let event = Event {
                name: "retrieved".into(),
                actor: actor.clone(),
                detail: serde_json::json!({"kind": item.kind}),
            };
            apply(&mut tx, &change, &event, Some(item.message_id), now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn due_outbox(&self, now_ms: i64, limit: i64) -> Result<Vec<OutboxItem>, StoreError> {
        self.read_due_outbox(now_ms, limit).await
    }

    async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'")
                .fetch_one(&self.read)
                .await?,
        )
    }

    async fn outbox_delivered(
        &self,
        item: &OutboxItem,
        receipt: Receipt,
        change: Option<StateChange>,
        event: Event,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.write.begin().await?;
        finish_outbox(&mut tx, item, "delivered", now).await?;
        insert_receipt(&mut tx, item.request_id, &receipt).await?;
        record(&mut tx, change.as_ref(), &event, item.message_id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn outbox_retry(
        &self,
        item: &OutboxItem,
        next_attempt_ms: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE seq = ? AND state = 'pending'",
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
        finish_outbox(&mut tx, item, "dead", now).await?;
        sqlx::query("UPDATE outbox SET last_error = ? WHERE seq = ?")
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
}
