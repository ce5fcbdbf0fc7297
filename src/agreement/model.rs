//! The agreement's terms as types, parsed strictly (unknown fields are refused).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use super::schemas::{KindRule, SchemaPin, VersionWindow};
use crate::calendar::Calendar;
use crate::crypto::{PublicKey, Signature};
use crate::envelope::SchemaRef;
use crate::ids::{AgreementId, CourtId, MessageKind, RegionId, Sha256};
use crate::received::AsReceived;

/// A signed agreement document, as stored in `agreements/`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Agreement {
    /// What the parties agreed: the terms field by field are in agreements/README.md.
    /// Signatures and the agreement hash cover their RFC 8785 form as written.
    #[schema(value_type = Object)]
    pub terms: Terms,
    /// One signature per party over the canonical form of `terms`.
    #[serde(default)]
    pub signatures: Vec<PartySignature>,
}

/// One party's signature over the terms.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartySignature {
    /// The signing party.
    pub region: RegionId,
    /// Ed25519 over the canonical terms, by the party's root key.
    pub signature: Signature,
}

/// What the parties agreed, kept as received: the agreement hash and every party's
/// signature cover the RFC 8785 form of the `terms` JSON exactly as it stands in the file
/// (times with any offset, members in any order), never kuayu's re-serialisation of it.
/// It derefs to its [`TermsFields`]; changing one drops the received JSON (the terms are
/// then kuayu's own, to be signed again).
pub type Terms = AsReceived<TermsFields>;

/// The terms, field by field.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TermsFields {
    /// Agreement id, e.g. `SC-CQ-2026`.
    pub id: AgreementId,
    /// Version of this agreement; an amendment has a higher version and the same id.
    pub version: u32,
    /// Human title.
    pub title: String,
    /// Start of validity.
    #[serde(with = "crate::clock::ts")]
    pub valid_from: OffsetDateTime,
    /// When this version takes effect (and supersedes the previous version of the same
    /// id); defaults to `validFrom`.
    #[serde(
        default,
        with = "crate::clock::ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub effective_from: Option<OffsetDateTime>,
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
    /// Cedar policies evaluated on both gateways for every message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyDoc>,
    /// Legal deadlines, by name (see `agreements/README.md`).
    #[serde(default)]
    pub deadlines: BTreeMap<String, Period>,
    /// The calendar deadlines are counted on: time zone, public holidays and adjusted
    /// working days for the years the agreement covers (default: UTC+8, Monday to Friday).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<Calendar>,
    /// How long the payloads and attachments of finished requests are kept (default:
    /// forever); `kuayu purge` removes them after that, keeping digests, receipts,
    /// history and audit entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
}

/// How long what finished requests carried is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Retention {
    /// Days after a request finished (reached a final state) and its last deadline fell
    /// due, after which its envelopes' payloads and its attachments may be purged; at
    /// least 1.
    pub payload_days: u32,
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
    /// The region's courts under this agreement, with their level (policies read it).
    /// A court not listed has the level its code implies (see [`CourtInfo::level_of`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub courts: Vec<CourtInfo>,
}

/// A court named in an agreement.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourtInfo {
    /// Court code, e.g. `SC01`.
    pub code: CourtId,
    /// Its name.
    pub name: String,
    /// `high`, `intermediate` or `basic`.
    pub level: CourtLevel,
}

/// The level of a court in the four-level hierarchy (the Supreme People's Court aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CourtLevel {
    /// High People's Court of a province.
    High,
    /// Intermediate People's Court (two digits after the region: 川01).
    Intermediate,
    /// Basic (district or county) People's Court (four digits: 川0104).
    Basic,
}

impl CourtLevel {
    /// The level as policies see it.
    pub fn as_str(self) -> &'static str {
        match self {
            CourtLevel::High => "high",
            CourtLevel::Intermediate => "intermediate",
            CourtLevel::Basic => "basic",
        }
    }
}

impl CourtInfo {
    /// The level a court code implies: all zeros (`SC00`) is the High Court, two digits
    /// an intermediate court, more a basic court.
    pub fn level_of(code: &CourtId) -> CourtLevel {
        let digits = &code.as_str()[2..];
        if digits.bytes().all(|b| b == b'0') {
            CourtLevel::High
        } else if digits.len() == 2 {
            CourtLevel::Intermediate
        } else {
            CourtLevel::Basic
        }
    }
}

/// A policy of the agreement, in Cedar.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    /// Stable id; a denial names it.
    pub id: String,
    /// What it is for, in words.
    pub description: String,
    /// One Cedar policy (`permit(...)` or `forbid(...)`).
    pub cedar: String,
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
    /// Largest attachment, in bytes (default 256 MiB: [`crate::attachments::max_bytes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attachment_bytes: Option<u64>,
    /// How long a message stays deliverable after its sending gateway accepted it.
    pub message_ttl_hours: u32,
    /// Most messages one court may send of one kind in a time window (both gateways count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
}

