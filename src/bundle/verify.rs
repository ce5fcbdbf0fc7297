//! Checking a proof bundle offline, with nothing but the file and the parties' root keys:
//! agreement signatures and hashes, every envelope's seal, every receipt's signature and
//! the envelope it names, the order of the envelopes, the attachment digests, the audit
//! entries' hashes and links, and the exporting gateway's signature over the whole.
//! Every mismatch is named (which part, which id, what differs); nothing stops at the first.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use super::FORMAT;
use super::parts::{
    Checked, check_agreements, check_attachments, check_envelopes, check_order, check_receipts,
};
use crate::agreement::PartyRoots;
use crate::audit::{self, AuditEntry};
use crate::crypto::Signature;
use crate::ids::{MessageId, RegionId, Sha256};

/// One thing that does not check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Which part: `bundle`, `agreement`, `envelope`, `order`, `receipt`, `attachment`,
    /// `audit`.
    pub part: &'static str,
    /// Which one: a message id, an agreement hash, an audit entry's `seq`, an index.
    pub id: String,
    /// What differs.
    pub what: String,
}

/// What a check found: a line per part that passed, and every mismatch.
#[derive(Debug, Default)]
pub struct Report {
    /// What was checked and held.
    pub passed: Vec<String>,
    /// What did not.
    pub mismatches: Vec<Mismatch>,
}

impl Report {
    /// True when nothing mismatched.
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty()
    }

    pub(super) fn fail(
        &mut self,
        part: &'static str,
        id: impl fmt::Display,
        what: impl Into<String>,
    ) {
        self.mismatches.push(Mismatch {
            part,
            id: id.to_string(),
            what: what.into(),
        });
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.passed {
            writeln!(f, "ok        {p}")?;
        }
        for m in &self.mismatches {
            writeln!(f, "MISMATCH  {} {}: {}", m.part, m.id, m.what)?;
        }
        if self.ok() {
            write!(f, "the bundle verifies")
        } else {
            write!(
                f,
                "{} mismatch(es): the bundle does not verify",
                self.mismatches.len()
            )
        }
    }
}

/// Checks a bundle's bytes against the party root keys.
pub fn verify(bytes: &[u8], roots: &PartyRoots) -> Report {
    let mut r = Report::default();
    let bundle = match crate::json::parse(bytes) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            r.fail("bundle", "-", "not a JSON object");
            return r;
        }
        Err(e) => {
            r.fail("bundle", "-", format!("not JSON (or a key twice): {e}"));
            return r;
        }
    };
    let get = |name: &str| bundle.get(name).cloned().unwrap_or(Value::Null);
    if get("format") != FORMAT {
        r.fail(
            "bundle",
            "format",
            format!("format is {}, this build reads {FORMAT}", get("format")),
        );
    }
    let request_id = get("requestId")
        .as_str()
        .and_then(|s| MessageId::parse(s).ok());
    let exporter = get("exportedBy")
        .as_str()
        .and_then(|s| RegionId::parse(s).ok());
    let agreements = check_agreements(&mut r, &get("agreements"), roots);
    let checked = check_envelopes(&mut r, &get("envelopes"), &agreements);
    let purged = purged_envelopes(&mut r, &get("purged"));
    match request_id {
        Some(id) => check_order(&mut r, &checked, id, purged.len()),
        None => r.fail("bundle", "requestId", "no request id"),
    }
    let by_id: BTreeMap<MessageId, &Checked> = checked.iter().map(|c| (c.envelope.id, c)).collect();
    check_receipts(&mut r, &get("receipts"), (&by_id, &purged), &agreements);
    let digests = check_attachments(&mut r, &get("attachments"), &checked);
    let mut subjects: BTreeSet<String> = by_id.keys().map(|m| m.to_string()).collect();
    subjects.extend(purged.keys().map(|m| m.to_string()));
    subjects.extend(request_id.map(|m| m.to_string()));
    subjects.extend(digests);
    check_audit(&mut r, &get("audit"), exporter.as_ref(), &subjects);
    // The exporter's signature over everything else, with its key from the agreement.
    let key = exporter.as_ref().and_then(|region| {
        let request = request_id.and_then(|id| by_id.get(&id));
        let agreement = request
            .and_then(|c| agreements.get(&c.envelope.agreement.sha256))
            .or_else(|| agreements.values().next())?;
        Some(agreement.terms.party(region)?.message_key)
    });
    let mut unsigned = Value::Object(bundle.clone());
    let signature = unsigned.as_object_mut().and_then(|m| m.remove("signature"));
    let signature = signature
        .as_ref()
        .and_then(Value::as_str)
        .and_then(|s| Signature::parse(s).ok());
    let who = exporter
        .as_ref()
        .map(|e| e.to_string())
        .unwrap_or_else(|| "-".into());
    match (key, signature) {
        (None, _) => r.fail("bundle", &who, "the exporting gateway is no party of a verified agreement of the bundle: its signature cannot be checked"),
        (_, None) => r.fail("bundle", &who, "no signature (or not a base64 Ed25519 signature)"),
        (Some(key), Some(sig)) => match crate::crypto::canonical_value(&unsigned) {
            Ok(b) if key.verify(&b, &sig).is_ok() => r.passed.push(format!(
                "bundle signed by the {who} gateway (its messageKey) over everything else"
            )),
            _ => r.fail("bundle", &who, "the exporter's signature does not verify over the bundle: some byte of it changed after export"),
        },
    }
    r
}

