//! Attachments: documents that travel with a message, uploaded once, addressed by the
//! SHA-256 of their bytes, streamed (never whole in memory) and verified at every hop.
//!
//! - [`blobs`]: where the bytes live (`<database folder>/blobs/<first 2 hex>/<sha256>`).
//! - [`ingest`]: writing one: streamed to a temporary file, hashed and counted on the
//!   way, kept only if it matches its name, fsynced before anyone hears "stored".
//! - [`body`]: a streamed HTTP request body of a blob or any byte stream.
//! - [`check`]: the pipeline stage: every attachment a message lists is held here, whole.
//! - [`peers`]: which peer gateway is calling, by its certificate, and its limit.
//! - [`guard`]: quotas on uploads in waiting, the upload rate, the free-disk watermark.
//! - [`sweep`]: removal of uploads no message lists, after the configured age.
//!
//! A blob is seen only by those it concerns: a court that uploaded it or sent or received
//! a message listing it, a peer gateway that delivered it or was sent it. To anyone else
//! every route answers as if it did not exist.
//!
//! A court uploads with `PUT /v1/attachments/{sha256}` before it submits a message that
//! lists the attachment; the relay transfers each blob to a peer once (HEAD, then PUT if
//! absent) before the first envelope that names it; the receiving gateway refuses an
//! envelope whose attachments it does not hold (`attachment_missing`, retryable).

pub mod blobs;
pub mod body;
pub mod check;
pub mod guard;
pub mod ingest;
pub mod peers;
pub mod sweep;

pub use blobs::BlobStore;
pub use body::StreamBody;
pub use ingest::{IngestError, Ingested};

use crate::agreement::Limits;
use crate::gateway::Gateway;

/// The largest attachment when an agreement names no `maxAttachmentBytes`: 256 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// The largest attachment `limits` allow, in bytes.
pub fn max_bytes(limits: &Limits) -> u64 {
    limits.max_attachment_bytes.unwrap_or(DEFAULT_MAX_BYTES)
}

/// The largest attachment a court of this region may upload: the largest limit of the
/// agreements active now (an upload is not yet tied to a message, so to an agreement).
pub fn upload_limit(g: &Gateway) -> u64 {
    g.agreements
        .active(g.clock.now())
        .iter()
        .map(|a| max_bytes(&a.terms().limits))
        .max()
        .unwrap_or(DEFAULT_MAX_BYTES)
}
