//! What the store keeps about attachments: the blobs held (their bytes live in the blob
//! store, [`crate::attachments::BlobStore`]), who delivered each, and which peers have it.

use std::fmt;

use serde::Serialize;
use time::OffsetDateTime;

use crate::ids::{CourtId, RegionId, Sha256};

/// A blob this gateway holds, written whole, verified against its hash and fsynced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredBlob {
    /// SHA-256 of the bytes (and so its name).
    pub sha256: Sha256,
    /// Its size.
    pub bytes: u64,
    /// When it was first stored here.
    #[serde(with = "crate::clock::ts")]
    pub stored_at: OffsetDateTime,
}

/// Who handed a blob to this gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobSource {
    /// A court of this region uploaded it (`PUT /v1/attachments/{sha256}`).
    Court(CourtId),
    /// A peer gateway transferred it (`PUT /federation/v1/attachments/{sha256}`).
    Gateway(RegionId),
}

impl fmt::Display for BlobSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlobSource::Court(c) => write!(f, "court:{c}"),
            BlobSource::Gateway(r) => write!(f, "gateway:{r}"),
        }
    }
}

/// One delivery of a blob to this gateway (also of one it already held).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobDelivery {
    /// `court:<code>` or `gateway:<region>`.
    pub source: String,
    /// Whether this delivery stored it (false: it was already held).
    pub stored: bool,
    /// When.
    #[serde(with = "crate::clock::ts")]
    pub at: OffsetDateTime,
}
