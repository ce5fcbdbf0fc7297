//! Retrieval evidence returns to the sender. When a court first retrieves a message a peer
//! gateway sent (its feed read or its work-queue acknowledgement), this gateway signs a
//! retrieval receipt and, in the same transaction, queues it to go back to that peer
//! ([`crate::relay::receipts`] carries it). The peer takes it at
//! `POST /federation/v1/receipts` ([`receive`]): from a gateway its certificate names, for
//! a message the receiver sent to that gateway's region, with that message's digest, the
//! recipient court, and the issuer's signature; it keeps it once, with an audit entry, and
//! shows it with the request's other receipts (and in its proof bundles).

use rustls_pki_types::CertificateDer;
use serde_json::Value;

use crate::api::ReceiptTaken;
use crate::envelope::Envelope;
use crate::gateway::Gateway;
use crate::pipeline;
use crate::problem::{Code, Problem};
use crate::receipt::{Hop, Receipt};

/// Takes a peer's retrieval receipt of a message this gateway sent.
pub async fn receive(
    g: &Gateway,
    chain: &[CertificateDer<'static>],
    body: Value,
) -> Result<ReceiptTaken, Problem> {
    let peer = crate::attachments::peers::authenticate(g, chain)?;
    let receipt: Receipt = serde_json::from_value(body)
        .map_err(|e| Problem::new(Code::BadRequest, format!("the body is not a receipt: {e}")))?;
    if receipt.hop != Hop::Retrieval {
        return Err(Problem::new(
            Code::BadRequest,
            format!(
                "a {} receipt does not travel here: only retrieval receipts go back to the sender (a relay receipt is the answer to the message itself)",
                receipt.hop.as_str()
            ),
        ));
    }
    if receipt.issuer != peer.region {
        return Err(Problem::new(
            Code::IdentityMismatch,
            format!(
                "the receipt is issued by {}, but the TLS client certificate names the {} gateway",
                receipt.issuer, peer.region
            ),
        ));
    }
    let id = receipt.message_id;
    let unknown = || {
        Problem::new(
            Code::NotFound,
            format!(
                "the {} gateway sent no message {id} to {}",
                g.region, peer.region
            ),
        )
    };
    let (_, digest, json) = g
        .store
        .sent_message(&id)
        .await
        .map_err(Problem::internal)?
        .ok_or_else(unknown)?;
    if json.is_null() {
        return Err(Problem::new(
            Code::PayloadPurged,
            format!(
                "message {id} was purged here after its agreement's retention: its receipt can no longer be checked against its envelope, and is not kept"
            ),
        ));
    }
    let envelope: Envelope = serde_json::from_value(json).map_err(Problem::internal)?;
    if envelope.recipient.region != peer.region {
        return Err(unknown());
    }
    let (agreement, _) = g
        .agreements
        .by_digest(&envelope.agreement.sha256, g.clock.now())
        .ok_or_else(|| {
            Problem::new(
                Code::UnknownAgreement,
                format!(
                    "message {id} travelled under agreement {} v{}, which is no longer held here",
                    envelope.agreement.id, envelope.agreement.version
                ),
            )
        })?;
    pipeline::authenticate_peer(&agreement, &peer.region, chain)?;
    if receipt.court.as_ref() != Some(&envelope.recipient.court) {
        return Err(Problem::new(
            Code::BadRequest,
            format!(
                "message {id} was for court {}, but the receipt names {}",
                envelope.recipient.court,
                receipt
                    .court
                    .as_ref()
                    .map_or("no court".into(), |c| c.to_string())
            ),
        ));
    }
    if receipt.envelope_sha256 != digest {
        return Err(Problem::new(
            Code::Conflict,
            format!(
                "the receipt names envelopeSha256 {}, but message {id} was sent with {digest}",
                receipt.envelope_sha256
            ),
        ));
    }
    let key = agreement
        .party(&peer.region)
        .map(|p| p.message_key)
        .ok_or_else(unknown)?;
    if !receipt.verify(&key) {
        return Err(Problem::new(
            Code::BadSignature,
            format!(
                "the receipt's signature does not verify with the {} gateway's messageKey in agreement {}",
                peer.region, envelope.agreement.id
            ),
        ));
    }
    let actor = format!("gateway:{}", peer.region);
    let stored = g
        .store
        .record_peer_receipt(&receipt, &actor, g.clock.now())
        .await
        .map_err(Problem::internal)?;
    Ok(ReceiptTaken {
        message_id: id,
        hop: receipt.hop,
        stored,
    })
}
