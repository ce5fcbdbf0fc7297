//! The first answers kept under idempotency keys (`idempotency` rows), kept compact.
//!
//! Most answers are an [`crate::api::Accepted`] for a message committed in the same
//! transaction, and most of such an answer repeats that message's row and its submission
//! receipt: the request and message ids, the envelope's digest, the trace id, and the
//! whole signed receipt (together about 550 bytes a request). So the row keeps only the
//! rest of the answer, the message it answered (`answered`) and a bit for each field
//! left out (`elided`). Reading the row puts those fields back from the message and the
//! receipt, which are never deleted (a purge keeps a message's row and its receipts), so
//! the answer read is the answer kept, value for value. A field is left out only when it
//! equals what reading puts back; anything else is kept as it was.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::SqlStore;
use super::exec::{Exec, Row, args};
use super::read::bad;
use super::tx::json_text;
use crate::clock::unix_millis;
use crate::ids::Sha256;
use crate::receipt::Hop;
use crate::store::{Idempotency, Outbound, StoreError};

/// The fields an answer can leave to its message, with their bits in `elided`.
const FIELDS: [(&str, i64); 5] = [
    ("messageId", 1),
    ("requestId", 2),
    ("envelopeSha256", 4),
    ("receipt", 8),
    ("traceId", 16),
];

/// What the stored message an answer names says of each field in [`FIELDS`], in order;
/// `None` where it says nothing.
type Derived = [Option<Value>; 5];

/// What reading puts back for an answer to `m`, as [`Derived`].
fn derived_from_outbound(m: &Outbound) -> Result<Derived, StoreError> {
    let e = &m.sealed.envelope;
    let receipt = match m.receipt.hop {
        Hop::Submission => {
            Some(serde_json::to_value(&m.receipt).map_err(|e| StoreError::Backend(e.to_string()))?)
        }
        _ => None,
    };
    Ok([
        Some(Value::String(e.id.to_string())),
        Some(Value::String(e.in_reply_to.unwrap_or(e.id).to_string())),
        Some(Value::String(m.sealed.digest.to_string())),
        receipt,
        Some(Value::String(m.trace_id.clone())),
    ])
}

/// `body` without the fields that equal `derived`, and the bits of those left out.
fn compact(body: &Value, derived: &Derived) -> (Value, i64) {
    let Value::Object(fields) = body else {
        return (body.clone(), 0);
    };
    let mut kept = Map::new();
    let mut elided = 0;
    for (name, value) in fields {
        let same = FIELDS
            .iter()
            .zip(derived)
            .find(|((field, _), _)| field == name)
            .filter(|(_, from)| from.as_ref() == Some(value));
        match same {
            Some(((_, bit), _)) => elided |= bit,
            None => {
                kept.insert(name.clone(), value.clone());
            }
        }
    }
    (Value::Object(kept), elided)
}

/// `body` with the fields of `elided` put back from `derived`.
fn restore(body: Value, elided: i64, derived: Derived) -> Result<Value, StoreError> {
    if elided == 0 {
        return Ok(body);
    }
    let Value::Object(mut fields) = body else {
        return Err(bad(
            "answer",
            "fields were left out of an answer that is not an object",
        ));
    };
    for ((name, bit), from) in FIELDS.iter().zip(derived) {
        if elided & bit != 0 {
            let value = from.ok_or_else(|| {
                bad(
                    "answer",
                    format!("its {name} was left to a message that does not say it"),
                )
            })?;
            fields.insert((*name).to_owned(), value);
        }
    }
    Ok(Value::Object(fields))
}

/// A kept answer with what its message says, joined in one read.
const KEPT: &str = "SELECT i.request_hash, i.status, i.body, i.elided, i.answered,
            CASE WHEN m.request_id = '' THEN m.id ELSE m.request_id END, m.digest,
            CASE WHEN m.trace_id = '' THEN (SELECT q.trace_id FROM requests q WHERE q.id = m.id) ELSE m.trace_id END,
            r.body, r.issuer,
            r.at, r.signature
     FROM idempotency i
     LEFT JOIN messages m ON m.id = i.answered
     LEFT JOIN receipts r ON r.message_id = i.answered AND r.hop = 'submission'
     WHERE i.court = $1 AND i.key = $2";

