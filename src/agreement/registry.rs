//! Every agreement version a gateway has loaded, each with a status computed from the
//! clock, and routing by them.
//!
//! A version is *pending signatures* until every party has signed, *scheduled* until its
//! effective date, *active* from then, *superseded* once a later signed version of the
//! same id takes effect, *expired* after its validity window, *revoked* once a party
//! withdrew it. Nothing needs a timer or a restart: the next message simply sees the
//! status at its own time. The set is swapped whole (copy on write), so one message's
//! checks see one consistent set.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use rustls_pki_types::CertificateDer;
use serde::Serialize;
use time::OffsetDateTime;

pub use super::active::ActiveAgreement;
use super::model::{Agreement, Terms};
use crate::envelope::AgreementRef;
use crate::ids::{AgreementId, MessageKind, RegionId, Sha256};

/// How long after an amendment takes effect a peer may still open requests under the
/// version it replaced: gateways load an amendment at slightly different moments, and a
/// request sealed in between must not be lost. Updates of requests opened under the old
/// version are accepted under it for as long as it is not revoked or expired.
pub const AMENDMENT_GRACE: time::Duration = time::Duration::hours(24);

/// Where an agreement version stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not every party has signed yet.
    PendingSignatures,
    /// Signed, but its effective date is still to come.
    Scheduled,
    /// In force for new messages.
    Active,
    /// A later version took effect; messages accepted under this one finish under it.
    Superseded,
    /// Past its validity window.
    Expired,
    /// Withdrawn; no traffic at all.
    Revoked,
}

impl Status {
    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::PendingSignatures => "pending_signatures",
            Status::Scheduled => "scheduled",
            Status::Active => "active",
            Status::Superseded => "superseded",
            Status::Expired => "expired",
            Status::Revoked => "revoked",
        }
    }
}

/// Who revoked an agreement, when and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revocation {
    /// When.
    #[serde(with = "crate::clock::ts")]
    pub at: OffsetDateTime,
    /// Who: `admin:<name>` here, or `gateway:<region>` when a peer withdrew.
    pub by: String,
    /// Why, in words.
    pub reason: String,
}

/// One loaded agreement version.
pub struct Loaded {
    /// The document as loaded (signatures may be incomplete).
    pub document: Agreement,
    /// Its agreement hash.
    pub digest: Sha256,
    /// The usable agreement, once every party has signed.
    pub active: Option<Arc<ActiveAgreement>>,
    /// Parties whose signature is still missing.
    pub missing: Vec<RegionId>,
    /// Set once withdrawn.
    pub revoked: Option<Revocation>,
}

impl Loaded {
    /// The agreed terms.
    pub fn terms(&self) -> &Terms {
        &self.document.terms
    }
}

/// Why no agreement covers a route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// No active agreement joins the two regions.
    #[error("no active agreement joins {from} and {to}")]
    NoAgreement {
        /// Sending region.
        from: RegionId,
        /// Receiving region.
        to: RegionId,
    },
    /// The regions are joined, but the kind may not go this way.
    #[error("agreement {agreement} does not permit {kind} from {from} to {to}")]
    KindNotPermitted {
        /// The agreement.
        agreement: AgreementId,
        /// The kind.
        kind: MessageKind,
        /// Sending region.
        from: RegionId,
        /// Receiving region.
        to: RegionId,
    },
}

/// What a gateway knows of the agreement an envelope names.
pub enum Named {
    /// That very version, usable for this message.
    Usable(Arc<ActiveAgreement>),
    /// That version, but not for this message; the reason says why.
    Unusable(Status, String),
    /// A version of the id newer than any loaded here (the peer loaded it first).
    NotLoadedYet,
    /// The same id and version with other terms.
    Mismatch(Sha256),
    /// No agreement with that id.
    Unknown,
}

/// The set of loaded agreement versions.
pub struct AgreementRegistry {
    own: RegionId,
    loaded: RwLock<Arc<Vec<Arc<Loaded>>>>,
}

impl AgreementRegistry {
    /// An empty registry for the gateway of region `own`.
    pub fn new(own: RegionId) -> Self {
        AgreementRegistry {
            own,
            loaded: RwLock::new(Arc::new(Vec::new())),
        }
    }

    /// The region this gateway serves.
    pub fn own_region(&self) -> &RegionId {
        &self.own
    }

