//! Writing a blob: the body is streamed to a temporary file in `blobs/tmp/`, hashed and
//! counted on the way (never whole in memory). Reading stops as soon as the count passes
//! the limit. Then the hash is compared with the name it was sent under: a mismatch
//! deletes the temporary file; a match is fsynced and renamed into place (a blob already
//! there is kept, and the copy dropped), and the folder entry fsynced too. Whatever ends
//! the write early (an error, the sender going away) deletes the temporary file.

use std::fmt::Display;
use std::io;
use std::path::PathBuf;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::Digest;
use tokio::io::{AsyncWriteExt, BufWriter};

use super::blobs::{BlobStore, sync_dir};
use crate::ids::Sha256;

/// Bytes buffered between the network and the disk.
const WRITE_BUFFER: usize = 256 * 1024;

/// A blob written and verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ingested {
    /// Its name and hash.
    pub sha256: Sha256,
    /// Its size.
    pub bytes: u64,
}

/// Why a blob was not kept.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// More bytes came than the limit allows; reading stopped there.
    #[error("the body is over the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The bytes do not hash to the name they were sent under.
    #[error("the {bytes} bytes received hash to {actual}, not to {expected}")]
    Mismatch {
        /// The name.
        expected: Sha256,
        /// What the bytes hash to.
        actual: Sha256,
        /// How many bytes came.
        bytes: u64,
    },
    /// The body stream failed (the sender went away, or the connection broke).
    #[error("the body could not be read to its end: {0}")]
    Body(String),
    /// The disk failed.
    #[error("the blob store failed: {0}")]
    Io(#[from] io::Error),
}

/// A temporary file, deleted when dropped unless it was moved into place.
struct TempFile {
    path: PathBuf,
    moved: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.moved {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl BlobStore {
    /// Streams `body` into the blob named `expected`, verifying it: at most `limit` bytes
    /// are read. On success the blob is durable on disk (a copy already there is kept).
    pub async fn ingest<S, E>(
        &self,
        expected: &Sha256,
        body: S,
        limit: u64,
    ) -> Result<Ingested, IngestError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Display,
    {
        let mut body = std::pin::pin!(body);
        let mut tmp = TempFile {
            path: self.tmp_dir().join(uuid::Uuid::now_v7().to_string()),
            moved: false,
        };
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp.path)
            .await?;
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut hasher = sha2::Sha256::new();
        let mut bytes: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| IngestError::Body(e.to_string()))?;
            bytes = bytes.saturating_add(chunk.len() as u64);
            if bytes > limit {
                return Err(IngestError::TooLarge { limit });
            }
            hasher.update(&chunk);
            out.write_all(&chunk).await?;
        }
        let actual = Sha256::from_bytes(hasher.finalize().into());
        if actual != *expected {
            return Err(IngestError::Mismatch {
                expected: *expected,
                actual,
                bytes,
            });
        }
        out.flush().await?;
        let file = out.into_inner();
        file.sync_all().await?;
        drop(file);

        let dest = self.path_of(expected);
        let shard = dest
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| self.root().to_path_buf());
        let new_shard = !tokio::fs::try_exists(&shard).await?;
        if new_shard {
            tokio::fs::create_dir_all(&shard).await?;
        }
        if tokio::fs::try_exists(&dest).await? {
            // The same name is the same bytes: keep the blob already there.
            return Ok(Ingested {
                sha256: *expected,
                bytes,
            });
        }
        tokio::fs::rename(&tmp.path, &dest).await?;
        tmp.moved = true;
        sync_dir(&shard).await?;
        if new_shard {
            sync_dir(self.root()).await?;
        }
        Ok(Ingested {
            sha256: *expected,
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn chunks(data: &[u8]) -> impl Stream<Item = Result<Bytes, io::Error>> + use<> {
        let parts: Vec<Result<Bytes, io::Error>> = data
            .chunks(1000)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        futures_util::stream::iter(parts)
    }

    fn tmp_is_empty(store: &BlobStore) -> bool {
        std::fs::read_dir(store.tmp_dir()).unwrap().next().is_none()
    }

    #[tokio::test]
    async fn a_matching_body_is_stored_once_and_a_wrong_or_large_one_never() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path().join("blobs")).unwrap();
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let sha = Sha256::digest(&data);

        let stored = store.ingest(&sha, chunks(&data), 10_000).await.unwrap();
        assert_eq!(stored.bytes, 10_000);
        assert_eq!(std::fs::read(store.path_of(&sha)).unwrap(), data);
        let again = store.ingest(&sha, chunks(&data), 10_000).await.unwrap();
        assert_eq!(again, stored);
        assert!(tmp_is_empty(&store));

        let other = Sha256::digest(b"something else");
        let wrong = store.ingest(&other, chunks(&data), 10_000).await;
        assert!(matches!(wrong, Err(IngestError::Mismatch { actual, .. }) if actual == sha));
        assert!(!store.has(&other).await.unwrap());

        let large = store.ingest(&sha, chunks(&data), 9_999).await;
        assert!(matches!(large, Err(IngestError::TooLarge { limit: 9_999 })));
        assert!(tmp_is_empty(&store));
    }

    #[tokio::test]
    async fn a_body_cut_off_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path().join("blobs")).unwrap();
        let parts: Vec<Result<Bytes, io::Error>> = vec![
            Ok(Bytes::from_static(b"half of it")),
            Err(io::Error::other("connection reset")),
        ];
        let sha = Sha256::digest(b"half of it and the rest");
        let cut = store
            .ingest(&sha, futures_util::stream::iter(parts), 1_000)
            .await;
        assert!(matches!(cut, Err(IngestError::Body(_))));
        assert!(tmp_is_empty(&store));
        assert!(!store.has(&sha).await.unwrap());
    }
}
