//! `kuayu audit verify`: checks a store (a live gateway's, or a restored backup) offline:
//! the audit chain from its first entry to its last (each entry's hash over its content,
//! each linked to the one before, no gap), and every stored receipt against the envelope
//! it names (same digest) and its issuer's message key in the stored agreements.

use std::collections::BTreeMap;

use crate::audit::{self, AuditEntry};
use crate::crypto::PublicKey;
use crate::ids::RegionId;
use crate::store::{Store, StoreError};

/// What a verification found.
#[derive(Debug, Default)]
pub struct Verified {
    /// Audit entries checked.
    pub audit_entries: u64,
    /// The last entry's sequence number and hash (the chain head), if any.
    pub head: Option<(i64, String)>,
    /// Receipts checked.
    pub receipts: u64,
    /// Receipts whose message is not stored here (a receipt for a message of the peer's,
    /// kept as evidence): signature checked, digest not comparable.
    pub receipts_without_message: u64,
    /// Everything wrong, one line each.
    pub problems: Vec<String>,
}

impl Verified {
    /// Whether nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl std::fmt::Display for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.head {
            Some((seq, hash)) => writeln!(
                f,
                "audit chain: {} entries, unbroken to #{seq} ({hash})",
                self.audit_entries
            )?,
            None => writeln!(f, "audit chain: empty")?,
        }
        writeln!(
            f,
            "receipts: {} checked ({} name a message not stored here)",
            self.receipts, self.receipts_without_message
        )?;
        for p in &self.problems {
            writeln!(f, "FAIL {p}")?;
        }
        if self.ok() {
            writeln!(f, "ok")?;
        }
        Ok(())
    }
}

/// Pages read at a time.
const PAGE: i64 = 1000;

/// Verifies the audit chain and the receipts of `store`.
pub async fn verify(store: &dyn Store) -> Result<Verified, StoreError> {
    let mut v = Verified::default();
    verify_chain(store, &mut v).await?;
    verify_receipts(store, &mut v).await?;
    Ok(v)
}

async fn verify_chain(store: &dyn Store, v: &mut Verified) -> Result<(), StoreError> {
    let mut last: Option<AuditEntry> = None;
    loop {
        let after = last.as_ref().map_or(0, |e| e.seq);
        let page = store.audit_entries(after, PAGE).await?;
        if page.is_empty() {
            break;
        }
        // Each page is checked with the entry before it, so the links across pages are too.
        let mut run: Vec<AuditEntry> = last.iter().cloned().collect();
        if last.is_none() && (page[0].seq != 1 || page[0].prev_hash != audit::GENESIS) {
            v.problems.push(format!(
                "audit entry #{} is the first stored, but the chain starts at #1 from the genesis hash",
                page[0].seq
            ));
        }
        run.extend(page.iter().cloned());
        if let Err(seq) = audit::verify_chain(&run) {
            v.problems
                .push(format!("audit entry #{seq}: its hash or its link to the entry before is wrong, or an entry is missing before it"));
        }
        v.audit_entries += u64::try_from(page.len()).unwrap_or_default();
        last = page.last().cloned();
    }
    v.head = last.map(|e| (e.seq, e.hash));
    Ok(())
}

async fn verify_receipts(store: &dyn Store, v: &mut Verified) -> Result<(), StoreError> {
    // Every message key each region had in any stored agreement version.
    let mut keys: BTreeMap<RegionId, Vec<PublicKey>> = BTreeMap::new();
    for a in store.stored_agreements().await? {
        for p in &a.document.terms.parties {
            keys.entry(p.region.clone())
                .or_default()
                .push(p.message_key);
        }
    }
    let mut after = crate::store::ReceiptKey::default();
    loop {
        let page = store.receipts_after(&after, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for stored in &page {
            let r = &stored.receipt;
            let signed = keys
                .get(&r.issuer)
                .is_some_and(|ks| ks.iter().any(|k| r.verify(k)));
            if !signed {
                v.problems.push(format!(
                    "the {} receipt of message {} by {}: the signature does not verify with any message key {} had",
                    r.hop.as_str(),
                    r.message_id,
                    r.issuer,
                    r.issuer
                ));
            }
            match stored.message_digest {
                Some(d) if d != r.envelope_sha256 => v.problems.push(format!(
                    "the {} receipt by {} names message {} with digest {}, but the stored envelope's digest is {d}",
                    r.hop.as_str(), r.issuer, r.message_id, r.envelope_sha256
                )),
                Some(_) => {}
                None => v.receipts_without_message += 1,
            }
            v.receipts += 1;
        }
        if let Some(last) = page.last() {
            after = last.key.clone();
        }
    }
    Ok(())
}
