//! Building blocks of the store's transactions: each writes one kind of row inside a
//! transaction the caller opened and commits, on either engine ([`Exec`]).

use serde_json::Value;
use time::OffsetDateTime;

use super::deadlines::apply_clocks;
use super::exec::{Exec, args};
use super::jobs::{apply_holds, apply_job};
use super::messages::{Packed, insert_message};
use crate::audit;
use crate::clock::unix_millis;
use crate::ids::MessageId;
use crate::store::{Event, Outbound, OutboxItem, StateChange, StoreError};

pub(super) use super::receipt_rows::insert_receipt;

pub(super) fn json_text(v: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(e.to_string()))
}

/// The state a request is in.
pub(super) async fn current_state<E: Exec + ?Sized>(
    tx: &mut E,
    request_id: &MessageId,
) -> Result<String, StoreError> {
    let row = tx
        .optional(
            "SELECT state FROM requests WHERE id = $1",
            args![&request_id.to_string()],
        )
        .await?;
    match row {
        Some(row) => Ok(row.text(0)?.to_owned()),
        None => Err(StoreError::Conflict(format!("no request {request_id}"))),
    }
}

/// A new history entry (see `apply`). On SQLite, whose `history` is keyed by
/// (request_id, seq) (migration 0024), `seq` is one more than the request's last entry;
/// PostgreSQL's `seq` comes from its own sequence.
const HISTORY_INSERT_SQLITE: &str =
    "INSERT INTO history (seq, request_id, at, state, event, actor, message_id, detail, trace_id)
     VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM history WHERE request_id = $1),
             $1, $2, CASE WHEN $3 = $4 THEN '' ELSE $3 END, $4, $5, CASE WHEN $6 = $1 THEN '' ELSE $6 END, $7,
             CASE WHEN COALESCE((SELECT trace_id FROM messages WHERE id = $6),
                                (SELECT trace_id FROM requests WHERE id = $1)) IS NULL
                  THEN NULL ELSE '' END)";

/// [`HISTORY_INSERT_SQLITE`] on PostgreSQL.
const HISTORY_INSERT_POSTGRES: &str =
    "INSERT INTO history (request_id, at, state, event, actor, message_id, detail, trace_id)
     VALUES ($1, $2, CASE WHEN $3 = $4 THEN '' ELSE $3 END, $4, $5, CASE WHEN $6 = $1 THEN '' ELSE $6 END, $7,
             CASE WHEN COALESCE((SELECT trace_id FROM messages WHERE id = $6),
                                (SELECT trace_id FROM requests WHERE id = $1)) IS NULL
                  THEN NULL ELSE '' END)";

