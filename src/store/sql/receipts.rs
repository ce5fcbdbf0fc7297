//! Retrieval evidence returning to the sender: the queue of retrieval receipts to carry
//! back to the peer that sent the message (written with the retrieval), and the receipts a
//! peer carried back to us (kept once, audited).
//!
//! A queued receipt is also in `receipts`, written in the same transaction, so its
//! `receipt_outbox` row keeps `body` empty and reading takes the body from `receipts`
//! (the one with its message and hop that this gateway issued, not the peer). Rows queued
//! before keep their body, which reading prefers.

use time::OffsetDateTime;

use super::SqlStore;
use super::exec::{Exec, args};
use crate::clock::unix_millis;
use crate::ids::{AgreementId, CourtId, MessageId, RegionId, Sha256};
use crate::receipt::Receipt;
use crate::store::{ReceiptOutboxItem, SentMessage, StoreError};

fn bad(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("stored {what} is unreadable: {e}"))
}

/// Queues `receipt` (of a message `peer` sent us) to go back to `peer`, in the caller's
/// transaction; once per message and hop. The caller stores `receipt` in `receipts` in
/// the same transaction (see the module docs).
pub(super) async fn queue_receipt<E: Exec + ?Sized>(
    tx: &mut E,
    receipt: &Receipt,
    peer: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO receipt_outbox (message_id, hop, peer, body, state, next_attempt_at, created_at)
         VALUES ($1, $2, $3, '', 'pending', $4, $4) ON CONFLICT (message_id, hop) DO NOTHING",
        args![
            &receipt.message_id.to_string(),
            receipt.hop.as_str(),
            peer,
            unix_millis(now),
        ],
    )
    .await?;
    Ok(())
}

impl SqlStore {
    pub(super) async fn read_sent_message(
        &self,
        id: &MessageId,
    ) -> Result<Option<SentMessage>, StoreError> {
        // A request's first message leaves the columns its request holds empty ('').
        let row = self
            .reader()
            .await?
            .optional(
                "SELECT CASE WHEN m.request_id = '' THEN m.id ELSE m.request_id END, m.digest,
                        CASE WHEN m.recipient_court = '' THEN o.requested_court ELSE m.recipient_court END,
                        CASE WHEN m.agreement_id = '' THEN o.agreement_id ELSE m.agreement_id END,
                        CASE WHEN m.agreement_sha256 = '' THEN o.agreement_sha256 ELSE m.agreement_sha256 END,
                        m.purged_at
                 FROM messages m LEFT JOIN requests o ON o.id = m.id
                 WHERE m.id = $1 AND m.direction = 'out'",
                args![&id.to_string()],
            )
            .await?;
        row.map(|r| {
            let text = |i: usize, what: &str| {
                r.text(i)
                    .map_err(|_| StoreError::Backend(format!("message {id} has no {what}")))
            };
            Ok(SentMessage {
                request_id: MessageId::parse(r.text(0)?).map_err(|e| bad("request id", e))?,
                digest: Sha256::parse(&r.hex(1)?).map_err(|e| bad("digest", e))?,
                recipient: CourtId::parse(text(2, "recipient court")?)
                    .map_err(|e| bad("recipient court", e))?,
                agreement_id: AgreementId::parse(text(3, "agreement")?)
                    .map_err(|e| bad("agreement id", e))?,
                agreement_sha256: Sha256::parse(&r.hex(4)?)
                    .map_err(|e| bad("agreement digest", e))?,
                purged: r.optional_int(5)?.is_some(),
            })
        })
        .transpose()
    }

    /// The receipts due to be carried back, oldest first, through a
    /// [`super::readers::Reader`] (at most `limit`, a batch of the carrier).
    pub(super) async fn read_due_receipts(
        &self,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<ReceiptOutboxItem>, StoreError> {
        let rows = self
            .reader()
            .await?
            .rows(
                "SELECT q.seq, q.message_id, q.hop, q.peer, COALESCE(NULLIF(q.body, ''), r.body) AS body,
                        r.issuer, r.at AS receipt_at, r.signature AS receipt_signature,
                        q.attempts, m.digest,
                        CASE WHEN m.agreement_sha256 = '' THEN (SELECT o.agreement_sha256 FROM requests o WHERE o.id = m.id)
                             ELSE m.agreement_sha256 END AS agreement_sha256,
                        CASE WHEN m.trace_id = '' THEN (SELECT o.trace_id FROM requests o WHERE o.id = m.id)
                             ELSE m.trace_id END AS trace_id
                 FROM receipt_outbox q JOIN messages m ON m.id = q.message_id
                 LEFT JOIN receipts r ON r.message_id = q.message_id AND r.hop = q.hop AND r.issuer <> q.peer
                 WHERE q.state = 'pending' AND q.next_attempt_at <= $1
                 ORDER BY q.seq LIMIT $2 + 0",
                args![now_ms, limit],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let message_id = r.text(1)?;
                Ok(ReceiptOutboxItem {
                    seq: r.int(0)?,
                    message_id: MessageId::parse(message_id).map_err(|e| bad("message id", e))?,
                    peer: RegionId::parse(r.text(3)?).map_err(|e| bad("peer", e))?,
                    receipt: super::receipt_rows::ReceiptRow {
                        body: r.text(4)?,
                        message_id,
                        hop: r.text(2)?,
                        issuer: r.optional_text(5)?.unwrap_or_default(),
                        at: r.optional_int(6)?,
                        signature: r.optional_blob(7)?,
                        digest: r.optional_hex(9)?.as_deref(),
                    }
                    .receipt()?,
                    agreement_sha256: Sha256::parse(&r.hex(10)?)
                        .map_err(|e| bad("agreement hash", e))?,
                    attempts: r.int(8)?,
                    trace_id: r.optional_hex(11)?,
                })
            })
            .collect()
    }