    /// A consistent snapshot of every loaded version.
    pub fn snapshot(&self) -> Arc<Vec<Arc<Loaded>>> {
        self.loaded
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn swap(&self, change: impl FnOnce(&mut Vec<Arc<Loaded>>)) {
        let mut guard = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        let mut next: Vec<Arc<Loaded>> = guard.iter().cloned().collect();
        change(&mut next);
        *guard = Arc::new(next);
    }

    /// Adds a version, or replaces the same version (same hash) with a better-signed copy.
    pub fn install(&self, loaded: Loaded) {
        let loaded = Arc::new(loaded);
        self.swap(|all| {
            all.retain(|l| l.digest != loaded.digest);
            all.push(loaded);
            all.sort_by(|a, b| {
                (&a.terms().id, a.terms().version).cmp(&(&b.terms().id, b.terms().version))
            });
        });
    }

    /// Installs a fully signed, checked agreement (from configuration).
    pub fn install_active(&self, agreement: ActiveAgreement) {
        let agreement = Arc::new(agreement);
        self.install(Loaded {
            document: agreement.document.clone(),
            digest: agreement.digest,
            active: Some(agreement),
            missing: Vec::new(),
            revoked: None,
        });
    }

    /// Marks every version of `id` revoked; returns the versions that were not already.
    pub fn revoke(&self, id: &AgreementId, revocation: Revocation) -> Vec<Sha256> {
        let mut changed = Vec::new();
        self.swap(|all| {
            for l in all.iter_mut() {
                if &l.terms().id == id && l.revoked.is_none() {
                    changed.push(l.digest);
                    *l = Arc::new(Loaded {
                        document: l.document.clone(),
                        digest: l.digest,
                        active: l.active.clone(),
                        missing: l.missing.clone(),
                        revoked: Some(revocation.clone()),
                    });
                }
            }
        });
        changed
    }

    /// When `l` stopped being the version in force, if a later one took over by `now`.
    fn superseded_at(
        all: &[Arc<Loaded>],
        l: &Loaded,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        all.iter()
            .filter(|o| o.terms().id == l.terms().id && o.terms().version > l.terms().version)
            .filter(|o| {
                o.active.is_some() && o.revoked.is_none() && o.terms().effective_from() <= now
            })
            .map(|o| o.terms().effective_from())
            .min()
    }

    fn status_in(all: &[Arc<Loaded>], l: &Loaded, now: OffsetDateTime) -> Status {
        if l.revoked.is_some() {
            Status::Revoked
        } else if l.active.is_none() {
            Status::PendingSignatures
        } else if now >= l.terms().valid_until {
            Status::Expired
        } else if now < l.terms().effective_from().max(l.terms().valid_from) {
            Status::Scheduled
        } else if Self::superseded_at(all, l, now).is_some() {
            Status::Superseded
        } else {
            Status::Active
        }
    }

    /// Every loaded version with its status at `now`.
    pub fn list(&self, now: OffsetDateTime) -> Vec<(Arc<Loaded>, Status)> {
        let all = self.snapshot();
        all.iter()
            .map(|l| (Arc::clone(l), Self::status_in(&all, l, now)))
            .collect()
    }

    /// The regions other than `own` that an agreement active at `now` names as a party.
    pub fn partners(&self, own: &RegionId, now: OffsetDateTime) -> BTreeSet<RegionId> {
        self.active(now)
            .iter()
            .flat_map(|a| a.document.terms.parties.iter().map(|p| p.region.clone()))
            .filter(|r| r != own)
            .collect()
    }

    /// The versions active at `now`.
    pub fn active(&self, now: OffsetDateTime) -> Vec<Arc<ActiveAgreement>> {
        self.list(now)
            .into_iter()
            .filter(|(_, s)| *s == Status::Active)
            .filter_map(|(l, _)| l.active.clone())
            .collect()
    }

    /// The version with this hash, with its status at `now`.
    pub fn by_digest(
        &self,
        digest: &Sha256,
        now: OffsetDateTime,
    ) -> Option<(Arc<ActiveAgreement>, Status)> {
        let all = self.snapshot();
        let l = all.iter().find(|l| &l.digest == digest)?;
        Some((l.active.clone()?, Self::status_in(&all, l, now)))
    }

    /// The agreement active at `now` under which `kind` may go from `from` to `to`.
    pub fn resolve(
        &self,
        from: &RegionId,
        to: &RegionId,
        kind: &MessageKind,
        now: OffsetDateTime,
    ) -> Result<Arc<ActiveAgreement>, ResolveError> {
        let active = self.active(now);
        let joining: Vec<&Arc<ActiveAgreement>> = active
            .iter()
            .filter(|a| a.party(from).is_some() && a.party(to).is_some())
            .collect();
        if let Some(a) = joining.iter().find(|a| a.terms().permits(from, to, kind)) {
            return Ok(Arc::clone(a));
        }
        match joining.first() {
            Some(a) => Err(ResolveError::KindNotPermitted {
                agreement: a.terms().id.clone(),
                kind: kind.clone(),
                from: from.clone(),
                to: to.clone(),
            }),
            None => Err(ResolveError::NoAgreement {
                from: from.clone(),
                to: to.clone(),
            }),
        }
    }

    /// The agreement an inbound message names, if it may be used now (this gateway's
    /// clock, never the sender's `createdAt`) for a new request (`opens`) or an update. A
    /// superseded version still carries updates, and new requests for
    /// [`AMENDMENT_GRACE`] after it was superseded.
    pub fn named(&self, named: &AgreementRef, opens: bool, now: OffsetDateTime) -> Named {
        let all = self.snapshot();
        let versions: Vec<&Arc<Loaded>> = all.iter().filter(|l| l.terms().id == named.id).collect();
        let Some(max) = versions.iter().map(|l| l.terms().version).max() else {
            return Named::Unknown;
        };
        let Some(l) = versions.iter().find(|l| l.terms().version == named.version) else {
            return if named.version > max {
                Named::NotLoadedYet
            } else {
                Named::Unknown
            };
        };
        if l.digest != named.sha256 {
            return Named::Mismatch(l.digest);
        }
        let Some(active) = l.active.clone() else {
            return Named::Unusable(
                Status::PendingSignatures,
                "not every party has signed it here yet".into(),
            );
        };
        match Self::status_in(&all, l, now) {
            Status::Active => Named::Usable(active),
            Status::Superseded => match Self::superseded_at(&all, l, now) {
                Some(at) if !opens || now < at + AMENDMENT_GRACE => Named::Usable(active),
                _ => Named::Unusable(
                    Status::Superseded,
                    "a later version is in effect for new requests".into(),
                ),
            },
            Status::Revoked => {
                let reason = l
                    .revoked
                    .as_ref()
                    .map(|r| format!("revoked by {}: {}", r.by, r.reason))
                    .unwrap_or_default();
                Named::Unusable(Status::Revoked, reason)
            }
            Status::Expired => Named::Unusable(Status::Expired, "past its validity window".into()),
            Status::Scheduled => {
                Named::Unusable(Status::Scheduled, "not yet in effect here".into())
            }
            Status::PendingSignatures => {
                Named::Unusable(Status::PendingSignatures, "not fully signed here".into())
            }
        }
    }

    /// Trust anchors of every other party in every fully signed version that is active,
    /// scheduled, or superseded less than [`AMENDMENT_GRACE`] ago: the roots the federation
    /// listener accepts client certificates from. The anchors of a revoked or expired
    /// version, or of one superseded past its grace, leave at once (the next handshake).
    pub fn peer_anchors(&self, now: OffsetDateTime) -> Vec<CertificateDer<'static>> {
        let all = self.snapshot();
        let mut out: Vec<CertificateDer<'static>> = Vec::new();
        for l in all.iter() {
            let Some(a) = &l.active else { continue };
            let trusted = match Self::status_in(&all, l, now) {
                Status::Active | Status::Scheduled => true,
                Status::Superseded => {
                    Self::superseded_at(&all, l, now).is_some_and(|at| now < at + AMENDMENT_GRACE)
                }
                Status::Revoked | Status::Expired | Status::PendingSignatures => false,
            };
            if !trusted {
                continue;
            }
            for p in &a.terms().parties {
                if p.region != self.own {
                    for c in a.anchors(&p.region) {
                        if !out.contains(c) {
                            out.push(c.clone());
                        }
                    }
                }
            }
        }
        out
    }
}
