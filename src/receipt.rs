//! Signed receipts: each hop's proof of who had which message, when.
//!
//! A receipt names the message and the digest of its signed envelope, the hop, the
//! issuing gateway and the time, and carries that gateway's Ed25519 signature over
//! its canonical form. Anyone holding the agreement can check it offline.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::crypto::{PublicKey, Signature, SigningKey};
use crate::ids::{CourtId, MessageId, RegionId, Sha256};

/// Which hop a receipt proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// A signed receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Receipt {
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
        let mut r = Receipt {
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
        r
    }

    /// Checks the signature with the issuer's message key.
    pub fn verify(&self, key: &PublicKey) -> bool {
        let Some(signature) = self.signature else {
            return false;
        };
        let unsigned = Receipt {
            signature: None,
            ..self.clone()
        };
        key.verify_canonical(&unsigned, &signature).is_ok()
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
}
