//! Checking an agreement before a gateway uses it: every party's signature against the
//! party root keys from the gateway's own configuration, the validity window, and that
//! the terms hang together (parties, directions, kinds, pinned schemas, trust anchors).
//!
//! The agreement never vouches for its own signers: root keys come only from config.

use std::collections::BTreeMap;
use std::sync::Arc;

use time::OffsetDateTime;

use super::model::{Agreement, PartySignature, Terms};
use super::registry::{ActiveAgreement, Loaded};
use crate::clock::rfc3339;
use crate::crypto::{PublicKey, SigningKey};
use crate::ids::RegionId;
use crate::schema::SchemaCatalog;

/// The party root keys a gateway's operator configured: region → Ed25519 public key.
pub type PartyRoots = BTreeMap<RegionId, PublicKey>;

/// Why an agreement cannot be activated. Each message says which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgreementError {
    /// Not JSON of the agreement format.
    #[error("the agreement is malformed: {0}")]
    Malformed(String),
    /// No signatures at all.
    #[error("agreement {id} v{version} is unsigned: every party ({parties}) must sign it")]
    Unsigned {
        id: String,
        version: u32,
        parties: String,
    },
    /// Some parties have not signed.
    #[error("agreement {id} v{version} is only partly signed: missing the signature of {missing}")]
    PartlySigned {
        id: String,
        version: u32,
        missing: String,
    },
    /// A signature does not verify: the terms changed after signing, or another key signed.
    #[error(
        "agreement {id} v{version}: the signature of {region} does not verify against {region}'s root key \
         in this gateway's configuration; the terms were changed after signing (tampered) or signed with another key"
    )]
    Tampered {
        id: String,
        version: u32,
        region: RegionId,
    },
    /// A signature by a region that is not a party.
    #[error("agreement {id} v{version} carries a signature of {region}, which is not a party")]
    StrangerSignature {
        id: String,
        version: u32,
        region: RegionId,
    },
    /// The gateway has no root key for a party.
    #[error(
        "this gateway's configuration has no root key for party {0}: add it under [party_roots] to accept agreements it signs"
    )]
    NoRootKey(RegionId),
    /// Past its validity window.
    #[error("agreement {id} v{version} expired at {until}")]
    Expired {
        id: String,
        version: u32,
        until: String,
    },
    /// Before its validity window.
    #[error("agreement {id} v{version} is not valid before {from}")]
    NotYetValid {
        id: String,
        version: u32,
        from: String,
    },
    /// This gateway's region is not a party.
    #[error("agreement {id} does not name this gateway's region {region} as a party")]
    NotAParty { id: String, region: RegionId },
    /// The terms contradict themselves.
    #[error("agreement {id} v{version} is inconsistent: {why}")]
    Inconsistent {
        id: String,
        version: u32,
        why: String,
    },
    /// A pinned schema is missing here or has other bytes.
    #[error("agreement {id} v{version} pins schema {schema} with sha256 {pinned}, but {found}")]
    SchemaPin {
        id: String,
        version: u32,
        schema: String,
        pinned: String,
        found: String,
    },
}

/// Adds (or replaces) `region`'s signature over the terms, made with its root `key`.
pub fn sign(
    mut agreement: Agreement,
    region: &RegionId,
    key: &SigningKey,
) -> Result<Agreement, AgreementError> {
    let signature = agreement
        .terms
        .signed_bytes()
        .map(|bytes| key.sign(&bytes))
        .map_err(|e| AgreementError::Malformed(e.to_string()))?;
    agreement.signatures.retain(|s| &s.region != region);
    agreement.signatures.push(PartySignature {
        region: region.clone(),
        signature,
    });
    agreement.signatures.sort_by(|a, b| a.region.cmp(&b.region));
    Ok(agreement)
}

