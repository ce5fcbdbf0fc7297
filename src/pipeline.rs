//! The pipeline stages every message passes, outbound and inbound, each a small
//! function with one job. The receiving gateway repeats them with its own copy of the
//! agreement; it never trusts the sender's checks.
//!
//! ```text
//! authenticate  who sent this? (TLS client identity, never a field the sender writes)
//! resolve       which active agreement covers it?
//! verify        inbound: does the envelope signature verify with the sender party's key?
//! check         authorize (direction and parties), limits, validate (pinned schema)
//! seal          outbound: sign the canonical envelope
//! commit        message + state + history + audit + outbox/inbox row, one transaction
//! ```
//!
//! `commit` is the store's job ([`crate::store::Store`]); `relay` and `deliver` follow
//! in [`crate::relay`] and the inbox.

use std::sync::Arc;

use rustls_pki_types::CertificateDer;

use crate::agreement::{ActiveAgreement, ResolveError};
use crate::crypto;
use crate::envelope::{AgreementRef, Envelope, EnvelopeError, Sealed, Unverified};
use crate::gateway::Gateway;
use crate::ids::{MessageKind, RegionId};
use crate::problem::{Code, Problem};

/// resolve (outbound): the agreement under which `kind` may go from `from` to `to`.
pub fn resolve_route(
    g: &Gateway,
    from: &RegionId,
    to: &RegionId,
    kind: &MessageKind,
) -> Result<Arc<ActiveAgreement>, Problem> {
    g.agreements.resolve(from, to, kind).map_err(|e| match e {
        ResolveError::NoAgreement { .. } => Problem::new(Code::UnknownAgreement, e.to_string()),
        ResolveError::KindNotPermitted { .. } => {
            Problem::new(Code::KindNotPermitted, e.to_string())
        }
    })
}

/// resolve (inbound): the agreement the envelope names, which must be active here with
/// the very same terms (hash).
pub fn resolve_named(g: &Gateway, named: &AgreementRef) -> Result<Arc<ActiveAgreement>, Problem> {
    let agreement = g.agreements.by_id(&named.id).ok_or_else(|| {
        Problem::new(
            Code::UnknownAgreement,
            format!(
                "agreement {} is not active at the {} gateway",
                named.id, g.region
            ),
        )
    })?;
    if agreement.digest != named.sha256 {
        return Err(Problem::new(
            Code::AgreementMismatch,
            format!(
                "the envelope names agreement {} with hash {}, but the {} gateway's active copy (v{}) has hash {}; \
                 both sides must load the same signed version",
                named.id,
                named.sha256,
                g.region,
                agreement.terms().version,
                agreement.digest
            ),
        ));
    }
    Ok(agreement)
}

