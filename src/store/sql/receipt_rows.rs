//! How a signed receipt is kept in `receipts`: its JSON without the fields the row's own
//! columns say (`hop`, `messageId`, `issuer`, and since migration 0025 `at` as Unix
//! milliseconds and `signature` as its 64 bytes), and without `envelopeSha256` when it is
//! the digest stored with its message (as it is for every receipt kuayu keeps: a receipt
//! for other bytes is refused before it is stored). Reading puts them back
//! ([`ReceiptRow`]), so a read gives the receipt that was signed, field for field; its
//! signature verifies as before, and a changed column or digest makes it fail.
//!
//! What is left of the body is `{}`, or `{"court":…}` for a retrieval: a receipt takes
//! about 130 bytes instead of 200.
//!
//! Rows stored before keep the whole receipt, or more of it: reading leaves what a body
//! says as it is, and takes from a column only what the body leaves out.

use serde_json::Value;

use super::exec::{Exec, args};
use super::read::bad;
use crate::clock::{from_unix_millis, rfc3339, unix_millis};
use crate::crypto::Signature;
use crate::receipt::Receipt;
use crate::store::StoreError;

/// The fields of a receipt its row's text columns say, in the order of
/// [`ReceiptRow::columns`].
const IN_COLUMNS: [&str; 3] = ["hop", "messageId", "issuer"];

/// The field its message's stored digest says.
const DIGEST: &str = "envelopeSha256";

/// The field `receipts.at` says, as Unix milliseconds.
const AT: &str = "at";

/// The field `receipts.signature` says, as its 64 bytes.
const SIGNATURE: &str = "signature";

/// A `receipts` row as read, with the digest of its message (from `messages`).
pub(super) struct ReceiptRow<'a> {
    pub body: &'a str,
    pub message_id: &'a str,
    pub hop: &'a str,
    pub issuer: &'a str,
    /// `receipts.at`: the receipt's time in Unix milliseconds, if the body leaves it out.
    pub at: Option<i64>,
    /// `receipts.signature`: its 64 bytes, if the body leaves it out.
    pub signature: Option<&'a [u8]>,
    /// `messages.digest` of the receipt's message, if the read joined it.
    pub digest: Option<&'a str>,
}

/// `receipts.at` and `receipts.signature` of a row that selects them as
/// `r.at AS receipt_at, r.signature AS receipt_signature`.
pub(super) fn at_and_signature(
    row: &sqlx::any::AnyRow,
) -> Result<(Option<i64>, Option<Vec<u8>>), StoreError> {
    use sqlx::Row as _;
    Ok((
        row.try_get("receipt_at")?,
        row.try_get("receipt_signature")?,
    ))
}

impl ReceiptRow<'_> {
    fn columns(&self) -> [&str; 3] {
        [self.hop, self.message_id, self.issuer]
    }

    /// The receipt as JSON: the body with what the row and its message say put back
    /// where the body leaves it out.
    pub fn value(&self) -> Result<Value, StoreError> {
        let mut value: Value = serde_json::from_str(self.body).map_err(|e| bad("receipt", e))?;
        let Value::Object(fields) = &mut value else {
            return Err(bad("receipt", "not a JSON object"));
        };
        for (field, column) in IN_COLUMNS.iter().zip(self.columns()) {
            fields
                .entry(*field)
                .or_insert_with(|| Value::String(column.to_owned()));
        }
        if let Some(ms) = self.at {
            fields
                .entry(AT)
                .or_insert_with(|| Value::String(rfc3339(from_unix_millis(ms))));
        }
        if let Some(bytes) = self.signature {
            let signature = Signature::from_bytes(bytes).ok_or_else(|| {
                bad(
                    "receipt",
                    format!("a signature of {} bytes, not 64", bytes.len()),
                )
            })?;
            fields
                .entry(SIGNATURE)
                .or_insert_with(|| Value::String(signature.to_string()));
        }
        if !fields.contains_key(DIGEST) {
            let digest = self.digest.ok_or_else(|| {
                bad(
                    "receipt",
                    format!("its {DIGEST} is its message's, which is not stored"),
                )
            })?;
            fields.insert(DIGEST.to_owned(), Value::String(digest.to_owned()));
        }
        Ok(value)
    }

    /// The receipt.
    pub fn receipt(&self) -> Result<Receipt, StoreError> {
        serde_json::from_value(self.value()?).map_err(|e| bad("receipt", e))
    }
}

