//! The pipeline stages every message passes, outbound and inbound, each a small
//! function with one job. The receiving gateway repeats them with its own copy of the
//! agreement; it never trusts the sender's checks.
//!
//! ```text
//! authenticate  who sent this? (TLS client identity, never a field the sender writes)
//! resolve       which active agreement covers it?
//! verify        inbound: does the envelope signature verify with the sender party's key?
//! check         authorize (direction and parties), limits, validate (pinned schema)
//! attachments   every attachment listed is held here, whole (async: reads the store)
//! seal          outbound: sign the canonical envelope
//! commit        message + state + history + audit + outbox/inbox row, one transaction
//! ```
//!
//! `commit` is the store's job ([`crate::store::Store`]); `relay` and `deliver` follow
//! in [`crate::relay`] and the inbox.

use rustls_pki_types::CertificateDer;

use crate::agreement::ActiveAgreement;
use crate::crypto;
use crate::envelope::{Envelope, EnvelopeError, Sealed, Unverified};
use crate::gateway::Gateway;
use crate::ids::RegionId;
use crate::problem::{Code, Problem};
use crate::schema::SchemaCatalog;
use time::OffsetDateTime;

mod resolve;
mod rules;
mod validate;

pub use resolve::{resolve_accepted, resolve_named, resolve_route};
pub use rules::rules;
pub use validate::{validate, validate_payload};

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

/// check: authorize, limits, validate, policy and rate, in that order, against
/// `agreement`. Only a message that passes everything else counts against the rate.
pub fn check(g: &Gateway, agreement: &ActiveAgreement, envelope: &Envelope) -> Result<(), Problem> {
    authorize(agreement, envelope)?;
    limits(agreement, envelope)?;
    validate(&g.schemas, agreement, envelope, envelope.created_at)?;
    rules(agreement, envelope)?;
    if !g.danger.skip_policy {
        policy(agreement, envelope)?;
    }
    rate(g, agreement, envelope)
}

/// The checks that depend on the agreement's terms alone (authorize, limits, validate,
/// policy), with schema-version windows judged at `at`. A dry run uses these.
pub fn check_terms(
    schemas: &SchemaCatalog,
    agreement: &ActiveAgreement,
    envelope: &Envelope,
    at: OffsetDateTime,
) -> Result<(), Problem> {
    authorize(agreement, envelope)?;
    limits(agreement, envelope)?;
    validate(schemas, agreement, envelope, at)?;
    rules(agreement, envelope)?;
    policy(agreement, envelope)
}

/// policy: the agreement's Cedar policies permit the message. An agreement without
/// policies leaves authorization to its directions; one with policies is complete Cedar
/// (nothing passes that no policy permits).
pub fn policy(agreement: &ActiveAgreement, e: &Envelope) -> Result<(), Problem> {
    if agreement.terms().policies.is_empty() {
        return Ok(());
    }
    agreement
        .policy
        .decide(agreement.terms(), e)
        .map_err(|denial| {
            let mut p = Problem::new(Code::PolicyDenied, denial.detail);
            p.policies = denial.policies;
            p
        })
}

/// rate: the sending court is within the agreement's rate for this kind.
pub fn rate(g: &Gateway, agreement: &ActiveAgreement, e: &Envelope) -> Result<(), Problem> {
    g.rates
        .check(agreement, &e.sender.court, &e.kind)
        .map_err(|wait| {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let rate = agreement
                .terms()
                .limits
                .rate
                .map(|r| format!("{} per {} s", r.messages, r.per_seconds))
                .unwrap_or_default();
            let mut p = Problem::new(
                Code::RateLimited,
                format!(
                    "court {} is over agreement {}'s rate for {} ({rate}); retry in {seconds} s",
                    e.sender.court,
                    agreement.terms().id,
                    e.kind
                ),
            );
            p.retry_after = Some(seconds.max(1));
            p
        })
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

/// attachments: every attachment listed is held at this gateway, with the size stated,
/// within the agreement's limit (the court uploads it first; the relay transfers it to
/// the peer before the envelope). The one stage that reads the store, so async.
pub async fn attachments(
    g: &Gateway,
    agreement: &ActiveAgreement,
    list: &[crate::envelope::AttachmentRef],
    uploader: crate::attachments::check::Uploader,
) -> Result<(), Problem> {
    crate::attachments::check::held(g, agreement, list, uploader).await
}
