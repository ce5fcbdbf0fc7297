//! The checks of a bundle's parts that rest on signatures: agreements, envelopes and their
//! order, receipts, and the attachment list the envelopes seal.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::verify::Report;
use crate::agreement::verify::check_signatures;
use crate::agreement::{Agreement, PartyRoots};
use crate::crypto::PublicKey;
use crate::envelope::{Envelope, Sealed};
use crate::ids::{MessageId, RegionId, Sha256};
use crate::receipt::{Hop, Receipt};

/// An envelope that parsed (its seal checked or not: a failed seal is reported apart),
/// with the digest of what its seal covers.
pub(super) struct Checked {
    pub(super) envelope: Envelope,
    pub(super) digest: Sha256,
}

/// The agreements whose signatures verify with the root keys and whose hash is the one
/// given, by that hash.
pub(super) fn check_agreements(
    r: &mut Report,
    list: &Value,
    roots: &PartyRoots,
) -> BTreeMap<Sha256, Agreement> {
    let mut usable = BTreeMap::new();
    for (i, a) in list.as_array().into_iter().flatten().enumerate() {
        let stated = a["sha256"].as_str().unwrap_or_default();
        let id = if stated.is_empty() {
            format!("#{i}")
        } else {
            stated.to_owned()
        };
        let document: Agreement = match serde_json::from_value(a["document"].clone()) {
            Ok(d) => d,
            Err(e) => {
                r.fail("agreement", &id, format!("not an agreement document: {e}"));
                continue;
            }
        };
        let Ok(digest) = document.terms.digest() else {
            r.fail("agreement", &id, "its terms have no canonical form");
            continue;
        };
        let name = format!("{} v{}", document.terms.id, document.terms.version);
        let mut good = true;
        if digest.to_string() != stated {
            r.fail(
                "agreement",
                &id,
                format!("{name}: its terms hash to {digest}, not to the sha256 the bundle gives"),
            );
            good = false;
        }
        if let Err(e) = check_signatures(&document, roots) {
            r.fail("agreement", &id, format!("{name}: {e}"));
            good = false;
        }
        if good {
            r.passed.push(format!(
                "agreement {name} ({digest}): every party's signature verifies with its root key"
            ));
            usable.insert(digest, document);
        }
    }
    if usable.is_empty() && list.as_array().is_none_or(Vec::is_empty) {
        r.fail("agreement", "-", "the bundle holds no agreement");
    }
    usable
}

/// The message key of `region` in the agreement `digest` names, or why there is none.
fn key_of(
    agreements: &BTreeMap<Sha256, Agreement>,
    digest: &Sha256,
    region: &RegionId,
) -> Result<PublicKey, String> {
    let a = agreements.get(digest).ok_or_else(|| {
        format!("it names agreement {digest}, which the bundle does not hold verified")
    })?;
    a.terms
        .party(region)
        .map(|p| p.message_key)
        .ok_or_else(|| format!("{region} is no party of agreement {}", a.terms.id))
}

pub(super) fn check_envelopes(
    r: &mut Report,
    list: &Value,
    agreements: &BTreeMap<Sha256, Agreement>,
) -> Vec<Checked> {
    let mut out: Vec<Checked> = Vec::new();
    let mut sealed = 0;
    for (i, json) in list.as_array().into_iter().flatten().enumerate() {
        let id = json["id"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("#{i}"));
        let unverified = match Sealed::parse(json.clone()) {
            Ok(u) => u,
            Err(e) => {
                r.fail("envelope", &id, e.to_string());
                continue;
            }
        };
        let envelope = unverified.envelope.clone();
        if out.iter().any(|c| c.envelope.id == envelope.id) {
            r.fail("envelope", &id, "listed twice");
            continue;
        }
        // What the seal covers, whether or not it verifies: receipts are compared with it.
        let mut unsigned = json.clone();
        if let Some(map) = unsigned.as_object_mut() {
            map.remove("signature");
        }
        let Ok(digest) = crate::crypto::canonical_value(&unsigned).map(|b| Sha256::digest(&b))
        else {
            r.fail("envelope", &id, "no canonical form");
            continue;
        };
        match key_of(
            agreements,
            &envelope.agreement.sha256,
            &envelope.sender.region,
        ) {
            Ok(key) => match unverified.verify(&key) {
                Ok(_) => sealed += 1,
                Err(err) => r.fail(
                    "envelope",
                    &id,
                    format!("{err}: its content differs from what was sealed"),
                ),
            },
            Err(why) => r.fail(
                "envelope",
                &id,
                format!("the seal cannot be checked: {why}"),
            ),
        }
        out.push(Checked { envelope, digest });
    }
    let total = list.as_array().map_or(0, Vec::len);
    if sealed == total {
        r.passed.push(format!(
            "{total} envelope(s): each seal verifies with its sender's messageKey"
        ));
    }
    out
}

