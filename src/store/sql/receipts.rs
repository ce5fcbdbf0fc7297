//! Retrieval evidence returning to the sender: the queue of retrieval receipts to carry
//! back to the peer that sent the message (written with the retrieval), and the receipts a
//! peer carried back to us (kept once, audited).
//!
//! A `receipts` row keeps the receipt's JSON without the three fields its own columns
//! say (`hop`, `messageId`, `issuer`); reading puts them back ([`receipt_of_row`]). Rows
//! stored before keep the whole receipt, and reading leaves what a body says as it is.
//! What the receipt's signature covers is unchanged: reading gives the same receipt.
//!
//! A queued receipt is also in `receipts`, written in the same transaction, so its
//! `receipt_outbox` row keeps `body` empty and reading takes the body from `receipts`
//! (the one with its message and hop that this gateway issued, not the peer). Rows queued
//! before keep their body, which reading prefers.

use serde_json::Value;
use sqlx::Row;
use time::OffsetDateTime;

use super::SqlStore;
use super::exec::{Exec, args};
use crate::clock::unix_millis;
use crate::ids::{MessageId, RegionId, Sha256};
use crate::receipt::Receipt;
use crate::store::{ReceiptOutboxItem, StoreError};

fn bad(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("stored {what} is unreadable: {e}"))
}

/// The fields of a receipt that its `receipts` row's columns say, with those columns.
const IN_COLUMNS: [&str; 3] = ["hop", "messageId", "issuer"];

/// The `body` kept for `receipt` in its `receipts` row (see the module docs).
pub(super) fn receipt_body(receipt: &Receipt) -> Result<String, StoreError> {
    let mut value =
        serde_json::to_value(receipt).map_err(|e| StoreError::Backend(e.to_string()))?;
    if let Value::Object(fields) = &mut value {
        for field in IN_COLUMNS {
            fields.remove(field);
        }
    }
    super::tx::json_text(&value)
}

/// The receipt in a `receipts` row, as JSON: its `body` with what the row's columns
/// (`message_id`, `hop`, `issuer`) say put back where the body leaves it out.
pub(super) fn receipt_value_of_row(
    body: &str,
    message_id: &str,
    hop: &str,
    issuer: &str,
) -> Result<Value, StoreError> {
    let mut value: Value = serde_json::from_str(body).map_err(|e| bad("receipt", e))?;
    let Value::Object(fields) = &mut value else {
        return Err(bad("receipt", "not a JSON object"));
    };
    for (field, column) in IN_COLUMNS.iter().zip([hop, message_id, issuer]) {
        fields
            .entry(*field)
            .or_insert_with(|| Value::String(column.to_owned()));
    }
    Ok(value)
}

/// The receipt in a `receipts` row (see [`receipt_value_of_row`]).
pub(super) fn receipt_of_row(
    body: &str,
    message_id: &str,
    hop: &str,
    issuer: &str,
) -> Result<Receipt, StoreError> {
    serde_json::from_value(receipt_value_of_row(body, message_id, hop, issuer)?)
        .map_err(|e| bad("receipt", e))
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
    ) -> Result<Option<(MessageId, Sha256, serde_json::Value)>, StoreError> {
        let row = self
            .reader()
            .await?
            .optional(
                "SELECT request_id, digest, envelope, envelope_z FROM messages WHERE id = $1 AND direction = 'out'",
                args![&id.to_string()],
            )
            .await?;
        row.map(|r| {
            let envelope = super::packed::envelope_in(&r, 2, 3)?;
            Ok((
                MessageId::parse(r.text(0)?).map_err(|e| bad("request id", e))?,
                Sha256::parse(r.text(1)?).map_err(|e| bad("digest", e))?,
                serde_json::from_str(envelope.as_deref().unwrap_or("null"))
                    .map_err(|e| bad("envelope", e))?,
            ))
        })
        .transpose()
    }

    pub(super) async fn read_due_receipts(
        &self,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<ReceiptOutboxItem>, StoreError> {
        let rows = sqlx::query(
            "SELECT q.seq, q.message_id, q.hop, q.peer, COALESCE(NULLIF(q.body, ''), r.body) AS body,
                    r.issuer, q.attempts, m.agreement_sha256, m.trace_id
             FROM receipt_outbox q JOIN messages m ON m.id = q.message_id
             LEFT JOIN receipts r ON r.message_id = q.message_id AND r.hop = q.hop AND r.issuer <> q.peer
             WHERE q.state = 'pending' AND q.next_attempt_at <= $1
             ORDER BY q.seq LIMIT $2 + 0",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let text = |c: &str| r.try_get::<String, _>(c);
                let message_id = text("message_id")?;
                let issuer: Option<String> = r.try_get("issuer")?;
                Ok(ReceiptOutboxItem {
                    seq: r.try_get("seq")?,
                    message_id: MessageId::parse(&message_id).map_err(|e| bad("message id", e))?,
                    peer: RegionId::parse(&text("peer")?).map_err(|e| bad("peer", e))?,
                    receipt: receipt_of_row(
                        &text("body")?,
                        &message_id,
                        &text("hop")?,
                        issuer.as_deref().unwrap_or_default(),
                    )?,
                    agreement_sha256: Sha256::parse(&text("agreement_sha256")?)
                        .map_err(|e| bad("agreement hash", e))?,
                    attempts: r.try_get("attempts")?,
                    trace_id: r.try_get("trace_id")?,
                })
            })
            .collect()
    }

    pub(super) async fn read_next_receipt_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM receipt_outbox WHERE state = 'pending'",
        )
        .fetch_one(&self.read)
        .await?)
    }
}

