//! Proof bundles: one self-contained JSON file that proves a request's whole journey
//! without access to either gateway — the agreement as signed, every envelope as sealed,
//! every receipt as signed, the attachment digests, and this gateway's audit entries about
//! it, signed as a whole by the exporting gateway. docs/BUNDLE.md is the format field by
//! field; [`verify`] checks a bundle offline with nothing but party root keys.

mod parts;
pub mod verify;

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::agreement::Agreement;
use crate::audit::AuditEntry;
use crate::crypto::SigningKey;
use crate::envelope::Envelope;
use crate::ids::{MessageId, RegionId, Sha256};
use crate::receipt::Receipt;
use crate::store::{RequestView, Store, StoreError};

/// The `format` member of every bundle this build writes.
pub const FORMAT: &str = "kuayu-bundle/1";

/// A proof bundle as exported, before its signature (see docs/BUNDLE.md).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// [`FORMAT`].
    pub format: &'static str,
    /// The request the bundle proves.
    pub request_id: MessageId,
    /// The gateway that exported it (and signs it).
    pub exported_by: RegionId,
    /// When.
    #[serde(with = "crate::clock::ts")]
    pub exported_at: OffsetDateTime,
    /// Every agreement version an envelope names, as signed.
    pub agreements: Vec<BundledAgreement>,
    /// The request's envelopes exactly as sealed: the request first, then its updates,
    /// in `createdAt` order.
    pub envelopes: Vec<Value>,
    /// Every receipt the exporting gateway holds for them, exactly as signed.
    pub receipts: Vec<Receipt>,
    /// The attachments the envelopes list.
    pub attachments: Vec<AttachmentDigest>,
    /// The exporting gateway's audit entries about the request.
    pub audit: BundledAudit,
    /// The request's envelopes purged after the agreement's retention: their digests,
    /// which their receipts name (absent when none was).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub purged: Vec<PurgedEnvelope>,
}

/// An envelope purged after the agreement's retention: what is kept of it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PurgedEnvelope {
    /// Its message id.
    pub message_id: MessageId,
    /// Its kind.
    pub kind: crate::ids::MessageKind,
    /// The digest of the envelope as it was sealed.
    pub envelope_sha256: Sha256,
}

/// An agreement version with the hash envelopes name it by.
#[derive(Debug, Serialize)]
pub struct BundledAgreement {
    /// SHA-256 of the RFC 8785 form of its terms.
    pub sha256: Sha256,
    /// The signed document (`terms` exactly as signed, and `signatures`).
    pub document: Agreement,
}

/// One attachment an envelope lists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentDigest {
    /// The message whose envelope lists it.
    pub message_id: MessageId,
    /// Its id in that message.
    pub doc_id: String,
    /// SHA-256 of its bytes.
    pub sha256: Sha256,
    /// Its size.
    pub bytes: u64,
}

/// Audit entries of one gateway.
#[derive(Debug, Serialize)]
pub struct BundledAudit {
    /// The gateway whose log they are.
    pub region: RegionId,
    /// The log's last entry at export (`seq` and `hash`).
    pub head: Option<Head>,
    /// The entries about the request, its messages and its attachments, in order.
    pub entries: Vec<AuditEntry>,
}

/// The head of an audit log.
#[derive(Debug, Serialize)]
pub struct Head {
    /// Its sequence number.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
}

/// Why a bundle could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// What is stored does not make a bundle (a stored envelope unreadable, an agreement
    /// missing).
    #[error("{0}")]
    Incomplete(String),
}

/// The bundle of `view` (a request as stored at `region`'s gateway), signed with that
/// gateway's message `key`: the JSON to hand out.
pub async fn export(
    store: &dyn Store,
    view: &RequestView,
    region: &RegionId,
    key: &SigningKey,
    now: OffsetDateTime,
) -> Result<Value, ExportError> {
    let bad = |what: String| ExportError::Incomplete(what);
    let mut envelopes = Vec::new();
    let mut purged = Vec::new();
    for m in &view.messages {
        if m.purged {
            purged.push(PurgedEnvelope {
                message_id: m.id,
                kind: m.kind.clone(),
                envelope_sha256: m.envelope_sha256,
            });
            continue;
        }
        let e: Envelope = serde_json::from_value(m.envelope.clone())
            .map_err(|e| bad(format!("stored envelope {} is unreadable: {e}", m.id)))?;
        envelopes.push((e, m.envelope.clone()));
    }
    // The request first, then by creation time; a tie keeps the commit order.
    envelopes.sort_by_key(|(e, _)| (e.id != view.record.id, e.created_at));
    let mut named: BTreeSet<Sha256> = BTreeSet::from([view.record.agreement_sha256]);
    let mut attachments = Vec::new();
    for (e, _) in &envelopes {
        named.insert(e.agreement.sha256);
        attachments.extend(e.attachments.iter().map(|a| AttachmentDigest {
            message_id: e.id,
            doc_id: a.doc_id.clone(),
            sha256: a.sha256,
            bytes: a.bytes,
        }));
    }
    let stored = store.stored_agreements().await?;
    let agreements = named
        .iter()
        .map(|digest| {
            stored
                .iter()
                .find(|s| &s.digest == digest)
                .map(|s| BundledAgreement {
                    sha256: s.digest,
                    document: s.document.clone(),
                })
                .ok_or_else(|| bad(format!("agreement {digest} is not stored here")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut subjects: Vec<String> = envelopes.iter().map(|(e, _)| e.id.to_string()).collect();
    subjects.extend(purged.iter().map(|p| p.message_id.to_string()));
    subjects.push(view.record.id.to_string());
    subjects.extend(attachments.iter().map(|a| a.sha256.to_string()));
    subjects.sort();
    subjects.dedup();
    let entries = store.audit_about(&subjects).await?;
    let head = store.audit_head().await?.map(|h| Head {
        seq: h.seq,
        hash: h.hash,
    });
    let bundle = Bundle {
        format: FORMAT,
        request_id: view.record.id,
        exported_by: region.clone(),
        exported_at: now,
        agreements,
        envelopes: envelopes.into_iter().map(|(_, json)| json).collect(),
        receipts: view.receipts.clone(),
        attachments,
        audit: BundledAudit {
            region: region.clone(),
            head,
            entries,
        },
        purged,
    };
    sign(&bundle, key).map_err(|e| bad(format!("the bundle does not serialise: {e}")))
}

/// The bundle's JSON with `signature`: the exporting gateway's Ed25519 signature over the
/// RFC 8785 form of everything else.
fn sign(bundle: &Bundle, key: &SigningKey) -> Result<Value, serde_json::Error> {
    let mut json = serde_json::to_value(bundle)?;
    let signature = key.sign(&crate::crypto::canonical_value(&json)?);
    if let Some(map) = json.as_object_mut() {
        map.insert("signature".into(), Value::String(signature.to_string()));
    }
    Ok(json)
}
