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
use crate::observe::journey::stage;
use crate::problem::{Code, Problem};
use crate::schema::SchemaCatalog;
use time::OffsetDateTime;

mod resolve;
mod rules;
mod validate;

pub use resolve::{resolve_accepted, resolve_named, resolve_route};
pub use rules::rules;
pub use validate::{validate, validate_payload};

/// authenticate (inbound): the TLS client certificate must name the gateway of the
/// region the message (or notice) claims to come from, `urn:kuayu:gateway:<region>`, and
/// must have been issued under the trust anchor that the agreement gives that region.
/// Every federation route calls this; a court's or another gateway's certificate under the
/// same anchor is refused, and so is a gateway of a region the agreement does not name (a
/// partner under one agreement never sends under another this gateway also serves).
pub fn authenticate_peer(
    agreement: &ActiveAgreement,
    claimed: &RegionId,
    chain: &[CertificateDer<'static>],
) -> Result<(), Problem> {
    let Some(leaf) = chain.first() else {
        return Err(Problem::new(
            Code::Unauthenticated,
            "a client certificate is required",
        ));
    };
    let parties = || {
        agreement
            .terms()
            .parties
            .iter()
            .map(|p| p.region.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(crate::tls::Participant::Gateway(region)) = crate::tls::participant(leaf)
        && agreement.party(&region).is_none()
    {
        return Err(Problem::new(
            Code::IdentityMismatch,
            format!(
                "the TLS client certificate names the {region} gateway, which is not a party to agreement {} \
                 (parties: {}); a gateway may send only under an agreement that names its region",
                agreement.terms().id,
                parties()
            ),
        ));
    }
    match crate::tls::participant(leaf) {
        Some(crate::tls::Participant::Gateway(region)) if &region == claimed => {}
        named => {
            let named = named.map_or("no kuayu participant".to_owned(), |p| p.uri());
            return Err(Problem::new(
                Code::IdentityMismatch,
                format!(
                    "the message claims to come from the {claimed} gateway, but the TLS client certificate names \
                     {named}; a gateway's certificate must name urn:kuayu:gateway:{claimed}"
                ),
            ));
        }
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
///
/// Time is this gateway's: schema-version windows and the policies' time facts are judged
/// at its clock, never at the `createdAt` the sender wrote.
pub fn check(g: &Gateway, agreement: &ActiveAgreement, envelope: &Envelope) -> Result<(), Problem> {
    let now = g.clock.now();
    stage("authorize");
    authorize(agreement, envelope)?;
    stage("limits");
    limits(agreement, envelope)?;
    stage("validate");
    validate(&g.schemas, agreement, envelope, now)?;
    stage("rules");
    rules(agreement, envelope)?;
    if !g.danger.skip_policy {
        stage("policy");
        policy(agreement, envelope, now)?;
    }
    stage("rate");
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
    policy(agreement, envelope, at)
}

/// timely (inbound): the receiver's clock decides. The message must not have expired;
/// its `createdAt` may be ahead of this gateway's clock by at most `skew` (a sender's clock
/// running ahead, or a sender choosing its own time); and its `expiresAt` may not lie
/// beyond `createdAt` plus the agreement's message lifetime. A `createdAt` in the past is
/// normal (the sender's relay retries while a peer is down) and is bounded by the
/// lifetime: a message older than that has expired.
pub fn timely(
    agreement: &ActiveAgreement,
    e: &Envelope,
    now: OffsetDateTime,
    skew: time::Duration,
) -> Result<(), Problem> {
    let rfc3339 = crate::clock::rfc3339;
    if now > e.expires_at {
        return Err(Problem::new(
            Code::Expired,
            format!(
                "message {} expired at {} before it arrived",
                e.id,
                rfc3339(e.expires_at)
            ),
        ));
    }
    // Times come from the sender: add without overflowing (year 9999 plus a day).
    let ahead = now.checked_add(skew).unwrap_or(now);
    if e.created_at > ahead {
        return Err(Problem::new(
            Code::ClockSkew,
            format!(
                "message {} says it was created at {}, which is {} s ahead of this gateway's clock ({});                  at most {} s of clock skew is allowed: check the sending gateway's clock",
                e.id,
                rfc3339(e.created_at),
                (e.created_at - now).whole_seconds(),
                rfc3339(now),
                skew.whole_seconds()
            ),
        ));
    }
    let hours = agreement.terms().limits.message_ttl_hours;
    let longest = e
        .created_at
        .checked_add(time::Duration::hours(i64::from(hours)))
        .unwrap_or(e.created_at);
    if e.expires_at > longest {
        return Err(Problem::new(
            Code::ClockSkew,
            format!(
                "message {} expires at {}, later than its createdAt {} plus agreement {}'s message lifetime of {hours} h ({})",
                e.id,
                rfc3339(e.expires_at),
                rfc3339(e.created_at),
                agreement.terms().id,
                rfc3339(longest)
            ),
        ));
    }
    Ok(())
}

/// policy: the agreement's Cedar policies permit the message, with time facts at `at`.
/// An agreement without policies leaves authorization to its directions; one with
/// policies is complete Cedar (nothing passes that no policy permits).
pub fn policy(
    agreement: &ActiveAgreement,
    e: &Envelope,
    at: OffsetDateTime,
) -> Result<(), Problem> {
    if agreement.terms().policies.is_empty() {
        return Ok(());
    }
    agreement
        .policy
        .decide(agreement.terms(), e, at)
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
    // Canonicalising a payload only to count it costs as much as sealing it: most are far
    // within the limit, and the bound shows that without writing them out.
    let size = match crypto::canonical_len_bound(&e.payload) {
        bound if bound <= limits.max_payload_bytes => bound,
        _ => crypto::canonical_len(&e.payload).unwrap_or(u64::MAX),
    };
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
    who: &crate::store::BlobSource,
) -> Result<(), Problem> {
    crate::attachments::check::held(g, agreement, list, who).await
}
