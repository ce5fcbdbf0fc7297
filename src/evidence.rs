//! Retrieval evidence returns to the sender. When a court first retrieves a message a peer
//! gateway sent (its feed read or its work-queue acknowledgement), this gateway signs a
//! retrieval receipt and, in the same transaction, queues it to go back to that peer
//! ([`crate::relay::receipts`] carries it). The peer takes it at
//! `POST /federation/v1/receipts` ([`receive`]), or with others of the same peer at
//! `POST /federation/v1/receipts/batch` ([`receive_batch`]; each judged on its own, all
//! kept in one commit): from a gateway its certificate names, for a message the receiver
//! sent to that gateway's region, with that message's digest, the recipient court, and the
//! issuer's signature; it keeps it once, with an audit entry, and shows it with the
//! request's other receipts (and in its proof bundles).

use rustls_pki_types::CertificateDer;
use serde_json::Value;

use crate::api::{ReceiptBatch, ReceiptResult, ReceiptResults, ReceiptTaken};
use crate::attachments::peers::Peer;
use crate::gateway::Gateway;
use crate::pipeline;
use crate::problem::{Code, Problem};
use crate::receipt::{Hop, Receipt};

/// Most receipts in one batch (`POST /federation/v1/receipts/batch`).
pub const BATCH_MAX: usize = 64;

/// Takes a peer's retrieval receipt of a message this gateway sent.
pub async fn receive(
    g: &Gateway,
    chain: &[CertificateDer<'static>],
    body: Value,
) -> Result<ReceiptTaken, Problem> {
    let peer = crate::attachments::peers::authenticate(g, chain)?;
    let receipt: Receipt = serde_json::from_value(body)
        .map_err(|e| Problem::new(Code::BadRequest, format!("the body is not a receipt: {e}")))?;
    let receipt = check(g, &peer, chain, receipt).await?;
    keep(g, &peer, vec![receipt])
        .await
        .pop()
        .unwrap_or_else(|| Err(Problem::internal("no outcome for the receipt")))
}

/// Takes a peer's retrieval receipts (up to [`BATCH_MAX`]): each is checked as
/// [`receive`] checks one and answered on its own, in the order sent; those that pass are
/// kept in one commit. Only a batch that is not one (an item that is not a receipt
/// included), or a peer that is not a gateway, is refused whole.
pub async fn receive_batch(
    g: &Gateway,
    chain: &[CertificateDer<'static>],
    body: Value,
) -> Result<ReceiptResults, Problem> {
    let peer = crate::attachments::peers::authenticate(g, chain)?;
    let batch: ReceiptBatch = serde_json::from_value(body).map_err(|e| {
        Problem::new(
            Code::BadRequest,
            format!("the body is not a batch of receipts (`{{\"receipts\": [{{\"receipt\": …}}]}}`): {e}"),
        )
    })?;
    let count = batch.receipts.len();
    Problem::batch_of(count, BATCH_MAX, "receipts")?;
    // A batch whose items are not all receipts is malformed: refused whole.
    let mut items = Vec::with_capacity(count);
    for (place, item) in batch.receipts.into_iter().enumerate() {
        let receipt: Receipt = serde_json::from_value(item.receipt).map_err(|e| {
            Problem::new(
                Code::BadRequest,
                format!("receipts[{place}].receipt is not a receipt: {e}"),
            )
        })?;
        items.push((receipt, item.traceparent));
    }
    let mut results: Vec<Option<Result<ReceiptTaken, Problem>>> = vec![None; count];
    let (mut places, mut passed) = (Vec::with_capacity(count), Vec::with_capacity(count));
    for (place, (receipt, traceparent)) in items.into_iter().enumerate() {
        // Its lines carry the trace of the message it is the receipt of.
        let trace = crate::observe::trace::parse(traceparent.as_deref()).unwrap_or_default();
        let span = tracing::info_span!("receipt", trace_id = trace.as_str());
        let checked = check(g, &peer, chain, receipt);
        match tracing::Instrument::instrument(checked, span).await {
            Ok(receipt) => {
                places.push(place);
                passed.push(receipt);
            }
            Err(problem) => results[place] = Some(Err(problem)),
        }
    }
    for (place, outcome) in places.into_iter().zip(keep(g, &peer, passed).await) {
        results[place] = Some(outcome);
    }
    let results = results
        .into_iter()
        .map(|r| match r {
            Some(Ok(taken)) => ReceiptResult::Taken(taken),
            Some(Err(problem)) => ReceiptResult::Refused { problem },
            None => ReceiptResult::Refused {
                problem: Problem::internal("no outcome for the receipt"),
            },
        })
        .collect();
    Ok(ReceiptResults { results })
}

/// Keeps `receipts` (checked) in one commit: each one's answer, in order.
async fn keep(
    g: &Gateway,
    peer: &Peer,
    receipts: Vec<Receipt>,
) -> Vec<Result<ReceiptTaken, Problem>> {
    if receipts.is_empty() {
        return Vec::new();
    }
    let actor = format!("gateway:{}", peer.region);
    let stored = g
        .store
        .record_peer_receipts(&receipts, &actor, g.clock.now())
        .await;
    receipts
        .iter()
        .zip(stored)
        .map(|(receipt, stored)| {
            Ok(ReceiptTaken {
                message_id: receipt.message_id,
                hop: receipt.hop,
                stored: stored.map_err(Problem::internal)?,
            })
        })
        .collect()
}

/// `receipt`, if it is one `peer` (whose certificate chain is `chain`) may carry back
/// here: a retrieval receipt it issued of a message this gateway sent to its
/// region, with that message's digest and recipient court, signed with its key.
async fn check(
    g: &Gateway,
    peer: &Peer,
    chain: &[CertificateDer<'static>],
    receipt: Receipt,
) -> Result<Receipt, Problem> {
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
    let sent = g
        .store
        .sent_message(&id)
        .await
        .map_err(Problem::internal)?
        .ok_or_else(unknown)?;
    if sent.purged {
        return Err(Problem::new(
            Code::PayloadPurged,
            format!(
                "message {id} was purged here after its agreement's retention: its receipt can no longer be checked against its envelope, and is not kept"
            ),
        ));
    }
    if sent.recipient.region() != peer.region {
        return Err(unknown());
    }
    let (agreement, _) = g
        .agreements
        .by_digest(&sent.agreement_sha256, g.clock.now())
        .ok_or_else(|| {
            Problem::new(
                Code::UnknownAgreement,
                format!(
                    "message {id} travelled under agreement {} (sha256 {}), which is no longer held here",
                    sent.agreement_id, sent.agreement_sha256
                ),
            )
        })?;
    pipeline::authenticate_peer(&agreement, &peer.region, chain)?;
    if receipt.court.as_ref() != Some(&sent.recipient) {
        return Err(Problem::new(
            Code::BadRequest,
            format!(
                "message {id} was for court {}, but the receipt names {}",
                sent.recipient,
                receipt
                    .court
                    .as_ref()
                    .map_or("no court".into(), |c| c.to_string())
            ),
        ));
    }
    if receipt.envelope_sha256 != sent.digest {
        return Err(Problem::new(
            Code::Conflict,
            format!(
                "the receipt names envelopeSha256 {}, but message {id} was sent with {}",
                receipt.envelope_sha256, sent.digest
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
                peer.region, sent.agreement_id
            ),
        ));
    }
    Ok(receipt)
}
