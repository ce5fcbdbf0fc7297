//! The pipeline's own units of the group commit ([`super::group`]): a message our court
//! sends, a message from a peer, and a delivery the peer acknowledged. Each runs inside
//! the group's transaction, under its own savepoint.

use super::SqlStore;
use super::deadlines::apply_clocks;
use super::exec::{Exec, args};
use super::group::Delivered;
use super::messages::{Packed, insert_message};
use super::tx::{insert_receipt, record, store_outbound};
use crate::clock::unix_millis;
use crate::store::{Inbound, Outbound, OutboundOutcome, StateChange, StoreError};

/// A message our court sends, with its idempotency answer (or the first answer again).
pub(super) async fn outbound<E: Exec + ?Sized>(
    tx: &mut E,
    m: &Outbound,
    packed: &Packed,
) -> Result<OutboundOutcome, StoreError> {
    if let Some(first) = SqlStore::first_answer(tx, m.idempotency.as_ref()).await? {
        return Ok(OutboundOutcome::Replay(first));
    }
    let outbox = store_outbound(tx, m, packed).await?;
    SqlStore::keep_answer(tx, m.idempotency.as_ref(), Some(m), m.now).await?;
    // A new request's only message waits behind nothing in the outbox; on PostgreSQL
    // replicas share the outbox and claim its items, so the relay reads it.
    let alone = matches!(m.change, StateChange::Open(_)) && m.followups.is_empty();
    Ok(OutboundOutcome::Committed {
        outbox: outbox.filter(|_| alone && !tx.postgres()),
    })
}

/// A delivery the peer acknowledged (nothing written if it was no longer pending):
/// whether another outbox item of its request is still pending (an item waits while an
/// earlier one of its request is pending, so that one may fall due now), `true` if this
/// one was no longer pending.
pub(super) async fn delivered<E: Exec + ?Sized>(
    tx: &mut E,
    d: &Delivered,
) -> Result<bool, StoreError> {
    if !super::tx::finish_outbox(tx, &d.item, "delivered", d.now).await? {
        return Ok(true);
    }
    insert_receipt(tx, &d.receipt).await?;
    record(tx, d.change.as_ref(), &d.event, d.item.message_id, d.now).await?;
    apply_clocks(tx, d.item.request_id, &d.clocks, d.now).await?;
    let followed = tx
        .optional(
            "SELECT 1 FROM outbox WHERE request_id = $1 AND state = 'pending' LIMIT 1",
            args![&d.item.request_id.to_string()],
        )
        .await?;
    Ok(followed.is_some())
}

/// A message from a peer; `false` if its id was stored before (nothing written).
pub(super) async fn inbound<E: Exec + ?Sized>(
    tx: &mut E,
    m: &Inbound,
    packed: &Packed,
) -> Result<bool, StoreError> {
    let id = m.sealed.envelope.id;
    let opens = m.change.as_ref().and_then(StateChange::opens);
    if !insert_message(tx, &m.sealed, packed, "in", &m.trace_id, m.now, opens).await? {
        return Ok(false);
    }
    let request_id = m.sealed.envelope.in_reply_to.unwrap_or(id);
    if let Some(change) = &m.change {
        super::tx::keep_trace(tx, change, &m.trace_id).await?;
    }
    record(tx, m.change.as_ref(), &m.event, id, m.now).await?;
    if m.change.is_some() {
        apply_clocks(tx, request_id, &m.clocks, m.now).await?;
    }
    insert_receipt(tx, &m.receipt).await?;
    if let Some(court) = &m.inbox {
        tx.execute(
            "INSERT INTO inbox (court, message_id, request_id, kind, priority, received_at) VALUES ($1, $2, $3, $4, $5, $6)",
            args![
                court.as_str(),
                &id.to_string(),
                &request_id.to_string(),
                m.sealed.envelope.kind.as_str(),
                m.sealed.envelope.priority.rank(),
                unix_millis(m.now),
            ],
        )
        .await?;
    }
    Ok(true)
}