/// How `receipt` is stored: two possible bodies from one serialisation (without the
/// fields its columns say, and without its `envelopeSha256` too), and its columns.
struct Stored {
    lean: String,
    with_digest: String,
    /// `at` in Unix milliseconds, when that gives back the same text.
    at: Option<i64>,
    signature: Option<[u8; 64]>,
}

fn stored(receipt: &Receipt) -> Result<Stored, StoreError> {
    let mut value =
        serde_json::to_value(receipt).map_err(|e| StoreError::Backend(e.to_string()))?;
    let remove = |value: &mut Value, fields: &[&str]| {
        if let Value::Object(map) = value {
            for field in fields {
                map.remove(*field);
            }
        }
    };
    remove(&mut value, &IN_COLUMNS);
    // A receipt is kept as it was received (`AsReceived`), so a column takes a field only
    // where reading it back writes the same text: a time another gateway wrote with an
    // offset or other digits (`16:00:05+08:00`) stays in the body, as signed.
    let text_of = |field: &str| value.get(field).and_then(Value::as_str).map(str::to_owned);
    let ms = unix_millis(receipt.at);
    let at = (text_of(AT) == Some(rfc3339(from_unix_millis(ms)))).then_some(ms);
    let signature = receipt
        .signature
        .filter(|s| text_of(SIGNATURE) == Some(s.to_string()))
        .map(Signature::to_bytes);
    if at.is_some() {
        remove(&mut value, &[AT]);
    }
    if signature.is_some() {
        remove(&mut value, &[SIGNATURE]);
    }
    let with_digest = super::tx::json_text(&value)?;
    remove(&mut value, &[DIGEST]);
    Ok(Stored {
        lean: super::tx::json_text(&value)?,
        with_digest,
        at,
        signature,
    })
}

