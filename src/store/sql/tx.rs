//! Building blocks of the SQLite engine's transactions: each writes one kind of row
//! inside a transaction the caller opened and commits.

use serde_json::Value;
use sqlx::{Any, Row, Transaction};
use time::OffsetDateTime;

use super::deadlines::apply_clocks;
use super::jobs::{apply_holds, apply_job};
use crate::audit;
use crate::clock::unix_millis;
use crate::envelope::Sealed;
use crate::ids::MessageId;
use crate::receipt::Receipt;
use crate::store::{Event, Outbound, OutboxItem, StateChange, StoreError};

pub(super) type Tx<'a> = Transaction<'a, Any>;

pub(super) fn json_text(v: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(e.to_string()))
}

/// Stores a message (`direction` `out` or `in`) under W3C trace `trace_id`; `false`
/// (nothing stored) if its id is stored already.
pub(super) async fn insert_message(
    tx: &mut Tx<'_>,
    sealed: &Sealed,
    direction: &str,
    trace_id: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let e = &sealed.envelope;
    let request_id = e.in_reply_to.unwrap_or(e.id);
    let done = sqlx::query(
        "INSERT INTO messages (id, direction, kind, request_id, sender_court, recipient_court, agreement_id,
                               agreement_sha256, digest, envelope, test, created_at, committed_at, trace_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (id) DO NOTHING",
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
    .bind(i64::from(e.test))
    .bind(unix_millis(e.created_at))
    .bind(unix_millis(now))
    .bind(trace_id)
    .execute(&mut **tx)
    .await?;
    let inserted = done.rows_affected() == 1;
    if inserted {
        super::attachments::insert_message_attachments(tx, e).await?;
    }
    Ok(inserted)
}

/// The state a request is in.
pub(super) async fn current_state(
    tx: &mut Tx<'_>,
    request_id: &MessageId,
) -> Result<String, StoreError> {
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM requests WHERE id = $1")
        .bind(request_id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    state.ok_or_else(|| StoreError::Conflict(format!("no request {request_id}")))
}

/// Applies a state change and writes its history and audit entries.
pub(super) async fn apply(
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
                                       agreement_sha256, priority, created_at, updated_at, trace_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
            .bind(r.trace_id.as_deref())
            .execute(&mut **tx)
            .await?;
            super::supervision::count_opened(tx, r).await?;
            r.state.clone()
        }
        StateChange::Advance {
            request_id,
            from,
            state,
        } => {
            let done = sqlx::query(
                "UPDATE requests SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4",
            )
            .bind(state)
            .bind(at)
            .bind(request_id.to_string())
            .bind(from)
            .execute(&mut **tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Raced(format!(
                    "request {request_id} is no longer {from}: another step changed it first"
                )));
            }
            state.clone()
        }
        StateChange::AdvanceFrom {
            request_id,
            from,
            state,
        } => {
            sqlx::query(
                "UPDATE requests SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4",
            )
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
    // The entry's trace: its message's, or else its request's (a deadline, a print job).
    sqlx::query(
        "INSERT INTO history (request_id, at, state, event, actor, message_id, detail, trace_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7,
                 COALESCE((SELECT trace_id FROM messages WHERE id = $6),
                          (SELECT trace_id FROM requests WHERE id = $1)))",
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

/// Makes concurrent transactions that name the same `key` take turns until they end.
/// On PostgreSQL a transaction-scoped advisory lock on the key's hash; on SQLite
/// nothing, since its one write connection runs transactions one at a time.
pub(super) async fn serialise(tx: &mut Tx<'_>, key: &str) -> Result<(), StoreError> {
    if tx.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Appends one entry to the hash-chained audit log. Appenders take turns (one chain,
/// one writer at a time), so each reads the true last entry.
pub(super) async fn append_audit(
    tx: &mut Tx<'_>,
    at: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &Value,
) -> Result<(), StoreError> {
    serialise(tx, "audit").await?;
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
    sqlx::query("INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
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
pub(super) async fn record(
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

/// Puts a notice from this gateway (no message behind it) in `court`'s inbox.
pub(super) async fn insert_notice(
    tx: &mut Tx<'_>,
    court: &str,
    request_id: &str,
    kind: &str,
    priority: i64,
    at: i64,
    notice: &Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO inbox (court, message_id, request_id, kind, priority, received_at, notice) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(court)
    .bind(MessageId::new().to_string())
    .bind(request_id)
    .bind(kind)
    .bind(priority)
    .bind(at)
    .bind(json_text(notice)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn insert_receipt(
    tx: &mut Tx<'_>,
    request_id: MessageId,
    receipt: &Receipt,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO receipts (request_id, message_id, hop, issuer, body) VALUES ($1, $2, $3, $4, $5)
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

/// Ends a pending outbox item; `false` (and nothing changed) if it was no longer pending.
pub(super) async fn finish_outbox(
    tx: &mut Tx<'_>,
    item: &OutboxItem,
    state: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE outbox SET state = $1, done_at = $2, attempts = attempts + 1 WHERE seq = $3 AND state = 'pending'")
        .bind(state)
        .bind(unix_millis(now))
        .bind(item.seq)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores an outbound message with its request change, clocks, receipt, outbox row and
/// print jobs, then its follow-up messages the same way.
pub(super) async fn store_outbound(tx: &mut Tx<'_>, m: &Outbound) -> Result<(), StoreError> {
    let id = m.sealed.envelope.id;
    if !insert_message(tx, &m.sealed, "out", &m.trace_id, m.now).await? {
        return Err(StoreError::Conflict(format!(
            "message {id} is already stored"
        )));
    }
    keep_trace(tx, &m.change, &m.trace_id).await?;
    apply(tx, &m.change, &m.event, Some(id), m.now).await?;
    let request_id = m.change.request_id();
    apply_clocks(tx, request_id, &m.clocks, m.now).await?;
    insert_receipt(tx, request_id, &m.receipt).await?;
    let priority = m.sealed.envelope.priority.rank();
    sqlx::query(
        "INSERT INTO outbox (message_id, request_id, peer, priority, state, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, 'pending', $5, $6)",
    )
    .bind(id.to_string())
    .bind(request_id.to_string())
    .bind(m.peer.as_str())
    .bind(priority)
    .bind(unix_millis(m.now))
    .bind(unix_millis(m.now))
    .execute(&mut **tx)
    .await?;
    for job in &m.jobs {
        apply_job(tx, job, priority, unix_millis(m.now)).await?;
    }
    apply_holds(tx, request_id, &m.holds, unix_millis(m.now)).await?;
    for next in &m.followups {
        Box::pin(store_outbound(tx, next)).await?;
    }
    Ok(())
}

/// A request stored before kuayu kept traces takes the trace of its first message since,
/// so that its later messages and entries share one (a new request has its own already).
pub(super) async fn keep_trace(
    tx: &mut Tx<'_>,
    change: &StateChange,
    trace_id: &str,
) -> Result<(), StoreError> {
    if let StateChange::Open(_) = change {
        return Ok(());
    }
    sqlx::query("UPDATE requests SET trace_id = $1 WHERE id = $2 AND trace_id IS NULL")
        .bind(trace_id)
        .bind(change.request_id().to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
