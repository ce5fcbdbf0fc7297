//! What administrators do to a running gateway: load an agreement (or more signatures for
//! one), list and show them with their status, revoke one, and dry-run a new one against
//! stored traffic. Every action is in the audit log under the administrator's name.
//!
//! - [`revoke`]: revocation, the signed notice that tells peers, and its receipt.
//! - [`simulate`]: replaying stored traffic through a candidate agreement.

pub mod client;
pub mod revoke;
pub mod simulate;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::agreement::{self, Agreement, AgreementError, Loaded, Revocation, Status};
use crate::gateway::Gateway;
use crate::ids::{AgreementId, RegionId, Sha256};
use crate::problem::{Code, Problem};

/// One agreement version as administrators see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Agreement id.
    pub id: AgreementId,
    /// Version.
    pub version: u32,
    /// Agreement hash.
    pub sha256: Sha256,
    /// `pending_signatures`, `scheduled`, `active`, `superseded`, `expired` or `revoked`.
    pub status: String,
    /// When it takes (or took) effect.
    #[serde(with = "crate::clock::ts")]
    pub effective_from: OffsetDateTime,
    /// End of validity.
    #[serde(with = "crate::clock::ts")]
    pub valid_until: OffsetDateTime,
    /// Parties that signed.
    pub signed_by: Vec<RegionId>,
    /// Parties whose signature is missing.
    pub missing_signatures: Vec<RegionId>,
    /// Who revoked it, when and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<RevocationView>,
}

/// A revocation, as shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevocationView {
    /// When.
    pub at: String,
    /// Who.
    pub by: String,
    /// Why.
    pub reason: String,
}

impl Summary {
    /// The summary of a loaded version with its status.
    pub fn of(l: &Loaded, status: Status) -> Self {
        let t = l.terms();
        Summary {
            id: t.id.clone(),
            version: t.version,
            sha256: l.digest,
            status: status.as_str().to_owned(),
            effective_from: t.effective_from(),
            valid_until: t.valid_until,
            signed_by: l
                .document
                .signatures
                .iter()
                .map(|s| s.region.clone())
                .collect(),
            missing_signatures: l.missing.clone(),
            revoked: l.revoked.as_ref().map(|r: &Revocation| RevocationView {
                at: crate::clock::rfc3339(r.at),
                by: r.by.clone(),
                reason: r.reason.clone(),
            }),
        }
    }
}

fn refused(e: AgreementError) -> Problem {
    Problem::new(Code::BadRequest, format!("agreement refused: {e}"))
}

/// Loads an agreement version, or more signatures for one already loaded (signatures of
/// the same terms are merged). Stored before it is used; in the audit log under `actor`.
pub async fn load(g: &Gateway, mut document: Agreement, actor: &str) -> Result<Summary, Problem> {
    let now = g.clock.now();
    agreement::check_not_expired(&document.terms, now).map_err(refused)?;
    let digest = document
        .terms
        .digest()
        .map_err(|e| Problem::new(Code::BadRequest, e.to_string()))?;
    if let Some((known, _)) = g
        .agreements
        .list(now)
        .into_iter()
        .find(|(l, _)| l.digest == digest)
    {
        if known.revoked.is_some() {
            return Err(Problem::new(
                Code::AgreementRevoked,
                format!(
                    "agreement {} v{} was revoked; a revoked version cannot be loaded again",
                    document.terms.id, document.terms.version
                ),
            ));
        }
        for s in &known.document.signatures {
            if !document.signatures.iter().any(|d| d.region == s.region) {
                document.signatures.push(s.clone());
            }
        }
        document.signatures.sort_by(|a, b| a.region.cmp(&b.region));
    }
    let loaded =
        agreement::admit(document, &g.region, &g.party_roots, &g.schemas).map_err(refused)?;
    g.store
        .save_agreement(&loaded.document, loaded.digest, actor, now)
        .await
        .map_err(Problem::internal)?;
    g.agreements.install(loaded);
    tracing::info!(%actor, agreement = %digest, "agreement loaded");
    show(g, &digest).ok_or_else(|| Problem::internal("a loaded agreement is not in the registry"))
}

/// Every loaded version with its status now.
pub fn list(g: &Gateway) -> Vec<Summary> {
    g.agreements
        .list(g.clock.now())
        .iter()
        .map(|(l, s)| Summary::of(l, *s))
        .collect()
}

/// One version by hash.
pub fn show(g: &Gateway, digest: &Sha256) -> Option<Summary> {
    g.agreements
        .list(g.clock.now())
        .iter()
        .find(|(l, _)| &l.digest == digest)
        .map(|(l, s)| Summary::of(l, *s))
}

/// Every version of an agreement id, with its document.
pub fn versions(g: &Gateway, id: &AgreementId) -> Vec<(Summary, Agreement)> {
    g.agreements
        .list(g.clock.now())
        .iter()
        .filter(|(l, _)| &l.terms().id == id)
        .map(|(l, s)| (Summary::of(l, *s), l.document.clone()))
        .collect()
}