/// Stores `receipt` once (see the module docs). The database picks the body: without
/// `envelopeSha256` only if it equals the digest stored with the receipt's message.
pub(super) async fn insert_receipt<E: Exec + ?Sized>(
    tx: &mut E,
    receipt: &Receipt,
) -> Result<(), StoreError> {
    let stored = stored(receipt)?;
    // Compared with `messages.digest` as it is stored (`digest_arg`).
    let digest = receipt.envelope_sha256.to_string();
    let postgres = tx.postgres();
    tx.execute(
        "INSERT INTO receipts (message_id, hop, issuer, body, at, signature)
         VALUES ($1, $2, $3, CASE WHEN (SELECT digest FROM messages WHERE id = $1) = $4 THEN $5 ELSE $6 END, $7, $8)
         ON CONFLICT (message_id, hop, issuer) DO NOTHING",
        args![
            &receipt.message_id.to_string(),
            receipt.hop.as_str(),
            receipt.issuer.as_str(),
            super::exec::digest_arg(postgres, &receipt.envelope_sha256, &digest),
            &stored.lean,
            &stored.with_digest,
            stored.at,
            stored.signature.as_ref().map(|s| &s[..]),
        ],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const MESSAGE: &str = "01a23a29-81bf-76dd-a289-09ec7f860a2c";
    const DIGEST_HEX: &str = "dd4805493e4ed41f179521c5b6e8adc6841658e28506006a0b705e2011548aae";

    fn full() -> Value {
        json!({
            "hop": "relay",
            "messageId": MESSAGE,
            "envelopeSha256": DIGEST_HEX,
            "issuer": "CQ",
            "at": "2026-12-03T04:28:48.447Z",
            "signature": "wlUo93b6NV05epDA8XSK866hnm3wK3wQGygjRNFvUrx98KcBKmlqer0nvrgLafddx8dFT0iETdBNty7B1D+NCA=="
        })
    }

    fn row(body: &str) -> ReceiptRow<'_> {
        ReceiptRow {
            body,
            message_id: MESSAGE,
            hop: "relay",
            issuer: "CQ",
            at: None,
            signature: None,
            digest: Some(DIGEST_HEX),
        }
    }

    #[test]
    fn a_receipt_row_keeps_only_what_its_row_and_message_do_not_say_and_reads_back_whole() {
        let receipt: Receipt = serde_json::from_value(full()).unwrap();
        let stored = stored(&receipt).unwrap();
        assert_eq!(
            stored.lean, "{}",
            "a relay receipt's body says nothing its row does not"
        );
        for field in ["hop", "messageId", "issuer", "at", "signature"] {
            assert!(
                !stored.with_digest.contains(&format!("\"{field}\"")),
                "{field}"
            );
        }
        assert_eq!(stored.at, Some(unix_millis(receipt.at)));
        let signature = stored.signature.unwrap();
        let lean = ReceiptRow {
            at: stored.at,
            signature: Some(&signature),
            ..row(&stored.lean)
        };
        assert_eq!(lean.receipt().unwrap(), receipt);
        assert_eq!(lean.value().unwrap(), full());
        let other = ReceiptRow {
            digest: Some("00"),
            at: stored.at,
            signature: Some(&signature),
            ..row(&stored.with_digest)
        };
        assert_eq!(other.value().unwrap(), full(), "a digest in the body wins");
    }

    #[test]
    fn a_retrieval_receipt_keeps_its_court_in_the_body() {
        let mut value = full();
        value["hop"] = json!("retrieval");
        value["court"] = json!("CQ0103");
        let receipt: Receipt = serde_json::from_value(value.clone()).unwrap();
        let stored = stored(&receipt).unwrap();
        assert_eq!(stored.lean, r#"{"court":"CQ0103"}"#);
        let signature = stored.signature.unwrap();
        let read = ReceiptRow {
            hop: "retrieval",
            at: stored.at,
            signature: Some(&signature),
            ..row(&stored.lean)
        };
        assert_eq!(read.value().unwrap(), value);
    }

    #[test]
    fn a_time_written_with_an_offset_stays_in_the_body_as_received() {
        let mut value = full();
        value["at"] = json!("2026-12-03T12:28:48.447+08:00");
        let receipt: Receipt = serde_json::from_value(value.clone()).unwrap();
        let stored = stored(&receipt).unwrap();
        assert_eq!(stored.at, None);
        assert!(stored.lean.contains("+08:00"), "{}", stored.lean);
        let signature = stored.signature.unwrap();
        let read = ReceiptRow {
            signature: Some(&signature),
            ..row(&stored.lean)
        };
        assert_eq!(read.value().unwrap(), value);
    }

    #[test]
    fn a_lean_receipt_whose_message_is_not_joined_is_an_error_not_a_guess() {
        let receipt: Receipt = serde_json::from_value(full()).unwrap();
        let stored = stored(&receipt).unwrap();
        let alone = ReceiptRow {
            digest: None,
            ..row(&stored.lean)
        };
        assert!(alone.value().is_err());
    }

    #[test]
    fn a_stored_signature_of_the_wrong_length_is_an_error_not_a_panic() {
        let receipt: Receipt = serde_json::from_value(full()).unwrap();
        let stored = stored(&receipt).unwrap();
        let short = ReceiptRow {
            signature: Some(&[1, 2, 3]),
            at: stored.at,
            ..row(&stored.lean)
        };
        assert!(short.value().is_err());
    }

    #[test]
    fn a_receipt_row_stored_whole_before_reads_as_its_body_says() {
        let body = full().to_string();
        let read = ReceiptRow {
            message_id: "other",
            hop: "retrieval",
            issuer: "SC",
            at: Some(0),
            signature: Some(&[0; 64]),
            digest: None,
            body: &body,
        };
        assert_eq!(read.value().unwrap(), full(), "the body's own fields win");
    }
}