/// The envelopes the bundle says were purged after the agreement's retention: message id
/// and the digest kept of each.
fn purged_envelopes(r: &mut Report, list: &Value) -> BTreeMap<MessageId, Sha256> {
    let mut purged = BTreeMap::new();
    for (i, p) in list.as_array().into_iter().flatten().enumerate() {
        let id = p["messageId"]
            .as_str()
            .and_then(|s| MessageId::parse(s).ok());
        let digest = p["envelopeSha256"]
            .as_str()
            .and_then(|s| Sha256::parse(s).ok());
        match (id, digest) {
            (Some(id), Some(digest)) => {
                purged.insert(id, digest);
            }
            _ => r.fail(
                "envelope",
                format!("purged #{i}"),
                "a purged envelope needs a messageId and an envelopeSha256",
            ),
        }
    }
    if !purged.is_empty() {
        r.passed.push(format!(
            "{} envelope(s) purged after the agreement's retention: only their digests are kept, which their receipts are checked against",
            purged.len()
        ));
    }
    purged
}

fn check_audit(
    r: &mut Report,
    audit: &Value,
    exporter: Option<&RegionId>,
    subjects: &BTreeSet<String>,
) {
    if audit["region"].as_str() != exporter.map(RegionId::as_str) {
        r.fail(
            "audit",
            "region",
            format!(
                "the entries are {}'s, the bundle was exported by {:?}",
                audit["region"],
                exporter.map(RegionId::as_str)
            ),
        );
    }
    let before = r.mismatches.len();
    let mut prev: Option<AuditEntry> = None;
    let mut linked = 0;
    for (i, json) in audit["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let e: AuditEntry = match serde_json::from_value(json.clone()) {
            Ok(e) => e,
            Err(err) => {
                r.fail(
                    "audit",
                    format!("#{i}"),
                    format!("not an audit entry: {err}"),
                );
                continue;
            }
        };
        let hash = audit::entry_hash(
            e.seq,
            e.at,
            &e.actor,
            &e.action,
            &e.subject,
            &e.detail,
            &e.prev_hash,
        );
        if hash != e.hash {
            r.fail(
                "audit",
                e.seq,
                format!(
                    "its fields hash to {hash}, not to its hash {}: the entry was changed",
                    e.hash
                ),
            );
        }
        if !subjects.contains(&e.subject) {
            r.fail(
                "audit",
                e.seq,
                format!(
                    "its subject {} is not the request, a message or an attachment of the bundle",
                    e.subject
                ),
            );
        }
        if e.seq == 1 && e.prev_hash != audit::GENESIS {
            r.fail(
                "audit",
                e.seq,
                "the first entry of a log must follow the genesis hash",
            );
        }
        if let Some(p) = &prev {
            if e.seq <= p.seq {
                r.fail(
                    "audit",
                    e.seq,
                    format!("out of order after entry {}", p.seq),
                );
            } else if e.seq == p.seq + 1 {
                if e.prev_hash == p.hash {
                    linked += 1;
                } else {
                    r.fail(
                        "audit",
                        e.seq,
                        format!(
                            "prevHash {} is not the hash of entry {}",
                            e.prev_hash, p.seq
                        ),
                    );
                }
            }
        }
        prev = Some(e);
    }
    let head = &audit["head"];
    if let (Some(last), Some(seq)) = (&prev, head["seq"].as_i64()) {
        if seq < last.seq {
            r.fail(
                "audit",
                "head",
                format!(
                    "the head is entry {seq}, before the last entry included ({})",
                    last.seq
                ),
            );
        } else if seq == last.seq && head["hash"].as_str() != Some(last.hash.as_str()) {
            r.fail(
                "audit",
                "head",
                format!("the head's hash differs from entry {seq}'s"),
            );
        }
    }
    if r.mismatches.len() == before {
        let n = audit["entries"].as_array().map_or(0, Vec::len);
        r.passed.push(format!("{n} audit entr(ies): each hash recomputes from its fields, {linked} link(s) between consecutive entries hold"));
    }
}
