//! Removal of uploads that no message lists, once they are older than the configured age:
//! a court or peer cannot fill the disk with blobs it never sends.
//!
//! Each removal moves the file aside, forgets the blob in a transaction that checks again
//! that no message lists it (with an audit entry), then deletes the file; if a message
//! came to list it meanwhile, the file is put back. A message committed after the blob is
//! forgotten fails its commit (`attachment_missing`), so nothing stored names a blob that
//! is gone.

use crate::gateway::Gateway;

/// Most blobs looked at per sweep.
const BATCH: i64 = 100;

/// Removes unlisted uploads older than the configured age; returns how many went.
pub async fn sweep(g: &Gateway) -> usize {
    let hours = g.uploads.config().unreferenced_ttl_hours;
    let age = time::Duration::hours(i64::try_from(hours).unwrap_or(i64::MAX / 3600));
    let now = g.clock.now();
    let Some(before) = now.checked_sub(age) else {
        return 0;
    };
    let old = match g.store.unreferenced_attachments(before, BATCH).await {
        Ok(old) => old,
        Err(e) => {
            tracing::error!(error = %e, "cannot list unlisted attachments");
            return 0;
        }
    };
    let mut removed = 0;
    for blob in old {
        let path = g.blobs.path_of(&blob.sha256);
        let aside = g.blobs.tmp_dir().join(format!("{}.removing", blob.sha256));
        if let Err(e) = tokio::fs::rename(&path, &aside).await {
            tracing::warn!(sha256 = %blob.sha256, error = %e, "cannot move an unlisted attachment aside");
            continue;
        }
        match g
            .store
            .remove_unreferenced_attachment(&blob.sha256, now)
            .await
        {
            Ok(true) => {
                let _ = tokio::fs::remove_file(&aside).await;
                removed += 1;
                tracing::info!(sha256 = %blob.sha256, bytes = blob.bytes, "unlisted attachment removed");
            }
            Ok(false) | Err(_) => {
                // A message lists it now (or the store failed): keep it.
                if let Err(e) = tokio::fs::rename(&aside, &path).await {
                    tracing::error!(sha256 = %blob.sha256, error = %e, "cannot put an attachment back");
                }
            }
        }
    }
    removed
}