/// The outcome of one attempt to carry a receipt back (see `Store::receipt_attempt`).
pub(super) struct ReceiptAttempt {
    pub seq: i64,
    pub state: &'static str,
    pub next_attempt_ms: Option<i64>,
    pub error: Option<String>,
    pub now: OffsetDateTime,
}

impl ReceiptAttempt {
    pub fn new(seq: i64, outcome: crate::store::ReceiptOutcome<'_>, now: OffsetDateTime) -> Self {
        use crate::store::ReceiptOutcome::*;
        let (state, next_attempt_ms, error) = match outcome {
            Delivered => ("delivered", None, None),
            Retry { at_ms, error } => ("pending", Some(at_ms), Some(error.to_owned())),
            Dead { error } => ("dead", None, Some(error.to_owned())),
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

/// Records an attempt on a pending receipt (a group unit); `false` if it was no longer
/// pending.
pub(super) async fn receipt_attempt<E: Exec + ?Sized>(
    tx: &mut E,
    a: &ReceiptAttempt,
) -> Result<bool, StoreError> {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn full() -> Value {
        json!({
            "hop": "relay",
            "messageId": "01a23a29-81bf-76dd-a289-09ec7f860a2c",
            "envelopeSha256": "dd4805493e4ed41f179521c5b6e8adc6841658e28506006a0b705e2011548aae",
            "issuer": "CQ",
            "at": "2026-12-03T04:28:48.447Z",
            "signature": "wlUo93b6NV05epDA8XSK866hnm3wK3wQGygjRNFvUrx98KcBKmlqer0nvrgLafddx8dFT0iETdBNty7B1D+NCA=="
        })
    }

    #[test]
    fn a_receipt_row_keeps_only_what_its_columns_do_not_say_and_reads_back_whole() {
        let receipt: Receipt = serde_json::from_value(full()).unwrap();
        let body = receipt_body(&receipt).unwrap();
        for field in IN_COLUMNS {
            assert!(!body.contains(&format!("\"{field}\"")), "{field} in {body}");
        }
        let read = receipt_of_row(&body, "01a23a29-81bf-76dd-a289-09ec7f860a2c", "relay", "CQ");
        assert_eq!(read.unwrap(), receipt);
        assert_eq!(
            receipt_value_of_row(&body, "01a23a29-81bf-76dd-a289-09ec7f860a2c", "relay", "CQ")
                .unwrap(),
            full()
        );
    }

    #[test]
    fn a_receipt_row_stored_whole_before_reads_as_its_body_says() {
        let body = full().to_string();
        let read = receipt_value_of_row(&body, "other", "retrieval", "SC").unwrap();
        assert_eq!(read, full(), "the body's own fields win over the columns");
    }
}