pub(super) fn check_order(r: &mut Report, checked: &[Checked], request: MessageId, purged: usize) {
    let before = r.mismatches.len();
    match checked.first() {
        // A purge takes every envelope of a request at once.
        None if purged > 0 => return,
        Some(first)
            if first.envelope.id == request
                && first.envelope.in_reply_to.is_none()
                && first.envelope.kind.is_request() => {}
        Some(first) => r.fail(
            "order",
            first.envelope.id,
            format!("the first envelope must be the request {request} itself"),
        ),
        None => r.fail("order", request, "the bundle holds no envelope"),
    }
    for pair in checked.windows(2) {
        let (a, b) = (&pair[0].envelope, &pair[1].envelope);
        if b.in_reply_to != Some(request) {
            r.fail(
                "order",
                b.id,
                format!(
                    "inReplyTo is {:?}, not the request {request}",
                    b.in_reply_to.map(|m| m.to_string())
                ),
            );
        }
        if b.created_at < a.created_at {
            r.fail(
                "order",
                b.id,
                format!(
                    "created {} before the envelope listed ahead of it ({} at {})",
                    crate::clock::rfc3339(b.created_at),
                    a.id,
                    crate::clock::rfc3339(a.created_at)
                ),
            );
        }
    }
    if r.mismatches.len() == before && !checked.is_empty() {
        r.passed.push(format!(
            "order: the request, then {} update(s) replying to it, in createdAt order",
            checked.len() - 1
        ));
    }
}

pub(super) fn check_receipts(
    r: &mut Report,
    list: &Value,
    (by_id, purged): (&BTreeMap<MessageId, &Checked>, &BTreeMap<MessageId, Sha256>),
    agreements: &BTreeMap<Sha256, Agreement>,
) {
    let mut good = 0;
    for (i, json) in list.as_array().into_iter().flatten().enumerate() {
        let id = format!(
            "#{i} ({} of {})",
            json["hop"].as_str().unwrap_or("?"),
            json["messageId"].as_str().unwrap_or("?")
        );
        let receipt: Receipt = match serde_json::from_value(json.clone()) {
            Ok(x) => x,
            Err(e) => {
                r.fail("receipt", &id, format!("not a receipt: {e}"));
                continue;
            }
        };
        if let Some(kept) = purged.get(&receipt.message_id) {
            match purged_receipt(&receipt, *kept, agreements) {
                Ok(()) => good += 1,
                Err(why) => r.fail("receipt", &id, why),
            }
            continue;
        }
        let Some(c) = by_id.get(&receipt.message_id) else {
            r.fail(
                "receipt",
                &id,
                "names a message that is not among the bundle's verified envelopes",
            );
            continue;
        };
        if receipt.envelope_sha256 != c.digest {
            r.fail(
                "receipt",
                &id,
                format!(
                    "envelopeSha256 is {}, but the envelope hashes to {}",
                    receipt.envelope_sha256, c.digest
                ),
            );
            continue;
        }
        let e = &c.envelope;
        let expected_issuer = match receipt.hop {
            Hop::Submission => &e.sender.region,
            Hop::Relay | Hop::Retrieval => &e.recipient.region,
        };
        if &receipt.issuer != expected_issuer {
            r.fail(
                "receipt",
                &id,
                format!(
                    "issued by {}, but a {} receipt of this message is {expected_issuer}'s",
                    receipt.issuer,
                    receipt.hop.as_str()
                ),
            );
            continue;
        }
        if receipt.hop == Hop::Retrieval && receipt.court.as_ref() != Some(&e.recipient.court) {
            r.fail(
                "receipt",
                &id,
                format!(
                    "a retrieval by {:?}, not by the recipient court {}",
                    receipt.court.as_ref().map(|c| c.to_string()),
                    e.recipient.court
                ),
            );
            continue;
        }
        match key_of(agreements, &e.agreement.sha256, &receipt.issuer) {
            Ok(key) if receipt.verify(&key) => good += 1,
            Ok(_) => r.fail("receipt", &id, format!("the signature does not verify with {}'s messageKey: the receipt differs from what was signed", receipt.issuer)),
            Err(why) => r.fail("receipt", &id, format!("cannot be checked: {why}")),
        }
    }
    if good == list.as_array().map_or(0, Vec::len) {
        r.passed.push(format!("{good} receipt(s): each signed by its hop's issuer, naming an envelope of the bundle with its digest"));
    }
}

