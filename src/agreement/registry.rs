//! The agreements a gateway has activated, and routing by them.
//!
//! The registry is swapped whole (copy on write), so a reader holds one consistent
//! set for the duration of one message's checks.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::CertificateDer;

use super::model::{Agreement, Party, Terms};
use super::verify::AgreementError;
use crate::ids::{AgreementId, MessageKind, RegionId, Sha256};
use crate::tls;

/// An agreement that passed every check, with what routing and TLS need precomputed.
pub struct ActiveAgreement {
    /// The signed document.
    pub document: Agreement,
    /// The agreement hash envelopes must carry.
    pub digest: Sha256,
    /// Per party: its trust anchor and a verifier that accepts only certificates it issued.
    trust: BTreeMap<RegionId, PartyTrust>,
}

struct PartyTrust {
    anchors: Vec<CertificateDer<'static>>,
    verifier: Arc<dyn ClientCertVerifier>,
}

impl std::fmt::Debug for ActiveAgreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveAgreement")
            .field("id", &self.terms().id)
            .field("version", &self.terms().version)
            .field("digest", &self.digest)
            .finish()
    }
}

impl ActiveAgreement {
    /// Precomputes the hash and each party's certificate verifier. Call through
    /// [`super::activate`], which runs the checks first.
    pub(super) fn new(document: Agreement) -> Result<Self, AgreementError> {
        let terms = &document.terms;
        let inconsistent = |why: String| AgreementError::Inconsistent {
            id: terms.id.to_string(),
            version: terms.version,
            why,
        };
        let digest = terms
            .digest()
            .map_err(|e| AgreementError::Malformed(e.to_string()))?;
        let mut trust = BTreeMap::new();
        for p in &terms.parties {
            let anchors =
                tls::parse_certs(&p.trust_anchor).map_err(|e| inconsistent(e.to_string()))?;
            let verifier =
                tls::client_verifier(&anchors).map_err(|e| inconsistent(e.to_string()))?;
            trust.insert(p.region.clone(), PartyTrust { anchors, verifier });
        }
        Ok(ActiveAgreement {
            document,
            digest,
            trust,
        })
    }

    /// The agreed terms.
    pub fn terms(&self) -> &Terms {
        &self.document.terms
    }

    /// The party for `region`.
    pub fn party(&self, region: &RegionId) -> Option<&Party> {
        self.terms().party(region)
    }

    /// The trust anchors of `region`'s gateway certificates.
    pub fn anchors(&self, region: &RegionId) -> &[CertificateDer<'static>] {
        self.trust
            .get(region)
            .map(|t| t.anchors.as_slice())
            .unwrap_or_default()
    }

    /// Whether the TLS client certificate chain `chain` was issued under `region`'s
    /// trust anchor in this agreement: the identity check of the federation API.
    pub fn certifies(&self, region: &RegionId, chain: &[CertificateDer<'static>]) -> bool {
        self.trust
            .get(region)
            .is_some_and(|t| tls::chain_verifies(t.verifier.as_ref(), chain))
    }
}

/// Why no agreement covers a route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// No active agreement joins the two regions.
    #[error("no active agreement joins {from} and {to}")]
    NoAgreement { from: RegionId, to: RegionId },
    /// The regions are joined, but the kind may not go this way.
    #[error("agreement {agreement} does not permit {kind} from {from} to {to}")]
    KindNotPermitted {
        agreement: AgreementId,
        kind: MessageKind,
        from: RegionId,
        to: RegionId,
    },
}

/// The set of active agreements.
pub struct AgreementRegistry {
    own: RegionId,
    active: RwLock<Arc<Vec<Arc<ActiveAgreement>>>>,
}

impl AgreementRegistry {
    /// An empty registry for the gateway of region `own`.
    pub fn new(own: RegionId) -> Self {
        AgreementRegistry {
            own,
            active: RwLock::new(Arc::new(Vec::new())),
        }
    }

    /// The region this gateway serves.
    pub fn own_region(&self) -> &RegionId {
        &self.own
    }

    /// A consistent snapshot of the active agreements.
    pub fn snapshot(&self) -> Arc<Vec<Arc<ActiveAgreement>>> {
        self.active
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Activates `agreement`, replacing an older version with the same id.
    pub fn install(&self, agreement: ActiveAgreement) {
        let agreement = Arc::new(agreement);
        let mut guard = self.active.write().unwrap_or_else(|p| p.into_inner());
        let mut next: Vec<Arc<ActiveAgreement>> = guard
            .iter()
            .filter(|a| a.terms().id != agreement.terms().id)
            .cloned()
            .collect();
        next.push(agreement);
        *guard = Arc::new(next);
    }

    /// The active agreement with `id`.
    pub fn by_id(&self, id: &AgreementId) -> Option<Arc<ActiveAgreement>> {
        self.snapshot()
            .iter()
            .find(|a| &a.terms().id == id)
            .cloned()
    }

    /// The agreement under which `kind` may go from `from` to `to`.
    pub fn resolve(
        &self,
        from: &RegionId,
        to: &RegionId,
        kind: &MessageKind,
    ) -> Result<Arc<ActiveAgreement>, ResolveError> {
        let snapshot = self.snapshot();
        let joining: Vec<&Arc<ActiveAgreement>> = snapshot
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

    /// Trust anchors of every other party in every active agreement: the roots the
    /// federation listener accepts client certificates from.
    pub fn peer_anchors(&self) -> Vec<CertificateDer<'static>> {
        let mut out: Vec<CertificateDer<'static>> = Vec::new();
        for a in self.snapshot().iter() {
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
