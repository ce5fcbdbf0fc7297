//! resolve: which agreement covers a message. Outbound, the active agreement joining the
//! two regions that permits the kind; for an update, the very version its request was
//! accepted under; inbound, the version the envelope names, with the same hash as ours.

use std::sync::Arc;

use crate::agreement::{ActiveAgreement, Named, ResolveError, Status};
use crate::envelope::Envelope;
use crate::gateway::Gateway;
use crate::ids::{MessageKind, RegionId, Sha256};
use crate::problem::{Code, Problem};

/// resolve (outbound): the agreement active now under which `kind` may go from `from`
/// to `to`.
pub fn resolve_route(
    g: &Gateway,
    from: &RegionId,
    to: &RegionId,
    kind: &MessageKind,
) -> Result<Arc<ActiveAgreement>, Problem> {
    g.agreements
        .resolve(from, to, kind, g.clock.now())
        .map_err(|e| match e {
            ResolveError::NoAgreement { .. } => Problem::new(Code::UnknownAgreement, e.to_string()),
            ResolveError::KindNotPermitted { .. } => {
                Problem::new(Code::KindNotPermitted, e.to_string())
            }
        })
}

/// resolve (update, either side): the very version a request was accepted under; work
/// finishes under the version it started with, even after a later one took effect.
pub fn resolve_accepted(g: &Gateway, digest: &Sha256) -> Result<Arc<ActiveAgreement>, Problem> {
    match g.agreements.by_digest(digest, g.clock.now()) {
        Some((a, Status::Active | Status::Superseded)) => Ok(a),
        Some((a, Status::Revoked)) => Err(Problem::new(
            Code::AgreementRevoked,
            format!(
                "agreement {} v{} was revoked; the request takes no more messages",
                a.terms().id,
                a.terms().version
            ),
        )),
        Some((a, status)) => Err(Problem::new(
            Code::UnknownAgreement,
            format!(
                "agreement {} v{} is {} at the {} gateway",
                a.terms().id,
                a.terms().version,
                status.as_str(),
                g.region
            ),
        )),
        None => Err(Problem::new(
            Code::UnknownAgreement,
            format!(
                "no agreement with hash {digest} at the {} gateway",
                g.region
            ),
        )),
    }
}

/// resolve (inbound): the agreement the envelope names, by id, version and hash, which
/// must be usable here for this message.
pub fn resolve_named(g: &Gateway, e: &Envelope) -> Result<Arc<ActiveAgreement>, Problem> {
    let named = &e.agreement;
    let name = format!("agreement {} v{}", named.id, named.version);
    let here = &g.region;
    match g
        .agreements
        .named(named, e.kind.is_request(), g.clock.now())
    {
        Named::Usable(a) => Ok(a),
        Named::Unusable(Status::Revoked, why) => Err(Problem::new(
            Code::AgreementRevoked,
            format!("{name} is {why}"),
        )),
        Named::Unusable(status @ (Status::Scheduled | Status::PendingSignatures), why) => {
            let mut p = Problem::new(
                Code::AgreementPending,
                format!(
                    "{name} is {} at the {here} gateway ({why}); retry later",
                    status.as_str()
                ),
            );
            p.retry_after = Some(60);
            Err(p)
        }
        Named::Unusable(Status::Superseded, why) => Err(Problem::new(
            Code::AgreementMismatch,
            format!("{name} is superseded at the {here} gateway: {why}"),
        )),
        Named::Unusable(status, why) => Err(Problem::new(
            Code::UnknownAgreement,
            format!("{name} is {} at the {here} gateway: {why}", status.as_str()),
        )),
        Named::NotLoadedYet => {
            let mut p = Problem::new(
                Code::AgreementPending,
                format!(
                    "{name} is newer than any version loaded at the {here} gateway; retry once it is loaded"
                ),
            );
            p.retry_after = Some(60);
            Err(p)
        }
        Named::Mismatch(ours) => Err(Problem::new(
            Code::AgreementMismatch,
            format!(
                "the envelope names {name} with hash {}, but the {here} gateway's copy of that version has hash {ours}; \
                 both sides must load the same signed terms",
                named.sha256
            ),
        )),
        Named::Unknown => Err(Problem::new(
            Code::UnknownAgreement,
            format!("{name} is not loaded at the {here} gateway"),
        )),
    }
}