/// Checks the signatures that are there (each must be by a party and verify with the
/// root key configured for it) and returns the parties that have not signed yet.
pub fn check_present_signatures(
    agreement: &Agreement,
    roots: &PartyRoots,
) -> Result<Vec<RegionId>, AgreementError> {
    let terms = &agreement.terms;
    let (id, version) = (terms.id.to_string(), terms.version);
    let parties: Vec<&RegionId> = terms.parties.iter().map(|p| &p.region).collect();
    if let Some(s) = agreement
        .signatures
        .iter()
        .find(|s| !parties.contains(&&s.region))
    {
        return Err(AgreementError::StrangerSignature {
            id,
            version,
            region: s.region.clone(),
        });
    }
    let canonical = terms
        .signed_bytes()
        .map_err(|e| AgreementError::Malformed(e.to_string()))?;
    for s in &agreement.signatures {
        let root = roots
            .get(&s.region)
            .ok_or_else(|| AgreementError::NoRootKey(s.region.clone()))?;
        root.verify(&canonical, &s.signature)
            .map_err(|_| AgreementError::Tampered {
                id: id.clone(),
                version,
                region: s.region.clone(),
            })?;
    }
    Ok(parties
        .into_iter()
        .filter(|p| !agreement.signatures.iter().any(|s| &&s.region == p))
        .cloned()
        .collect())
}

/// Checks the signatures: every party signed, and each signature verifies with the root
/// key configured for that party.
pub fn check_signatures(agreement: &Agreement, roots: &PartyRoots) -> Result<(), AgreementError> {
    let terms = &agreement.terms;
    let (id, version) = (terms.id.to_string(), terms.version);
    if agreement.signatures.is_empty() {
        let parties: Vec<&str> = terms.parties.iter().map(|p| p.region.as_str()).collect();
        return Err(AgreementError::Unsigned {
            id,
            version,
            parties: parties.join(", "),
        });
    }
    let missing = check_present_signatures(agreement, roots)?;
    if !missing.is_empty() {
        let missing: Vec<&str> = missing.iter().map(|r| r.as_str()).collect();
        return Err(AgreementError::PartlySigned {
            id,
            version,
            missing: missing.join(", "),
        });
    }
    Ok(())
}

/// Checks the validity window at `now`.
pub fn check_validity(terms: &Terms, now: OffsetDateTime) -> Result<(), AgreementError> {
    let (id, version) = (terms.id.to_string(), terms.version);
    if now >= terms.valid_until {
        return Err(AgreementError::Expired {
            id,
            version,
            until: rfc3339(terms.valid_until),
        });
    }
    if now < terms.valid_from {
        return Err(AgreementError::NotYetValid {
            id,
            version,
            from: rfc3339(terms.valid_from),
        });
    }
    Ok(())
}

