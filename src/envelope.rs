//! The envelope: what one gateway sends another, sealed with the sender gateway's signature.
//!
//! The signature covers the RFC 8785 canonical form of the envelope without its
//! `signature` member. A receiver verifies over the JSON it received (not over a
//! re-serialised struct), so a field it does not know cannot slip past the
//! signature, and then parses that JSON strictly (unknown fields are refused).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::crypto::{self, CryptoError, PublicKey, Signature, SigningKey};
use crate::ids::{AgreementId, CourtId, MessageId, MessageKind, RegionId, Sha256};

/// A court and the region whose gateway speaks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// The region (and so the gateway).
    pub region: RegionId,
    /// The court inside that region.
    pub court: CourtId,
}

impl Address {
    /// The address of `court`, in its own region.
    pub fn of(court: &CourtId) -> Self {
        Address {
            region: court.region(),
            court: court.clone(),
        }
    }
}

/// Which schema, and which version of it, the payload claims to satisfy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaRef {
    /// Schema id, e.g. `service-request`.
    pub id: String,
    /// Schema version, e.g. `1`.
    pub version: u32,
}

impl std::fmt::Display for SchemaRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.id, self.version)
    }
}

/// The agreement the message is sent under, by id and by the hash of its signed terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementRef {
    /// Agreement id.
    pub id: AgreementId,
    /// Agreement version.
    pub version: u32,
    /// SHA-256 of the canonical form of the agreement's terms.
    pub sha256: Sha256,
}

/// How urgently the message must move. Preservation orders always travel `high`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Default,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Ordinary work.
    #[default]
    Normal,
    /// Goes ahead of every normal message at every queue.
    High,
}

impl Priority {
    /// The number kept in queues (higher goes first).
    pub fn rank(self) -> i64 {
        match self {
            Priority::Normal => 0,
            Priority::High => 1,
        }
    }
}

/// A reference to an attachment (the bytes travel separately, addressed by hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AttachmentRef {
    /// The id the payload uses for it.
    pub doc_id: String,
    /// Human title.
    pub title: String,
    /// Document type, e.g. `summons`, `judgment`, `interview_record`.
    pub doc_type: String,
    /// SHA-256 of the bytes.
    pub sha256: Sha256,
    /// Size in bytes.
    pub bytes: u64,
    /// Page count, for documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<u32>,
    /// Media type, e.g. `application/pdf`.
    pub media_type: String,
}

/// The sending gateway's seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    /// The region whose gateway key made the signature.
    pub region: RegionId,
    /// Ed25519 over the canonical envelope without `signature`.
    pub value: Signature,
}

/// One message between gateways: a request, or an update on one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Envelope {
    /// Stable id; the same id sent twice yields the first answer.
    pub id: MessageId,
    /// What the message is, e.g. `service.request`.
    pub kind: MessageKind,
    /// The schema the payload satisfies.
    pub schema: SchemaRef,
    /// The agreement it travels under.
    pub agreement: AgreementRef,
    /// Sending court and region.
    pub sender: Address,
    /// Receiving court and region.
    pub recipient: Address,
    /// For an update: the id of the request it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<MessageId>,
    /// When the sending gateway accepted it.
    #[serde(with = "crate::clock::ts")]
    pub created_at: OffsetDateTime,
    /// After this, a gateway refuses it rather than deliver stale work.
    #[serde(with = "crate::clock::ts")]
    pub expires_at: OffsetDateTime,
    /// Queue priority.
    pub priority: Priority,
    /// A conformance test message: checked like any other, never delivered to a court.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
    /// The document itself, as the schema describes it.
    pub payload: Value,
    /// Documents that travel with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentRef>,
    /// The sending gateway's signature; absent only while the envelope is being built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Seal>,
}

/// Why a received envelope cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// Not a JSON object, or a field is missing or of the wrong form.
    #[error("the envelope is malformed: {0}")]
    Malformed(String),
    /// There is no `signature`.
    #[error("the envelope is not signed")]
    Unsigned,
    /// The signature does not verify with the sender's key.
    #[error("the envelope signature does not verify with the {0} gateway's key")]
    BadSignature(RegionId),
}

