//! The agreement's terms as types, parsed strictly (unknown fields are refused).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::crypto::{self, PublicKey, Signature};
use crate::envelope::SchemaRef;
use crate::ids::{AgreementId, MessageKind, RegionId, Sha256};

/// A signed agreement document, as stored in `agreements/`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agreement {
    /// What the parties agreed.
    pub terms: Terms,
    /// One signature per party over the canonical form of `terms`.
    #[serde(default)]
    pub signatures: Vec<PartySignature>,
}

/// One party's signature over the terms.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartySignature {
    /// The signing party.
    pub region: RegionId,
    /// Ed25519 over the canonical terms, by the party's root key.
    pub signature: Signature,
}

/// What the parties agreed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Terms {
    /// Agreement id, e.g. `SC-CQ-2026`.
    pub id: AgreementId,
    /// Version of this agreement; an amendment has a higher version and the same id.
    pub version: u32,
    /// Human title.
    pub title: String,
    /// Start of validity.
    #[serde(with = "crate::clock::ts")]
    pub valid_from: OffsetDateTime,
    /// End of validity.
    #[serde(with = "crate::clock::ts")]
    pub valid_until: OffsetDateTime,
    /// The regions that are party to it, with their gateways' endpoints and keys.
    pub parties: Vec<Party>,
    /// The schemas messages must satisfy, pinned by the SHA-256 of the schema file.
    pub schemas: Vec<SchemaPin>,
    /// Which schema (and versions of it) each message kind must satisfy.
    pub kinds: BTreeMap<MessageKind, KindRule>,
    /// What each direction may carry.
    pub directions: Vec<Direction>,
    /// Size limits.
    pub limits: Limits,
    /// Legal deadlines, by name (see `agreements/README.md`).
    #[serde(default)]
    pub deadlines: BTreeMap<String, Period>,
}

/// A region that is party to the agreement.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Party {
    /// The region.
    pub region: RegionId,
    /// Human name of the party, e.g. the region's High People's Court.
    pub name: String,
    /// Base URL of the region's gateway federation API, e.g. `https://gw.sc.example:7443`.
    pub federation_endpoint: String,
    /// PEM certificate of the CA that issues the region's gateway certificates.
    pub trust_anchor: String,
    /// The region gateway's message-signing public key (base64 Ed25519).
    pub message_key: PublicKey,
}

/// A schema the agreement pins.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaPin {
    /// Schema id.
    pub id: String,
    /// Schema version.
    pub version: u32,
    /// SHA-256 of the exact bytes of `schemas/<id>/v<version>/schema.json`.
    pub sha256: Sha256,
}

impl SchemaPin {
    /// The schema reference this pin is for.
    pub fn schema_ref(&self) -> SchemaRef {
        SchemaRef {
            id: self.id.clone(),
            version: self.version,
        }
    }
}

/// The schema a message kind must satisfy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindRule {
    /// Schema id.
    pub schema: String,
    /// The versions accepted; a message states its version and is checked against that one.
    pub versions: Vec<u32>,
}

/// The kinds one direction may carry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Direction {
    /// Sending region.
    pub from: RegionId,
    /// Receiving region.
    pub to: RegionId,
    /// Message kinds permitted from `from` to `to`.
    pub kinds: Vec<MessageKind>,
}

/// Size limits on messages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Limits {
    /// Largest payload, in bytes of its canonical JSON.
    pub max_payload_bytes: u64,
    /// Most attachments on one message.
    pub max_attachments: u32,
    /// How long a message stays deliverable after its sending gateway accepted it.
    pub message_ttl_hours: u32,
}

/// A legal period, as data: exactly one of days, working days, hours or months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub enum Period {
    /// Calendar days.
    Days(u32),
    /// Working days on the agreement's calendar.
    WorkingDays(u32),
    /// Hours.
    Hours(u32),
    /// Calendar months.
    Months(u32),
}

impl Agreement {
    /// Parses an agreement document.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

impl Terms {
    /// The agreement hash: SHA-256 of the canonical form of the terms.
    pub fn digest(&self) -> Result<Sha256, serde_json::Error> {
        crypto::canonical_digest(self)
    }

    /// The party for `region`, if it is one.
    pub fn party(&self, region: &RegionId) -> Option<&Party> {
        self.parties.iter().find(|p| &p.region == region)
    }

    /// Whether `kind` may go from `from` to `to`.
    pub fn permits(&self, from: &RegionId, to: &RegionId, kind: &MessageKind) -> bool {
        self.directions
            .iter()
            .any(|d| &d.from == from && &d.to == to && d.kinds.contains(kind))
    }

    /// The pin for a schema version, if the agreement pins it.
    pub fn pin(&self, schema: &SchemaRef) -> Option<&SchemaPin> {
        self.schemas
            .iter()
            .find(|p| p.id == schema.id && p.version == schema.version)
    }

    /// The schema a message of `kind` and schema `version` must satisfy, if the agreement
    /// accepts that version for that kind.
    pub fn schema_for(&self, kind: &MessageKind, version: u32) -> Option<SchemaRef> {
        let rule = self.kinds.get(kind)?;
        rule.versions.contains(&version).then(|| SchemaRef {
            id: rule.schema.clone(),
            version,
        })
    }

    /// The newest schema version accepted for `kind`.
    pub fn current_version(&self, kind: &MessageKind) -> Option<u32> {
        self.kinds.get(kind)?.versions.iter().copied().max()
    }
}
