//! Signed receipts: each hop's proof of who had which message, when.
//!
//! A receipt names the message and the digest of its signed envelope, the hop, the
//! issuing gateway and the time, and carries that gateway's Ed25519 signature over
//! its canonical form. Anyone holding the agreement can check it offline.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::crypto::{PublicKey, Signature, SigningKey};
use crate::ids::{CourtId, MessageId, RegionId, Sha256};
use crate::received::AsReceived;

/// Which hop a receipt proves (ordered as a message passes them).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Hop {
    /// The sending gateway accepted the message from its court.
    Submission,
    /// The receiving gateway committed the message from the sending gateway.
    Relay,
    /// The addressed court retrieved the message from its inbox.
    Retrieval,
}

impl Hop {
    /// The hop's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Hop::Submission => "submission",
            Hop::Relay => "relay",
            Hop::Retrieval => "retrieval",
        }
    }
}

/// A signed receipt, kept as received: its signature is checked over the JSON it came as
/// (any time offset, any member order), never over kuayu's re-serialisation. It derefs to
/// its [`ReceiptFields`].
pub type Receipt = AsReceived<ReceiptFields>;

/// A receipt, field by field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Receipt)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReceiptFields {
    /// The hop.
    pub hop: Hop,
    /// The message.
    pub message_id: MessageId,
    /// SHA-256 of the canonical envelope without its signature.
    pub envelope_sha256: Sha256,
    /// The gateway that issued the receipt.
    pub issuer: RegionId,
    /// For a retrieval: the court that retrieved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub court: Option<CourtId>,
    /// When the hop happened.
    #[serde(with = "crate::clock::ts")]
    pub at: OffsetDateTime,
    /// The issuer's signature over the rest; absent only while being made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

impl Receipt {
    /// Makes and signs a receipt.
    pub fn issue(
        hop: Hop,
        message_id: MessageId,
        envelope_sha256: Sha256,
        issuer: RegionId,
        court: Option<CourtId>,
        at: OffsetDateTime,
        key: &SigningKey,
    ) -> Self {
        let mut r = ReceiptFields {
            hop,
            message_id,
            envelope_sha256,
            issuer,
            court,
            at,
            signature: None,
        };
        // Invariant: a receipt is plain data that always serialises.
        r.signature = Some(key.sign_canonical(&r).expect("a receipt always serialises"));
        AsReceived::new(r)
    }

    /// Checks the signature with the issuer's message key, over the receipt's JSON as
    /// received without its `signature` member (RFC 8785 canonical form).
    pub fn verify(&self, key: &PublicKey) -> bool {
        let Some(signature) = self.signature else {
            return false;
        };
        self.canonical_without(Some("signature"))
            .is_ok_and(|bytes| key.verify(&bytes, &signature).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_receipt_verifies_only_unchanged_and_with_its_issuers_key() {
        let key = SigningKey::generate();
        let r = Receipt::issue(
            Hop::Relay,
            MessageId::new(),
            Sha256::digest(b"envelope"),
            RegionId::parse("CQ").unwrap(),
            None,
            datetime!(2026-11-25 08:00 UTC),
            &key,
        );
        assert!(r.verify(&key.public()));
        let round: Receipt = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert!(round.verify(&key.public()));
        let mut later = r.clone();
        later.at = datetime!(2026-11-25 09:00 UTC);
        assert!(!later.verify(&key.public()));
        assert!(!r.verify(&SigningKey::generate().public()));
    }

    /// A receipt another gateway wrote with a +08:00 time and its members in its own
    /// order verifies over the JSON as it came, and fails if a byte of it changes.
    #[test]
    fn a_receipt_written_by_another_implementation_verifies_as_received() {
        let key = SigningKey::generate();
        let mut fields = serde_json::json!({
            "hop": "relay",
            "messageId": MessageId::new(),
            "envelopeSha256": Sha256::digest(b"envelope"),
            "issuer": "CQ",
            "at": "2026-11-25T16:00:00.5+08:00",
        });
        let signature = key.sign(&crate::crypto::canonical(&fields).unwrap());
        fields["signature"] = serde_json::json!(signature.to_string());
        let text = fields.to_string();
        let received: Receipt = serde_json::from_str(&text).unwrap();
        assert!(
            received.verify(&key.public()),
            "verifies over the JSON received"
        );
        assert_eq!(received.at, datetime!(2026-11-25 08:00:00.5 UTC));
        // A re-serialisation would have written the time in UTC and broken the signature;
        // the receipt stored and served is the JSON received.
        assert_eq!(serde_json::to_value(&received).unwrap(), fields);
        let tampered: Receipt =
            serde_json::from_str(&text.replace("16:00:00.5", "16:00:01.5")).unwrap();
        assert!(!tampered.verify(&key.public()));
    }
}