/// Checks that the terms hang together and that every pinned schema is here with the
/// pinned bytes.
pub fn check_terms(
    terms: &Terms,
    own: &RegionId,
    catalog: &SchemaCatalog,
) -> Result<(), AgreementError> {
    let (id, version) = (terms.id.to_string(), terms.version);
    let bad = |why: String| AgreementError::Inconsistent {
        id: id.clone(),
        version,
        why,
    };
    if terms.party(own).is_none() {
        return Err(AgreementError::NotAParty {
            id,
            region: own.clone(),
        });
    }
    if terms.parties.len() < 2 {
        return Err(bad("an agreement needs at least two parties".into()));
    }
    for (i, p) in terms.parties.iter().enumerate() {
        if terms.parties[..i].iter().any(|q| q.region == p.region) {
            return Err(bad(format!("party {} is listed twice", p.region)));
        }
        if !p.federation_endpoint.starts_with("https://") {
            return Err(bad(format!(
                "party {}: federationEndpoint must be an https:// URL",
                p.region
            )));
        }
        crate::tls::parse_certs(&p.trust_anchor)
            .map_err(|e| bad(format!("party {}: trustAnchor: {e}", p.region)))?;
    }
    if let Err(why) = crate::policy::PolicyEngine::compile(terms) {
        return Err(bad(why));
    }
    if let Some(effective) = terms.effective_from
        && (effective < terms.valid_from || effective >= terms.valid_until)
    {
        return Err(bad(
            "effectiveFrom must lie inside the validity window".into()
        ));
    }
    if terms.valid_from >= terms.valid_until {
        return Err(bad("validFrom must come before validUntil".into()));
    }
    if terms.retention.is_some_and(|r| r.payload_days == 0) {
        return Err(bad(
            "retention.payloadDays must be a whole number of days, at least 1 (leave retention out to keep payloads for ever)".into(),
        ));
    }
    for d in &terms.directions {
        for region in [&d.from, &d.to] {
            if terms.party(region).is_none() {
                return Err(bad(format!(
                    "direction {}→{} names {region}, which is not a party",
                    d.from, d.to
                )));
            }
        }
        if let Some(k) = d.kinds.iter().find(|k| !terms.kinds.contains_key(k)) {
            return Err(bad(format!(
                "direction {}→{} permits {k}, which has no entry under kinds",
                d.from, d.to
            )));
        }
    }
    for (kind, rule) in &terms.kinds {
        if rule.versions.is_empty() {
            return Err(bad(format!("kind {kind} accepts no schema version")));
        }
        for w in &rule.versions {
            let schema = crate::envelope::SchemaRef {
                id: rule.schema.clone(),
                version: w.version,
            };
            if terms.pin(&schema).is_none() {
                return Err(bad(format!(
                    "kind {kind} uses schema {schema}, which is not pinned under schemas"
                )));
            }
        }
    }
    for pin in &terms.schemas {
        let schema = pin.schema_ref();
        let found = match catalog.get(&schema) {
            None => "this gateway has no such schema".to_owned(),
            Some(c) if c.sha256 == pin.sha256 => {
                // The pinned bytes are the whole rule set only with what they refer to.
                if let Some(r) = c.refs.iter().find(|r| terms.pin(r).is_none()) {
                    return Err(bad(format!(
                        "schema {schema} refers to schema {r}, which is not pinned under schemas"
                    )));
                }
                continue;
            }
            Some(c) => format!("this gateway's copy has sha256 {}", c.sha256),
        };
        return Err(AgreementError::SchemaPin {
            id: id.clone(),
            version,
            schema: schema.to_string(),
            pinned: pin.sha256.to_string(),
            found,
        });
    }
    Ok(())
}

/// Runs every check and, if all pass, returns the agreement ready for the registry. For
/// agreements from the configuration: every party must have signed. One whose validity
/// or effective date is still to come is accepted; it is scheduled until then.
pub fn activate(
    agreement: Agreement,
    own: &RegionId,
    roots: &PartyRoots,
    catalog: &SchemaCatalog,
    now: OffsetDateTime,
) -> Result<ActiveAgreement, AgreementError> {
    check_signatures(&agreement, roots)?;
    check_not_expired(&agreement.terms, now)?;
    check_terms(&agreement.terms, own, catalog)?;
    ActiveAgreement::new(agreement)
}

/// The admin path: like [`activate`], but an agreement some parties have not signed yet
/// is kept as pending (every signature that is there must still verify), and the validity
/// window is left to the caller (a stored version past it still lists as expired).
pub fn admit(
    agreement: Agreement,
    own: &RegionId,
    roots: &PartyRoots,
    catalog: &SchemaCatalog,
) -> Result<Loaded, AgreementError> {
    let missing = check_present_signatures(&agreement, roots)?;
    check_terms(&agreement.terms, own, catalog)?;
    let digest = agreement
        .terms
        .digest()
        .map_err(|e| AgreementError::Malformed(e.to_string()))?;
    let active = if missing.is_empty() {
        Some(Arc::new(ActiveAgreement::new(agreement.clone())?))
    } else {
        None
    };
    Ok(Loaded {
        document: agreement,
        digest,
        active,
        missing,
        revoked: None,
    })
}

/// Refuses an agreement past its validity window (one still to come is fine).
pub fn check_not_expired(terms: &Terms, now: OffsetDateTime) -> Result<(), AgreementError> {
    match check_validity(terms, now) {
        Err(e @ AgreementError::Expired { .. }) => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
