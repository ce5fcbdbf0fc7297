//! How a signed receipt is kept in `receipts`: its JSON without the fields the row's own
//! columns say (`hop`, `messageId`, `issuer`), and without `envelopeSha256` when it is
//! the digest stored with its message (as it is for every receipt kuayu keeps: a receipt
//! for other bytes is refused before it is stored). Reading puts them back
//! ([`ReceiptRow`]), so a read gives the receipt that was signed, field for field; its
//! signature verifies as before, and a changed column or digest makes it fail.
//!
//! Rows stored before keep the whole receipt: reading leaves what a body says as it is.

use serde_json::Value;

use super::exec::{Exec, args};
use super::read::bad;
use crate::receipt::Receipt;
use crate::store::StoreError;

/// The fields of a receipt its row's columns say, in the order of [`ReceiptRow::columns`].
const IN_COLUMNS: [&str; 3] = ["hop", "messageId", "issuer"];

/// The field its message's stored digest says.
const DIGEST: &str = "envelopeSha256";

/// A `receipts` row as read, with the digest of its message (from `messages`).
pub(super) struct ReceiptRow<'a> {
    pub body: &'a str,
    pub message_id: &'a str,
    pub hop: &'a str,
    pub issuer: &'a str,
    /// `messages.digest` of the receipt's message, if the read joined it.
    pub digest: Option<&'a str>,
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

/// `receipt`'s two possible bodies, from one serialisation: without the fields its
/// columns say, and without its `envelopeSha256` too.
fn bodies(receipt: &Receipt) -> Result<(String, String), StoreError> {
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
    let with_digest = super::tx::json_text(&value)?;
    remove(&mut value, &[DIGEST]);
    Ok((super::tx::json_text(&value)?, with_digest))
}

/// Stores `receipt` once (see the module docs). The database picks the body: without
/// `envelopeSha256` only if it equals the digest stored with the receipt's message.
pub(super) async fn insert_receipt<E: Exec + ?Sized>(
    tx: &mut E,
    receipt: &Receipt,
) -> Result<(), StoreError> {
    let (lean, with_digest) = bodies(receipt)?;
    tx.execute(
        "INSERT INTO receipts (message_id, hop, issuer, body)
         VALUES ($1, $2, $3, CASE WHEN (SELECT digest FROM messages WHERE id = $1) = $4 THEN $5 ELSE $6 END)
         ON CONFLICT (message_id, hop, issuer) DO NOTHING",
        args![
            &receipt.message_id.to_string(),
            receipt.hop.as_str(),
            receipt.issuer.as_str(),
            &receipt.envelope_sha256.to_string(),
            &lean,
            &with_digest,
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
            digest: Some(DIGEST_HEX),
        }
    }

    #[test]
    fn a_receipt_row_keeps_only_what_its_row_and_message_do_not_say_and_reads_back_whole() {
        let receipt: Receipt = serde_json::from_value(full()).unwrap();
        let (body, kept_digest) = bodies(&receipt).unwrap();
        for field in ["hop", "messageId", "issuer", DIGEST] {
            assert!(!body.contains(&format!("\"{field}\"")), "{field} in {body}");
        }
        assert_eq!(row(&body).receipt().unwrap(), receipt);
        assert_eq!(row(&body).value().unwrap(), full());
        let other = ReceiptRow {
            digest: Some("00"),
            ..row(&kept_digest)
        };
        assert_eq!(other.value().unwrap(), full(), "a digest in the body wins");
    }

    #[test]
    fn a_lean_receipt_whose_message_is_not_joined_is_an_error_not_a_guess() {
        let receipt: Receipt = serde_json::from_value(full()).unwrap();
        let (body, _) = bodies(&receipt).unwrap();
        let alone = ReceiptRow {
            digest: None,
            ..row(&body)
        };
        assert!(alone.value().is_err());
    }

    #[test]
    fn a_receipt_row_stored_whole_before_reads_as_its_body_says() {
        let body = full().to_string();
        let read = ReceiptRow {
            message_id: "other",
            hop: "retrieval",
            issuer: "SC",
            digest: None,
            body: &body,
        };
        assert_eq!(read.value().unwrap(), full(), "the body's own fields win");
    }
}
