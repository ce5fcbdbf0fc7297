//! `kuayu purge`: removes the payloads and attachments of finished requests kept longer
//! than their agreement's `retention.payloadDays`, keeping envelope digests, receipts,
//! history, deadlines and the audit log (the rule is [`crate::store::Retention`]).
//! One transaction and one audit entry per agreement; `--dry-run` only reads.
//!
//! Each agreement id is purged under the retention of its newest version in effect (the
//! newest stored, if none is yet); an agreement without `retention` keeps everything.
//! Attachment files are moved aside before the transaction and deleted once it commits
//! (put back if it does not), so an upload of the same bytes meanwhile is never lost.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::attachments::BlobStore;
use crate::clock::rfc3339;
use crate::ids::AgreementId;
use crate::store::{Purged, Store, StoreError, StoredAgreement};

/// The purge of one agreement's requests.
#[derive(Debug)]
pub struct AgreementPurge {
    /// The agreement id.
    pub agreement: AgreementId,
    /// The version whose retention applies.
    pub version: u32,
    /// Its `retention.payloadDays`; none: kept for ever.
    pub payload_days: Option<u32>,
    /// Requests that finished before this went (or would go).
    pub cutoff: Option<OffsetDateTime>,
    /// What went (or would go).
    pub purged: Purged,
}

/// What a purge did (or, dry, would do).
#[derive(Debug)]
pub struct Report {
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// Per agreement id.
    pub agreements: Vec<AgreementPurge>,
    /// Attachment files that could not be deleted (their rows are gone): path and why.
    pub leftovers: Vec<String>,
}

/// The retention of each agreement id: the newest version in effect at `now`, else the
/// newest stored.
fn retentions(
    stored: &[StoredAgreement],
    now: OffsetDateTime,
) -> Vec<(AgreementId, u32, Option<u32>)> {
    let mut by_id: BTreeMap<AgreementId, &StoredAgreement> = BTreeMap::new();
    for s in stored {
        let terms = &s.document.terms;
        let rank = |a: &StoredAgreement| {
            (
                a.document.terms.effective_from() <= now,
                a.document.terms.version,
            )
        };
        match by_id.get(&terms.id) {
            Some(held) if rank(held) >= rank(s) => {}
            _ => {
                by_id.insert(terms.id.clone(), s);
            }
        }
    }
    by_id
        .into_iter()
        .map(|(id, s)| {
            let terms = &s.document.terms;
            (id, terms.version, terms.retention.map(|r| r.payload_days))
        })
        .collect()
}

/// Purges (or with `dry_run`, lists) what retention lets go at `now`, as `actor`.
pub async fn purge(
    store: &dyn Store,
    blobs: &BlobStore,
    now: OffsetDateTime,
    dry_run: bool,
    actor: &str,
) -> Result<Report, StoreError> {
    let mut report = Report {
        dry_run,
        agreements: Vec::new(),
        leftovers: Vec::new(),
    };
    for (agreement, version, days) in retentions(&store.stored_agreements().await?, now) {
        let cutoff = days.map(|d| now - time::Duration::days(i64::from(d)));
        let purged = match cutoff {
            None => Purged::default(),
            Some(cutoff) if dry_run => store.purge_plan(&agreement, cutoff).await?,
            Some(cutoff) => {
                let detail = serde_json::json!({"agreementVersion": version, "payloadDays": days});
                let planned = store.purge_plan(&agreement, cutoff).await?;
                let aside = move_aside(blobs, &planned);
                let done = store.purge(&agreement, cutoff, actor, detail, now).await;
                settle(blobs, &aside, done.as_ref().ok(), &mut report.leftovers);
                done?
            }
        };
        report.agreements.push(AgreementPurge {
            agreement,
            version,
            payload_days: days,
            cutoff,
            purged,
        });
    }
    Ok(report)
}

/// The gateway's own purge (configuration `purge_daily`): as `kuayu purge`, by `system`,
/// with a log line per agreement it took something from (counts only): whether it ran
/// (a failure is logged, and the watcher tries again a minute later).
pub async fn daily(g: &crate::gateway::Gateway) -> bool {
    match purge(&*g.store, &g.blobs, g.clock.now(), false, "system").await {
        Ok(report) => {
            for a in report.agreements.iter().filter(|a| !a.purged.is_empty()) {
                tracing::info!(
                    agreement = %a.agreement,
                    requests = a.purged.requests.len(),
                    messages = a.purged.messages,
                    attachments = a.purged.attachments.len(),
                    "retention purge: payloads of finished requests removed"
                );
            }
            for l in &report.leftovers {
                tracing::warn!(file = %l, "retention purge: an attachment file was not removed");
            }
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "retention purge failed; it runs again in a minute");
            false
        }
    }
}

/// Moves the files of the blobs a purge plans to forget into the temporary folder: what
/// was moved (blob and where it is now).
fn move_aside(
    blobs: &BlobStore,
    planned: &Purged,
) -> Vec<(crate::ids::Sha256, std::path::PathBuf)> {
    let _ = std::fs::create_dir_all(blobs.tmp_dir());
    planned
        .attachments
        .iter()
        .filter_map(|b| {
            let aside = blobs.tmp_dir().join(format!("{}.purging", b.sha256));
            std::fs::rename(blobs.path_of(&b.sha256), &aside)
                .ok()
                .map(|()| (b.sha256, aside))
        })
        .collect()
}

/// After the transaction: deletes the files of the blobs it forgot, puts back the others.
fn settle(
    blobs: &BlobStore,
    aside: &[(crate::ids::Sha256, std::path::PathBuf)],
    done: Option<&Purged>,
    leftovers: &mut Vec<String>,
) {
    let forgotten = |sha| done.is_some_and(|d| d.attachments.iter().any(|b| b.sha256 == sha));
    for (sha, path) in aside {
        let outcome = if forgotten(*sha) {
            std::fs::remove_file(path)
        } else {
            std::fs::rename(path, blobs.path_of(sha))
        };
        if let Err(e) = outcome {
            leftovers.push(format!("{}: {e}", path.display()));
        }
    }
    // Blobs the transaction forgot that were not moved aside (planned differently).
    for b in done.map(|d| d.attachments.as_slice()).unwrap_or_default() {
        if !aside.iter().any(|(sha, _)| *sha == b.sha256) {
            match std::fs::remove_file(blobs.path_of(&b.sha256)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => leftovers.push(format!("{}: {e}", blobs.path_of(&b.sha256).display())),
            }
        }
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = if self.dry_run {
            "would purge"
        } else {
            "purged"
        };
        for a in &self.agreements {
            let (Some(days), Some(cutoff)) = (a.payload_days, a.cutoff) else {
                writeln!(
                    f,
                    "{} v{}: no retention set: payloads kept for ever",
                    a.agreement, a.version
                )?;
                continue;
            };
            let p = &a.purged;
            writeln!(
                f,
                "{} v{}: payloads kept {days} day(s); requests finished before {}: {verb} {} request(s), {} message(s), {} attachment(s) ({} bytes)",
                a.agreement,
                a.version,
                rfc3339(cutoff),
                p.requests.len(),
                p.messages,
                p.attachments.len(),
                p.attachment_bytes()
            )?;
            for id in &p.requests {
                writeln!(f, "  {id}")?;
            }
        }
        for l in &self.leftovers {
            writeln!(f, "warning: attachment file not removed: {l}")?;
        }
        if self.dry_run {
            writeln!(f, "dry run: nothing was changed")?;
        }
        Ok(())
    }
}