/// The answer in a row of [`KEPT`].
fn kept(owner: &str, key: &str, r: &Row) -> Result<Idempotency, StoreError> {
    let body: Value = serde_json::from_str(r.text(2)?).map_err(|e| bad("answer", e))?;
    let elided = r.int(3)?;
    let text = |i: usize| -> Result<Option<Value>, StoreError> {
        Ok(r.optional_text(i)?.map(|t| Value::String(t.to_owned())))
    };
    let digest = r.optional_hex(6)?;
    let receipt = match (
        r.optional_text(8)?,
        r.optional_text(4)?,
        r.optional_text(9)?,
    ) {
        (Some(body), Some(message_id), Some(issuer)) => Some(
            super::receipt_rows::ReceiptRow {
                body,
                message_id,
                hop: "submission",
                issuer,
                at: r.optional_int(10)?,
                signature: r.optional_blob(11)?,
                digest: digest.as_deref(),
            }
            .value()?,
        ),
        _ => None,
    };
    let derived = [
        text(4)?,
        text(5)?,
        digest.map(Value::String),
        receipt,
        r.optional_hex(7)?.map(Value::String),
    ];
    Ok(Idempotency {
        owner: owner.to_owned(),
        key: key.to_owned(),
        request_hash: Sha256::parse(&r.hex(0)?).map_err(|e| bad("request_hash", e))?,
        status: u16::try_from(r.int(1)?).map_err(|e| bad("status", e))?,
        body: restore(body, elided, derived)?,
    })
}

impl SqlStore {
    pub(super) async fn read_idempotent(
        &self,
        owner: &str,
        key: &str,
    ) -> Result<Option<Idempotency>, StoreError> {
        Self::idempotent_in(&mut self.reader().await?, owner, key).await
    }

    /// The answer kept under `owner`'s `key`, read through `tx`.
    pub(super) async fn idempotent_in<E: Exec + ?Sized>(
        tx: &mut E,
        owner: &str,
        key: &str,
    ) -> Result<Option<Idempotency>, StoreError> {
        let row = tx.optional(KEPT, args![owner, key]).await?;
        row.map(|r| kept(owner, key, &r)).transpose()
    }

    /// The first answer under `idem`'s key, if there is one. Commits under one key take
    /// turns from here to their end, so the second of two finds the first's answer.
    pub(super) async fn first_answer<E: Exec + ?Sized>(
        tx: &mut E,
        idem: Option<&Idempotency>,
    ) -> Result<Option<Idempotency>, StoreError> {
        let Some(idem) = idem else {
            return Ok(None);
        };
        super::tx::serialise(tx, &format!("idem:{}:{}", idem.owner, idem.key)).await?;
        Self::idempotent_in(tx, &idem.owner, &idem.key).await
    }

    /// Keeps the answer under `idem`'s key, in the transaction that did the work:
    /// `answered` is the message stored in that transaction that the answer is about, if
    /// any (its fields are then left to it).
    pub(super) async fn keep_answer<E: Exec + ?Sized>(
        tx: &mut E,
        idem: Option<&Idempotency>,
        answered: Option<&Outbound>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let Some(idem) = idem else {
            return Ok(());
        };
        let (body, elided) = match answered {
            Some(m) => compact(&idem.body, &derived_from_outbound(m)?),
            None => (idem.body.clone(), 0),
        };
        let answered = answered
            .filter(|_| elided != 0)
            .map(|m| m.sealed.envelope.id.to_string());
        let request_hash = idem.request_hash.to_string();
        let postgres = tx.postgres();
        tx.execute(
            "INSERT INTO idempotency (court, key, request_hash, status, body, created_at, answered, elided)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            args![
                &idem.owner,
                &idem.key,
                super::exec::digest_arg(postgres, &idem.request_hash, &request_hash),
                i64::from(idem.status),
                &json_text(&body)?,
                unix_millis(now),
                answered.as_deref(),
                elided,
            ],
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn derived() -> Derived {
        [
            Some(json!("m1")),
            Some(json!("r1")),
            Some(json!("d1")),
            Some(json!({"hop": "submission", "signature": "s"})),
            Some(json!("t1")),
        ]
    }

    #[test]
    fn an_answer_about_its_message_keeps_only_what_the_message_does_not_say() {
        let answer = json!({
            "requestId": "r1", "messageId": "m1", "state": "submitted", "envelopeSha256": "d1",
            "receipt": {"hop": "submission", "signature": "s"}, "traceId": "t1"
        });
        let (body, elided) = compact(&answer, &derived());
        assert_eq!(body, json!({"state": "submitted"}));
        assert_eq!(elided, 1 | 2 | 4 | 8 | 16);
        assert_eq!(restore(body, elided, derived()).unwrap(), answer);
    }

    #[test]
    fn a_field_that_differs_from_the_message_is_kept_as_it_was() {
        let answer = json!({"requestId": "other", "messageId": "m1", "traceId": "t2", "n": 1});
        let (body, elided) = compact(&answer, &derived());
        assert_eq!(body, json!({"requestId": "other", "traceId": "t2", "n": 1}));
        assert_eq!(elided, 1);
        assert_eq!(restore(body, elided, derived()).unwrap(), answer);
    }

    #[test]
    fn an_answer_left_to_a_message_that_is_not_there_is_an_error_not_a_different_answer() {
        let (body, elided) = compact(&json!({"messageId": "m1", "state": "x"}), &derived());
        assert!(restore(body, elided, [None, None, None, None, None]).is_err());
    }

    #[test]
    fn an_answer_that_is_not_an_object_is_kept_whole() {
        let (body, elided) = compact(&json!(["a"]), &derived());
        assert_eq!((body, elided), (json!(["a"]), 0));
    }
}