/// An envelope whose signature was made or checked, with the digest the receipts cite.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// The envelope, signature included.
    pub envelope: std::sync::Arc<Envelope>,
    /// The envelope as JSON, exactly as signed (signature included).
    pub json: Value,
    /// SHA-256 of the canonical envelope without its signature: what the signature covers.
    pub digest: Sha256,
    /// `json` as compact text, once [`Sealed::text`] made it (the relay sends it and the
    /// store compresses it: serialised once for both).
    text: std::sync::OnceLock<String>,
}

impl Envelope {
    /// Signs the envelope with the gateway key of `region`.
    pub fn seal(
        mut self,
        region: &RegionId,
        key: &SigningKey,
    ) -> Result<Sealed, serde_json::Error> {
        self.signature = None;
        let unsigned = serde_json::to_value(&self)?;
        let bytes = crypto::canonical_value(&unsigned)?;
        let digest = Sha256::digest(&bytes);
        let seal = Seal {
            region: region.clone(),
            value: key.sign(&bytes),
        };
        // The signed envelope's JSON is the unsigned one with the seal added last: objects
        // keep their members' order and `signature` is the envelope's last field, so this
        // is what serialising the whole envelope again would give (a test checks).
        let mut json = unsigned;
        if let Value::Object(members) = &mut json {
            members.insert("signature".into(), serde_json::to_value(&seal)?);
        }
        self.signature = Some(seal);
        Ok(Sealed {
            envelope: std::sync::Arc::new(self),
            json,
            digest,
            text: Default::default(),
        })
    }
}

impl Sealed {
    /// The envelope as compact JSON text (`json` serialised), made at the first call and
    /// kept.
    pub fn text(&self) -> Result<&str, serde_json::Error> {
        if let Some(text) = self.text.get() {
            return Ok(text);
        }
        let text = serde_json::to_string(&self.json)?;
        Ok(self.text.get_or_init(|| text))
    }

    /// Parses a received envelope, without checking its signature yet: the caller must
    /// first learn which key should have made it (from the agreement the envelope names).
    pub fn parse(mut json: Value) -> Result<Unverified, EnvelopeError> {
        // The seal is taken out for the canonical bytes it covers and put back in its
        // place after (objects keep their members' order), so `json` is as it came,
        // without copying the whole envelope.
        let members = json
            .as_object_mut()
            .ok_or_else(|| EnvelopeError::Malformed("the body is not a JSON object".into()))?;
        let at = members
            .keys()
            .position(|k| k == "signature")
            .ok_or(EnvelopeError::Unsigned)?;
        let sealed = members
            .shift_remove("signature")
            .ok_or(EnvelopeError::Unsigned)?;
        let seal = Seal::deserialize(&sealed)
            .map_err(|e| EnvelopeError::Malformed(format!("signature: {e}")));
        let bytes = crypto::canonical_value(&json);
        if let Value::Object(members) = &mut json {
            members.shift_insert(at, "signature".into(), sealed);
        }
        let seal = seal?;
        let bytes = bytes.map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        let envelope =
            Envelope::deserialize(&json).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        Ok(Unverified {
            envelope,
            json,
            bytes,
            seal,
        })
    }
}

/// A parsed envelope whose signature has not been checked yet.
#[derive(Debug, Clone)]
pub struct Unverified {
    /// The claimed envelope. Use its fields only to find the key to check it with.
    pub envelope: Envelope,
    json: Value,
    bytes: Vec<u8>,
    seal: Seal,
}

impl Unverified {
    /// Checks the seal with `key`, the message key of the sender region's party.
    pub fn verify(self, key: &PublicKey) -> Result<Sealed, EnvelopeError> {
        let region = self.envelope.sender.region.clone();
        if self.seal.region != region {
            return Err(EnvelopeError::BadSignature(region));
        }
        key.verify(&self.bytes, &self.seal.value)
            .map_err(|e| match e {
                CryptoError::BadSignature | CryptoError::Malformed { .. } => {
                    EnvelopeError::BadSignature(region)
                }
            })?;
        Ok(Sealed {
            digest: Sha256::digest(&self.bytes),
            envelope: std::sync::Arc::new(self.envelope),
            json: self.json,
            text: Default::default(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