/// Applies a state change and writes its history and audit entries.
pub(super) async fn apply<E: Exec + ?Sized>(
    tx: &mut E,
    change: &StateChange,
    event: &Event,
    message_id: Option<MessageId>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let at = unix_millis(now);
    let state = match change {
        StateChange::Open(r) => {
            let agreement_sha256 = r.agreement_sha256.to_string();
            let postgres = tx.postgres();
            let trace = super::exec::trace_bytes(r.trace_id.as_deref());
            tx.execute(
                "INSERT INTO requests (id, family, role, requesting_court, requested_court, state, agreement_id,
                                       agreement_sha256, priority, created_at, updated_at, trace_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                args![
                    &r.id.to_string(),
                    r.family.as_str(),
                    r.role.as_str(),
                    r.requesting_court.as_str(),
                    r.requested_court.as_str(),
                    &r.state,
                    r.agreement_id.as_str(),
                    super::exec::digest_arg(postgres, &r.agreement_sha256, &agreement_sha256),
                    r.priority,
                    unix_millis(r.created_at),
                    at,
                    super::exec::trace_arg(postgres, r.trace_id.as_deref(), &trace),
                ],
            )
            .await?;
            super::supervision::count_opened(tx, r).await?;
            r.state.clone()
        }
        StateChange::Advance {
            request_id,
            from,
            state,
        } => {
            let done = tx
                .execute(ADVANCE, args![state, at, &request_id.to_string(), from])
                .await?;
            if done != 1 {
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
            tx.execute(ADVANCE, args![state, at, &request_id.to_string(), from])
                .await?;
            current_state(tx, request_id).await?
        }
        StateChange::Note { request_id } => current_state(tx, request_id).await?,
    };
    let request_id = change.request_id().to_string();
    // The entry's message: '' for the request's first (whose id it shares), read back as
    // the request's id (HISTORY in read.rs); NULL for none (a deadline, a print job).
    // The entry's trace: its message's, or else its request's.
    // Kept as '' when there is one: reading takes it from that row again (HISTORY in
    // read.rs), which says the same then as now (a message's trace never changes, a
    // request's only from none). NULL when neither has one, as then.
    let insert = if tx.postgres() {
        HISTORY_INSERT_POSTGRES
    } else {
        HISTORY_INSERT_SQLITE
    };
    tx.execute(
        insert,
        args![
            &request_id,
            at,
            &state,
            &event.name,
            &event.actor,
            message_id.map(|m| m.to_string()).as_deref(),
            &json_text(&event.detail)?,
        ],
    )
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

/// A request's step from one state to the next, if it is still in the first.
const ADVANCE: &str =
    "UPDATE requests SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4";

/// Makes concurrent transactions that name the same `key` take turns until they end.
/// On PostgreSQL a transaction-scoped advisory lock on the key's hash; on SQLite
/// nothing, since its one write connection runs transactions one at a time.
pub(super) async fn serialise<E: Exec + ?Sized>(tx: &mut E, key: &str) -> Result<(), StoreError> {
    if tx.postgres() {
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            args![key],
        )
        .await?;
    }
    Ok(())
}

/// Appends one entry to the hash-chained audit log. Appenders take turns (one chain,
/// one writer at a time), so each reads the true last entry.
pub(super) async fn append_audit<E: Exec + ?Sized>(
    tx: &mut E,
    at: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &Value,
) -> Result<(), StoreError> {
    serialise(tx, "audit").await?;
    let last = tx
        .optional("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &[])
        .await?;
    let (seq, prev_hash) = match last {
        Some(row) => (row.int(0)? + 1, row.hex(1)?),
        None => (1, audit::GENESIS.to_owned()),
    };
    let hash = audit::entry_hash(seq, at, actor, action, subject, detail, &prev_hash);
    let digest = crate::ids::Sha256::parse(&hash)
        .map_err(|e| StoreError::Backend(format!("an audit hash: {e}")))?;
    // prev_hash is the previous row's hash: kept empty, read back from that row (see
    // super::audit). The hash is kept as its 32 bytes on SQLite (`digest_arg`).
    let postgres = tx.postgres();
    tx.execute(
        "INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, '', $7)",
        args![
            seq,
            at,
            actor,
            action,
            subject,
            &json_text(detail)?,
            super::exec::digest_arg(postgres, &digest, &hash),
        ],
    )
    .await?;
    Ok(())
}

/// Applies `change` with its history and audit entries, or, with no change (test
/// messages, plain deliveries), writes only the audit entry.
pub(super) async fn record<E: Exec + ?Sized>(
    tx: &mut E,
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
pub(super) async fn insert_notice<E: Exec + ?Sized>(
    tx: &mut E,
    court: &str,
    request_id: &str,
    kind: &str,
    priority: i64,
    at: i64,
    notice: &Value,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO inbox (court, message_id, request_id, kind, priority, received_at, notice) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![
            court,
            &MessageId::new().to_string(),
            request_id,
            kind,
            priority,
            at,
            &json_text(notice)?,
        ],
    )
    .await?;
    Ok(())
}

/// The least a peer's last delivery moves by. A delivery less than this after the one
/// kept changes nothing, so that under load the row (and its page) is not written by
/// every delivery's commit; the dashboard shows the time to the minute.
pub(crate) const LAST_DELIVERY_STEP_MS: i64 = 1_000;

/// Ends a pending outbox item; `false` (and nothing changed) if it was no longer pending.
///
/// A delivered item's row goes (its receipt and history say the rest), and the peer's
/// last delivery in `peer_deliveries` moves on if it moves by [`LAST_DELIVERY_STEP_MS`]
/// or more; a dead one stays, with its error, for the dead letters and the refusals.
pub(super) async fn finish_outbox<E: Exec + ?Sized>(
    tx: &mut E,
    item: &OutboxItem,
    state: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let at = unix_millis(now);
    if state == "delivered" {
        let done = tx
            .execute(
                "DELETE FROM outbox WHERE seq = $1 AND state = 'pending'",
                args![item.seq],
            )
            .await?;
        if done == 1 {
            tx.execute(
                "INSERT INTO peer_deliveries (peer, last_at) VALUES ($1, $2)
                 ON CONFLICT (peer) DO UPDATE SET last_at = excluded.last_at
                 WHERE excluded.last_at >= peer_deliveries.last_at + $3",
                args![item.peer.as_str(), at, LAST_DELIVERY_STEP_MS],
            )
            .await?;
        }
        return Ok(done == 1);
    }
    let done = tx
        .execute(
            "UPDATE outbox SET state = $1, done_at = $2, attempts = attempts + 1 WHERE seq = $3 AND state = 'pending'",
            args![state, at, item.seq],
        )
        .await?;
    Ok(done == 1)
}

/// Stores an outbound message with its request change, clocks, receipt, outbox row and
/// print jobs, then its follow-up messages the same way: the position of its outbox row.
pub(super) async fn store_outbound<E: Exec + ?Sized>(
    tx: &mut E,
    m: &Outbound,
    packed: &Packed,
) -> Result<Option<i64>, StoreError> {
    let id = m.sealed.envelope.id;
    if !insert_message(
        tx,
        &m.sealed,
        packed,
        "out",
        &m.trace_id,
        m.now,
        m.change.opens(),
    )
    .await?
    {
        return Err(StoreError::Conflict(format!(
            "message {id} is already stored"
        )));
    }
    keep_trace(tx, &m.change, &m.trace_id).await?;
    apply(tx, &m.change, &m.event, Some(id), m.now).await?;
    let request_id = m.change.request_id();
    apply_clocks(tx, request_id, &m.clocks, m.now).await?;
    insert_receipt(tx, &m.receipt).await?;
    let priority = m.sealed.envelope.priority.rank();
    let outbox = tx
        .optional(
            "INSERT INTO outbox (message_id, request_id, peer, priority, state, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, 'pending', $5, $5) RETURNING seq",
            args![
                &id.to_string(),
                &request_id.to_string(),
                m.peer.as_str(),
                priority,
                unix_millis(m.now),
            ],
        )
        .await?
        .map(|row| row.int(0))
        .transpose()?;
    for job in &m.jobs {
        apply_job(tx, job, priority, unix_millis(m.now)).await?;
    }
    apply_holds(tx, request_id, &m.holds, unix_millis(m.now)).await?;
    for next in &m.followups {
        Box::pin(store_outbound(tx, next, packed)).await?;
    }
    Ok(outbox)
}

/// A request stored before kuayu kept traces takes the trace of its first message since,
/// so that its later messages and entries share one (a new request has its own already).
pub(super) async fn keep_trace<E: Exec + ?Sized>(
    tx: &mut E,
    change: &StateChange,
    trace_id: &str,
) -> Result<(), StoreError> {
    if let StateChange::Open(_) = change {
        return Ok(());
    }
    let bytes = super::exec::trace_bytes(Some(trace_id));
    let postgres = tx.postgres();
    tx.execute(
        "UPDATE requests SET trace_id = $1 WHERE id = $2 AND trace_id IS NULL",
        args![
            super::exec::trace_arg(postgres, Some(trace_id), &bytes),
            &change.request_id().to_string()
        ],
    )
    .await?;
    Ok(())
}