/// authenticate (inbound): the TLS client certificate must have been issued under the
/// trust anchor that the agreement gives the envelope's sender region.
pub fn authenticate_peer(
    agreement: &ActiveAgreement,
    claimed: &RegionId,
    chain: &[CertificateDer<'static>],
) -> Result<(), Problem> {
    if chain.is_empty() {
        return Err(Problem::new(
            Code::Unauthenticated,
            "a client certificate is required",
        ));
    }
    if !agreement.certifies(claimed, chain) {
        return Err(Problem::new(
            Code::IdentityMismatch,
            format!(
                "the envelope claims to come from {claimed}, but the TLS client certificate was not issued under \
                 {claimed}'s trust anchor in agreement {}",
                agreement.terms().id
            ),
        ));
    }
    Ok(())
}

/// verify (inbound): the envelope signature must verify with the sender party's message key.
pub fn verify(agreement: &ActiveAgreement, unverified: Unverified) -> Result<Sealed, Problem> {
    let region = unverified.envelope.sender.region.clone();
    let party = agreement.party(&region).ok_or_else(|| {
        Problem::new(
            Code::IdentityMismatch,
            format!(
                "{region} is not a party to agreement {}",
                agreement.terms().id
            ),
        )
    })?;
    unverified.verify(&party.message_key).map_err(|e| match e {
        EnvelopeError::BadSignature(_) => Problem::new(
            Code::BadSignature,
            format!(
                "{e}: the envelope was changed after it was signed, or signed with another key"
            ),
        ),
        other => Problem::new(Code::BadRequest, other.to_string()),
    })
}

/// Parses a received envelope (signature not yet checked).
pub fn parse(json: serde_json::Value) -> Result<Unverified, Problem> {
    Sealed::parse(json).map_err(|e| match e {
        EnvelopeError::Unsigned => {
            Problem::new(Code::BadSignature, "the envelope carries no signature")
        }
        other => Problem::new(Code::BadRequest, other.to_string()),
    })
}

/// check: authorize, limits and validate, in that order, against `agreement`.
pub fn check(g: &Gateway, agreement: &ActiveAgreement, envelope: &Envelope) -> Result<(), Problem> {
    authorize(agreement, envelope)?;
    limits(agreement, envelope)?;
    validate(g, agreement, envelope)
}

/// authorize: the courts belong to the regions named, both regions are parties, and the
/// agreement permits the kind in this direction.
pub fn authorize(agreement: &ActiveAgreement, e: &Envelope) -> Result<(), Problem> {
    for (role, address) in [("sender", &e.sender), ("recipient", &e.recipient)] {
        if address.court.region() != address.region {
            return Err(Problem::new(
                Code::BadRequest,
                format!(
                    "{role} court {} does not belong to {role} region {}",
                    address.court, address.region
                ),
            ));
        }
    }
    let terms = agreement.terms();
    if !terms.permits(&e.sender.region, &e.recipient.region, &e.kind) {
        return Err(Problem::new(
            Code::KindNotPermitted,
            format!(
                "agreement {} v{} does not permit {} from {} to {}",
                terms.id, terms.version, e.kind, e.sender.region, e.recipient.region
            ),
        ));
    }
    Ok(())
}

/// limits: payload size and attachment count within the agreement's limits.
pub fn limits(agreement: &ActiveAgreement, e: &Envelope) -> Result<(), Problem> {
    let limits = &agreement.terms().limits;
    let size = crypto::canonical(&e.payload)
        .map(|b| b.len() as u64)
        .unwrap_or(u64::MAX);
    if size > limits.max_payload_bytes {
        return Err(Problem::new(
            Code::PayloadTooLarge,
            format!(
                "the payload is {size} bytes (canonical JSON); agreement {} allows at most {}",
                agreement.terms().id,
                limits.max_payload_bytes
            ),
        ));
    }
    if e.attachments.len() as u64 > u64::from(limits.max_attachments) {
        return Err(Problem::new(
            Code::PayloadTooLarge,
            format!(
                "{} attachments; agreement {} allows at most {}",
                e.attachments.len(),
                agreement.terms().id,
                limits.max_attachments
            ),
        ));
    }
    Ok(())
}

/// validate: the envelope names the schema the agreement pins for its kind and version,
/// and the payload satisfies it.
pub fn validate(g: &Gateway, agreement: &ActiveAgreement, e: &Envelope) -> Result<(), Problem> {
    let terms = agreement.terms();
    let expected = terms.schema_for(&e.kind, e.schema.version).ok_or_else(|| {
        let accepted = terms.kinds.get(&e.kind).map(|r| format!("{:?}", r.versions)).unwrap_or_else(|| "none".into());
        Problem::new(
            Code::SchemaViolation,
            format!(
                "agreement {} v{} does not accept schema version {} for {} (accepted versions: {accepted})",
                terms.id, terms.version, e.schema.version, e.kind
            ),
        )
    })?;
    if expected != e.schema {
        return Err(Problem::new(
            Code::SchemaViolation,
            format!(
                "{} must satisfy schema {expected}, but the envelope names {}",
                e.kind, e.schema
            ),
        ));
    }
    let compiled = g.schemas.get(&expected).ok_or_else(|| {
        Problem::internal(format!(
            "schema {expected} pinned by an active agreement is not compiled"
        ))
    })?;
    compiled
        .validate(&e.payload)
        .map_err(|errors| Problem::schema_violation(&expected.to_string(), errors))
}