/// A receipt of a purged envelope: it names the digest kept of it, and its issuer's
/// message key in a verified agreement of the bundle verifies it (who should have issued
/// it cannot be told without the envelope).
fn purged_receipt(
    receipt: &Receipt,
    kept: Sha256,
    agreements: &BTreeMap<Sha256, Agreement>,
) -> Result<(), String> {
    if receipt.envelope_sha256 != kept {
        return Err(format!(
            "envelopeSha256 is {}, but the purged envelope's kept digest is {kept}",
            receipt.envelope_sha256
        ));
    }
    let signed = agreements
        .values()
        .filter_map(|a| a.terms.party(&receipt.issuer))
        .any(|p| receipt.verify(&p.message_key));
    if signed {
        Ok(())
    } else {
        Err(format!(
            "the signature does not verify with any messageKey {} has in the bundle's agreements",
            receipt.issuer
        ))
    }
}

/// Compares the attachment list with what the envelopes list; returns the digests.
pub(super) fn check_attachments(r: &mut Report, list: &Value, checked: &[Checked]) -> Vec<String> {
    let key = |m: &str, d: &str, s: &str, b: u64| (m.to_owned(), d.to_owned(), s.to_owned(), b);
    let expected: BTreeSet<_> = checked
        .iter()
        .flat_map(|c| {
            c.envelope.attachments.iter().map(move |a| {
                key(
                    &c.envelope.id.to_string(),
                    &a.doc_id,
                    &a.sha256.to_string(),
                    a.bytes,
                )
            })
        })
        .collect();
    let mut listed = BTreeSet::new();
    for a in list.as_array().into_iter().flatten() {
        let k = key(
            a["messageId"].as_str().unwrap_or_default(),
            a["docId"].as_str().unwrap_or_default(),
            a["sha256"].as_str().unwrap_or_default(),
            a["bytes"].as_u64().unwrap_or(u64::MAX),
        );
        if !expected.contains(&k) {
            r.fail(
                "attachment",
                &k.2,
                format!(
                    "listed for {} as {} ({} bytes), which no verified envelope lists",
                    k.0, k.1, k.3
                ),
            );
        }
        listed.insert(k);
    }
    for k in expected.difference(&listed) {
        r.fail(
            "attachment",
            &k.2,
            format!(
                "envelope {} lists {} ({} bytes), the bundle's list does not",
                k.0, k.1, k.3
            ),
        );
    }
    if listed == expected {
        r.passed.push(format!(
            "{} attachment digest(s), as the envelopes list them",
            expected.len()
        ));
    }
    expected.into_iter().map(|k| k.2).collect()
}
