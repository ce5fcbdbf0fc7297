//! Revocation: a party withdraws an agreement. The revoking gateway stops new traffic at
//! once, returns every open request under it to its court (with the reason, in one
//! transaction), and tells each peer with a notice signed by its message key; the peer
//! checks the notice like any message (TLS identity, the version and hash it names,
//! signature over the JSON received, its time against the receiver's clock) and does the
//! same. A notice is taken once: a stale one (its time outside the allowed skew) or a
//! replayed one (the agreement already withdrawn by that region's notice) is refused.

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
/// The signature is Ed25519, by the region's gateway message key, over the RFC 8785
/// canonical form of the notice's JSON without `signature`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Notice {
    /// The agreement withdrawn (every version).
    pub agreement_id: AgreementId,
    /// The newest version the revoking gateway holds, which the receiver must hold too.
    pub version: u32,
    /// That version's agreement hash (SHA-256 of the canonical terms).
    pub sha256: crate::ids::Sha256,
    /// The region withdrawing it.
    pub region: RegionId,
    /// Why, in words.
    pub reason: String,
    /// When, by the revoking gateway's clock; the receiver refuses a notice whose time is
    /// further from its own clock than the allowed skew.
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
        version: agreement.terms().version,
        sha256: agreement.digest,
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
    let client = match g.peers.get(agreement, peer, Duration::from_secs(10)) {
        Ok(c) => c,
        Err(e) => return outcome(false, e),
    };
    match client.post(&url).json(notice).send().await {
        Ok(r) => {
            let status = r.status();
            let body = crate::peers::read_answer(r, crate::peers::MAX_ANSWER)
                .await
                .unwrap_or_else(|e| e.into_bytes());
            let body = String::from_utf8_lossy(&body).into_owned();
            if status.is_success() {
                outcome(true, body)
            } else {
                outcome(false, format!("HTTP {status}: {body}"))
            }
        }
        Err(e) => outcome(false, crate::client::error_text(&e)),
    }
}

/// A peer's revocation notice arrives (`POST /federation/v1/revocations`).
pub async fn receive(
    g: &Gateway,
    chain: &[CertificateDer<'static>],
    body: Value,
) -> Result<Value, Problem> {
    let mut unsigned = body.clone();
    let notice: Notice = serde_json::from_value(body)
        .map_err(|e| Problem::new(Code::BadRequest, format!("not a revocation notice: {e}")))?;
    let named = crate::envelope::AgreementRef {
        id: notice.agreement_id.clone(),
        version: notice.version,
        sha256: notice.sha256,
    };
    let (loaded, agreement) = version_named(g, &named)?;
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
    if let Some(o) = unsigned.as_object_mut() {
        o.remove("signature");
    }
    // Over the JSON received, never over a re-serialisation.
    let signed = crate::crypto::canonical_value(&unsigned).map_err(Problem::internal)?;
    party.message_key.verify(&signed, &signature).map_err(|_| {
        Problem::new(
            Code::BadSignature,
            format!(
                "the notice's signature does not verify with {}'s gateway key",
                notice.region
            ),
        )
    })?;
    let now = g.clock.now();
    if (notice.at - now).abs() > g.max_clock_skew {
        return Err(Problem::new(
            Code::ClockSkew,
            format!(
                "the notice was signed at {}, {} s from this gateway's clock ({}); at most {} s is \
                 allowed: a stale notice is not taken (send a fresh one)",
                crate::clock::rfc3339(notice.at),
                (notice.at - now).whole_seconds().abs(),
                crate::clock::rfc3339(now),
                g.max_clock_skew.whole_seconds()
            ),
        ));
    }
    let by = format!("gateway:{}", notice.region);
    if let Some(done) = &loaded.revoked {
        return if done.by == by {
            Err(Problem::new(
                Code::Replayed,
                format!(
                    "agreement {} was already withdrawn here at {} by {}'s notice; a notice is taken once",
                    notice.agreement_id,
                    crate::clock::rfc3339(done.at),
                    notice.region
                ),
            ))
        } else {
            // Both sides revoked at about the same time: nothing more to do.
            Ok(json!({"agreementId": notice.agreement_id, "returned": 0, "alreadyRevoked": true}))
        };
    }
    let revocation = Revocation {
        at: now,
        by,
        reason: notice.reason.clone(),
    };
    let returned = withdraw(g, &notice.agreement_id, revocation).await?;
    Ok(json!({"agreementId": notice.agreement_id, "returned": returned}))
}

/// The version a notice names, loaded here with the same hash and fully signed.
fn version_named(
    g: &Gateway,
    named: &crate::envelope::AgreementRef,
) -> Result<(Arc<crate::agreement::Loaded>, Arc<ActiveAgreement>), Problem> {
    let all = g.agreements.list(g.clock.now());
    let Some((loaded, _)) = all
        .into_iter()
        .find(|(l, _)| l.terms().id == named.id && l.terms().version == named.version)
    else {
        return Err(Problem::new(
            Code::UnknownAgreement,
            format!(
                "agreement {} v{} is not loaded at the {} gateway",
                named.id, named.version, g.region
            ),
        ));
    };
    if loaded.digest != named.sha256 {
        return Err(Problem::new(
            Code::AgreementMismatch,
            format!(
                "the notice names agreement {} v{} with hash {}, but this gateway's copy has hash {}",
                named.id, named.version, named.sha256, loaded.digest
            ),
        ));
    }
    let active = loaded.active.clone().ok_or_else(|| {
        Problem::new(
            Code::UnknownAgreement,
            format!(
                "agreement {} v{} is not fully signed at the {} gateway",
                named.id, named.version, g.region
            ),
        )
    })?;
    Ok((loaded, active))
}