/// A rate: `messages` per `per_seconds`, per sending court and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rate {
    /// Messages allowed in the window (also the burst).
    pub messages: u32,
    /// The window, in seconds.
    pub per_seconds: u32,
}

/// A legal period, as data: exactly one of days, working days, hours, months or working
/// minutes.
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
    /// Minutes within the working hours of working days on the agreement's calendar.
    WorkingMinutes(u32),
}

impl Agreement {
    /// Parses an agreement document (strictly: a key twice in one object is refused).
    pub fn from_json(text: &str) -> Result<Self, crate::json::StrictJsonError> {
        crate::json::from_slice(text.as_bytes())
    }
}

impl Terms {
    /// What every party signs: the RFC 8785 canonical form of the terms as received.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        self.canonical_without(None)
    }

    /// The agreement hash: SHA-256 of [`Terms::signed_bytes`].
    pub fn digest(&self) -> Result<Sha256, serde_json::Error> {
        Ok(Sha256::digest(&self.signed_bytes()?))
    }
}

impl TermsFields {
    /// The calendar deadlines are counted on.
    pub fn calendar(&self) -> &Calendar {
        static DEFAULT: std::sync::LazyLock<Calendar> = std::sync::LazyLock::new(Calendar::default);
        self.calendar.as_ref().unwrap_or(&DEFAULT)
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

    /// The schema a message of `kind` and schema `version`, created at `at`, must
    /// satisfy, if the agreement accepts that version for that kind at that time.
    pub fn schema_for(
        &self,
        kind: &MessageKind,
        version: u32,
        at: OffsetDateTime,
    ) -> Option<SchemaRef> {
        let rule = self.kinds.get(kind)?;
        rule.versions
            .iter()
            .any(|w| w.version == version && w.admits(at))
            .then(|| SchemaRef {
                id: rule.schema.clone(),
                version,
            })
    }

    /// The newest schema version accepted for `kind` at `at`.
    pub fn current_version(&self, kind: &MessageKind, at: OffsetDateTime) -> Option<u32> {
        self.kinds
            .get(kind)?
            .versions
            .iter()
            .filter(|w| w.admits(at))
            .map(|w| w.version)
            .max()
    }

    /// When this version takes effect.
    pub fn effective_from(&self) -> OffsetDateTime {
        self.effective_from.unwrap_or(self.valid_from)
    }

    /// The level of `court` under this agreement.
    pub fn court_level(&self, court: &CourtId) -> CourtLevel {
        self.party(&court.region())
            .and_then(|p| p.courts.iter().find(|c| &c.code == court))
            .map(|c| c.level)
            .unwrap_or_else(|| CourtInfo::level_of(court))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RegionId;
    use crate::schema::SchemaCatalog;

    /// The sample agreement with `retention` set to `value` in its terms (removed if null).
    fn with_retention(value: serde_json::Value) -> Result<Agreement, String> {
        let mut json: serde_json::Value =
            serde_json::from_str(crate::devnet::SAMPLE_AGREEMENT).unwrap();
        json["terms"]["retention"] = value;
        if json["terms"]["retention"].is_null() {
            json["terms"].as_object_mut().unwrap().remove("retention");
        }
        Agreement::from_json(&json.to_string()).map_err(|e| e.to_string())
    }

    #[test]
    fn retention_is_a_whole_positive_number_of_days_or_absent() {
        let sample = Agreement::from_json(crate::devnet::SAMPLE_AGREEMENT).unwrap();
        assert_eq!(
            sample.terms.retention,
            Some(Retention { payload_days: 1095 })
        );
        let absent = with_retention(serde_json::Value::Null).unwrap();
        assert_eq!(absent.terms.retention, None, "absent: kept for ever");
        let kept = with_retention(serde_json::json!({"payloadDays": 1095})).unwrap();
        assert_eq!(kept.terms.retention, Some(Retention { payload_days: 1095 }));
        for bad in [
            serde_json::json!({"payloadDays": -1}),
            serde_json::json!({"payloadDays": 1.5}),
            serde_json::json!({"payloadDays": "30"}),
            serde_json::json!({"days": 30}),
            serde_json::json!({"payloadDays": 30, "attachmentDays": 5}),
        ] {
            assert!(with_retention(bad.clone()).is_err(), "{bad} is refused");
        }
        let zero = with_retention(serde_json::json!({"payloadDays": 0})).unwrap();
        let catalog = SchemaCatalog::embedded().unwrap();
        let err = crate::agreement::verify::check_terms(
            &zero.terms,
            &RegionId::parse("SC").unwrap(),
            &catalog,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("retention.payloadDays"), "{err}");
        crate::agreement::verify::check_terms(
            &kept.terms,
            &RegionId::parse("SC").unwrap(),
            &catalog,
        )
        .unwrap();
    }
}
