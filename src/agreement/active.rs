//! A fully signed agreement version whose terms passed every check: what routing, TLS
//! and policy need, precomputed once.

use std::sync::Arc;

use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::CertificateDer;

use super::model::{Agreement, Party, Terms};
use super::verify::AgreementError;
use crate::ids::{RegionId, Sha256};
use crate::policy::PolicyEngine;
use crate::tls;

/// A fully signed agreement version whose terms passed every check, with what routing,
/// TLS and policy need precomputed.
pub struct ActiveAgreement {
    /// The signed document.
    pub document: Agreement,
    /// The agreement hash envelopes must carry.
    pub digest: Sha256,
    /// The compiled policies.
    pub policy: PolicyEngine,
    trust: Vec<(RegionId, PartyTrust)>,
}

struct PartyTrust {
    anchors: Vec<CertificateDer<'static>>,
    verifier: Arc<dyn ClientCertVerifier>,
    /// Chains that verified lately (see [`ActiveAgreement::certifies`]).
    verified: crate::recent::Recent<Vec<CertificateDer<'static>>, ()>,
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
    /// Precomputes the hash, each party's certificate verifier and the policies. Call
    /// through [`super::activate`] or [`super::verify::admit`], which run the checks first.
    pub(super) fn new(document: Agreement) -> Result<Self, AgreementError> {
        Self::build(document)
    }

    /// An unsigned candidate, for dry runs only: its signatures are not checked, so it
    /// must never be installed in a registry.
    pub fn candidate(document: Agreement) -> Result<Self, AgreementError> {
        Self::build(document)
    }

    fn build(document: Agreement) -> Result<Self, AgreementError> {
        let terms = &document.terms;
        let inconsistent = |why: String| AgreementError::Inconsistent {
            id: terms.id.to_string(),
            version: terms.version,
            why,
        };
        let digest = terms
            .digest()
            .map_err(|e| AgreementError::Malformed(e.to_string()))?;
        let mut trust = Vec::new();
        for p in &terms.parties {
            let anchors =
                tls::parse_certs(&p.trust_anchor).map_err(|e| inconsistent(e.to_string()))?;
            let verifier =
                tls::client_verifier(&anchors, &[]).map_err(|e| inconsistent(e.to_string()))?;
            trust.push((
                p.region.clone(),
                PartyTrust {
                    anchors,
                    verifier,
                    verified: crate::recent::Recent::new(16),
                },
            ));
        }
        let policy = PolicyEngine::compile(terms).map_err(inconsistent)?;
        Ok(ActiveAgreement {
            document,
            digest,
            policy,
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
            .iter()
            .find(|(r, _)| r == region)
            .map(|(_, t)| t.anchors.as_slice())
            .unwrap_or_default()
    }

    /// Whether the TLS client certificate chain `chain` was issued under `region`'s
    /// trust anchor in this agreement: the identity check of the federation API.
    ///
    /// A chain that verified is taken as verified for [`tls::VERIFIED_FOR_SECS`]
    /// (never past its earliest `notAfter`) without its signatures being checked again:
    /// a peer presents the same chain on every request of its connection.
    pub fn certifies(&self, region: &RegionId, chain: &[CertificateDer<'static>]) -> bool {
        let Some((_, t)) = self.trust.iter().find(|(r, _)| r == region) else {
            return false;
        };
        let now = tls::now_secs();
        if t.verified.get(|c| c.as_slice() == chain, now).is_some() {
            return true;
        }
        let verifies = tls::chain_verifies(t.verifier.as_ref(), chain);
        if let (true, Some(expires)) = (verifies, tls::not_after(chain)) {
            let until = expires.min(now.saturating_add(tls::VERIFIED_FOR_SECS));
            t.verified.put(chain.to_vec(), (), now, until);
        }
        verifies
    }
}
