//! Revocation: a party withdraws an agreement. The revoking gateway stops new traffic at
//! once, returns every open request under it to its court (with the reason, in one
//! transaction), and tells each peer with a notice signed by its message key; the peer
//! checks the notice like any message (TLS identity, signature) and does the same.

use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::agreement::{ActiveAgreement, Revocation};
use crate::crypto::Signature;
use crate::gateway::Gateway;
use crate::ids::{AgreementId, RegionId};
use crate::peers::PeerClients;
use crate::pipeline;
use crate::problem::{Code, Problem};
use crate::store::Revoke;
use std::sync::Arc;
use std::time::Duration;

/// The signed notice one gateway sends its peers when its region revokes an agreement.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Notice {
    /// The agreement withdrawn (every version).
    pub agreement_id: AgreementId,
    /// The region withdrawing it.
    pub region: RegionId,
    /// Why, in words.
    pub reason: String,
    /// When.
    #[serde(with = "crate::clock::ts")]
    pub at: OffsetDateTime,
    /// The region gateway's signature over the rest (canonical JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

/// What a revocation did.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The agreement.
    pub agreement_id: AgreementId,
    /// Open requests returned to this gateway's courts.
    pub returned: usize,
    /// Each peer told, and how it answered.
    pub peers: Vec<PeerOutcome>,
}

/// How one peer took the notice.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerOutcome {
    /// The peer.
    pub region: RegionId,
    /// Whether it confirmed.
    pub told: bool,
    /// Its answer, or why it could not be reached.
    pub detail: String,
}

/// The newest fully signed version of `id`, which names the parties and their keys.
fn newest(g: &Gateway, id: &AgreementId) -> Option<Arc<ActiveAgreement>> {
    g.agreements
        .list(g.clock.now())
        .into_iter()
        .filter(|(l, _)| &l.terms().id == id)
        .filter_map(|(l, _)| l.active.clone())
        .max_by_key(|a| a.terms().version)
}

/// Withdraws `id` here: no new traffic from this instant, open work returned.
async fn withdraw(g: &Gateway, id: &AgreementId, revocation: Revocation) -> Result<usize, Problem> {
    g.agreements.revoke(id, revocation.clone());
    let returned = g
        .store
        .revoke_agreement(
            Revoke {
                id: id.clone(),
                revocation,
            },
            g.clock.now(),
        )
        .await
        .map_err(Problem::internal)?;
    for r in &returned {
        tracing::info!(request = %r.request_id, court = %r.court, "request returned: agreement revoked");
    }
    Ok(returned.len())
}

/// An administrator revokes `id`: withdrawn here, then every peer is told.
pub async fn revoke(
    g: &Gateway,
    id: &AgreementId,
    actor: &str,
    reason: &str,
) -> Result<Report, Problem> {
    let agreement = newest(g, id)
        .ok_or_else(|| Problem::new(Code::NotFound, format!("no agreement {id} is loaded here")))?;
    let now = g.clock.now();
    let returned = withdraw(
        g,
        id,
        Revocation {
            at: now,
            by: actor.to_owned(),
            reason: reason.to_owned(),
        },
    )
    .await?;
    let mut notice = Notice {
        agreement_id: id.clone(),
        region: g.region.clone(),
        reason: reason.to_owned(),
        at: now,
        signature: None,
    };
    notice.signature = Some(g.key.sign_canonical(&notice).map_err(Problem::internal)?);
    let mut peers = Vec::new();
    for party in &agreement.terms().parties {
        if party.region != g.region {
            peers.push(tell(g, &agreement, &party.region, &notice).await);
        }
    }
    Ok(Report {
        agreement_id: id.clone(),
        returned,
        peers,
    })
}

async fn tell(
    g: &Gateway,
    agreement: &ActiveAgreement,
    peer: &RegionId,
    notice: &Notice,
) -> PeerOutcome {
    let outcome = |told: bool, detail: String| PeerOutcome {
        region: peer.clone(),
        told,
        detail,
    };
    let Some(url) = PeerClients::url(agreement, peer, "/federation/v1/revocations") else {
        return outcome(false, "not a party".into());
    };
    let client = match g.peers.get(
        agreement,
        peer,
        &g.federation_identity,
        Duration::from_secs(10),
    ) {
        Ok(c) => c,
        Err(e) => return outcome(false, e),
    };
    match client.post(&url).json(notice).send().await {
        Ok(r) if r.status().is_success() => outcome(true, r.text().await.unwrap_or_default()),
        Ok(r) => outcome(
            false,
            format!(
                "HTTP {}: {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ),
        ),
        Err(e) => outcome(false, crate::client::error_text(&e)),
    }
}

/// A peer's revocation notice arrives (`POST /federation/v1/revocations`).
pub async fn receive(
    g: &Gateway,
    chain: &[CertificateDer<'static>],
    body: Value,
) -> Result<Value, Problem> {
    let notice: Notice = serde_json::from_value(body.clone())
        .map_err(|e| Problem::new(Code::BadRequest, format!("not a revocation notice: {e}")))?;
    let agreement = newest(g, &notice.agreement_id).ok_or_else(|| {
        Problem::new(
            Code::UnknownAgreement,
            format!(
                "agreement {} is not loaded at the {} gateway",
                notice.agreement_id, g.region
            ),
        )
    })?;
    pipeline::authenticate_peer(&agreement, &notice.region, chain)?;
    let party = agreement.party(&notice.region).ok_or_else(|| {
        Problem::new(
            Code::IdentityMismatch,
            format!(
                "{} is not a party to agreement {}",
                notice.region, notice.agreement_id
            ),
        )
    })?;
    let signature = notice
        .signature
        .ok_or_else(|| Problem::new(Code::BadSignature, "the notice is not signed"))?;
    // Over the notice as received (its JSON without `signature`), never a re-serialisation.
    let mut unsigned = body;
    if let Some(map) = unsigned.as_object_mut() {
        map.remove("signature");
    }
    party
        .message_key
        .verify_canonical(&unsigned, &signature)
        .map_err(|_| {
            Problem::new(
                Code::BadSignature,
                format!(
                    "the notice's signature does not verify with {}'s gateway key",
                    notice.region
                ),
            )
        })?;
    let already = g
        .agreements
        .list(g.clock.now())
        .iter()
        .filter(|(l, _)| l.terms().id == notice.agreement_id)
        .all(|(l, _)| l.revoked.is_some());
    if already {
        return Ok(
            json!({"agreementId": notice.agreement_id, "returned": 0, "alreadyRevoked": true}),
        );
    }
    let revocation = Revocation {
        at: g.clock.now(),
        by: format!("gateway:{}", notice.region),
        reason: notice.reason.clone(),
    };
    let returned = withdraw(g, &notice.agreement_id, revocation).await?;
    Ok(json!({"agreementId": notice.agreement_id, "returned": returned}))
}