    /// When the next pending receipt falls due, if any is pending.
    pub(super) async fn read_next_receipt_due(&self) -> Result<Option<i64>, StoreError> {
        self.reader()
            .await?
            .optional(
                "SELECT MIN(next_attempt_at) FROM receipt_outbox WHERE state = 'pending'",
                &[],
            )
            .await?
            .map_or(Ok(None), |r| r.optional_int(0))
    }
}

/// The outcome of one attempt to carry a receipt back (see `Store::receipt_attempts`).
pub(super) struct ReceiptAttempt {
    pub seq: i64,
    pub state: &'static str,
    pub next_attempt_ms: Option<i64>,
    pub error: Option<String>,
    pub now: OffsetDateTime,
}

impl ReceiptAttempt {
    pub fn new(seq: i64, outcome: &crate::store::ReceiptOutcome<'_>, now: OffsetDateTime) -> Self {
        use crate::store::ReceiptOutcome::*;
        let (state, next_attempt_ms, error) = match outcome {
            Delivered => ("delivered", None, None),
            Retry { at_ms, error } => ("pending", Some(*at_ms), Some((*error).to_owned())),
            Dead { error } => ("dead", None, Some((*error).to_owned())),
        };
        ReceiptAttempt {
            seq,
            state,
            next_attempt_ms,
            error,
            now,
        }
    }
}

/// Records attempts on pending receipts (one group unit); `true` if each was still
/// pending.
pub(super) async fn receipt_attempts<E: Exec + ?Sized>(
    tx: &mut E,
    attempts: &[ReceiptAttempt],
) -> Result<bool, StoreError> {
    let mut all = true;
    for a in attempts {
        all &= receipt_attempt(tx, a).await?;
    }
    Ok(all)
}

/// Records an attempt on a pending receipt; `false` if it was no longer pending. A
/// delivered receipt's row is deleted; a dead one stays, with its error.
async fn receipt_attempt<E: Exec + ?Sized>(
    tx: &mut E,
    a: &ReceiptAttempt,
) -> Result<bool, StoreError> {
    if a.state == "delivered" {
        // The peer holds it: nothing reads a delivered row, so it goes.
        let done = tx
            .execute(
                "DELETE FROM receipt_outbox WHERE seq = $1 AND state = 'pending'",
                args![a.seq],
            )
            .await?;
        return Ok(done == 1);
    }
    let done = tx
        .execute(
            "UPDATE receipt_outbox SET state = $1, attempts = attempts + 1,
                    next_attempt_at = COALESCE($2, next_attempt_at), last_error = $3,
                    done_at = CASE WHEN $1 = 'pending' THEN NULL ELSE $4 END
             WHERE seq = $5 AND state = 'pending'",
            args![
                a.state,
                a.next_attempt_ms,
                a.error.as_deref(),
                unix_millis(a.now),
                a.seq,
            ],
        )
        .await?;
    Ok(done == 1)
}

impl super::SqlStore {
    /// Records each receipt's attempt (see `Store::receipt_attempts`) in one unit of the
    /// group commit: plain updates by `seq`, nothing in them that could fail one alone.
    pub(super) async fn commit_receipt_attempts(
        &self,
        attempts: &[(i64, crate::store::ReceiptOutcome<'_>)],
        now: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        let attempts = attempts
            .iter()
            .map(|(seq, outcome)| ReceiptAttempt::new(*seq, outcome, now))
            .collect();
        self.commit_together(vec![super::group::Unit::ReceiptAttempts(attempts)])
            .await
            .into_iter()
            .find_map(Result::err)
            .map_or(Ok(()), Err)
    }
}
