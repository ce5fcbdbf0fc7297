//! Attachments through the court client: uploads streamed from a file or a stream, and
//! downloads written out as they arrive and checked against their name (a SHA-256).

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;

use super::{ClientError, CourtClient, decode, error_text, refusal};
use crate::api::StoredAttachment;
use crate::attachments::StreamBody;
use crate::ids::Sha256;

impl CourtClient {
    /// `PUT /v1/attachments/{sha256}` with the file at `path`, streamed from disk.
    pub async fn upload_file(&self, sha256: &Sha256, path: &Path) -> Result<Uploaded, ClientError> {
        let local = |e: std::io::Error| ClientError::Local(format!("{}: {e}", path.display()));
        let file = tokio::fs::File::open(path).await.map_err(local)?;
        let bytes = file.metadata().await.map_err(local)?.len();
        self.upload(sha256, StreamBody::file(file, bytes), Some(bytes))
            .await
    }

    /// `PUT /v1/attachments/{sha256}` with the chunks of `stream`, sent as they come (never
    /// whole in memory); `bytes`, if given, must be their total length.
    pub async fn upload_stream<S>(
        &self,
        sha256: &Sha256,
        stream: S,
        bytes: Option<u64>,
    ) -> Result<Uploaded, ClientError>
    where
        S: futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + Sync + 'static,
    {
        self.upload(sha256, StreamBody::stream(stream, bytes), bytes)
            .await
    }

    async fn upload(
        &self,
        sha256: &Sha256,
        body: StreamBody,
        bytes: Option<u64>,
    ) -> Result<Uploaded, ClientError> {
        let sent = self
            .http
            .put(format!("{}/v1/attachments/{sha256}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .timeout(transfer_timeout(bytes))
            .body(body.into_reqwest())
            .send()
            .await;
        let created = matches!(&sent, Ok(r) if r.status() == StatusCode::CREATED);
        let stored: StoredAttachment =
            decode(sent, |s| s == StatusCode::CREATED || s == StatusCode::OK).await?;
        Ok(Uploaded {
            sha256: stored.sha256,
            bytes: stored.bytes,
            created,
        })
    }

    /// `GET /v1/attachments/{sha256}`: writes the bytes to `writer` as they arrive (never
    /// whole in memory) and checks that they hash to `sha256`; returns how many came.
    pub async fn download<W>(&self, sha256: &Sha256, writer: &mut W) -> Result<u64, ClientError>
    where
        W: tokio::io::AsyncWrite + Unpin,
    {
        use sha2::Digest;
        use tokio::io::AsyncWriteExt;

        let transport = |e: reqwest::Error| ClientError::Transport(error_text(&e));
        let local = |e: std::io::Error| ClientError::Local(format!("writing the download: {e}"));
        let mut response = self
            .http
            .get(format!("{}/v1/attachments/{sha256}", self.base))
            .timeout(transfer_timeout(None))
            .send()
            .await
            .map_err(transport)?;
        if response.status() != StatusCode::OK {
            return Err(refusal(response).await);
        }
        let mut hasher = sha2::Sha256::new();
        let mut bytes = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            hasher.update(&chunk);
            bytes += chunk.len() as u64;
            writer.write_all(&chunk).await.map_err(local)?;
        }
        writer.flush().await.map_err(local)?;
        let actual = Sha256::from_bytes(hasher.finalize().into());
        if actual != *sha256 {
            return Err(ClientError::Unexpected {
                status: 200,
                body: format!("the {bytes} bytes received hash to {actual}, not to {sha256}"),
            });
        }
        Ok(bytes)
    }
}

/// What `PUT /v1/attachments/{sha256}` answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uploaded {
    /// The blob's name.
    pub sha256: Sha256,
    /// Its size.
    pub bytes: u64,
    /// Whether this upload stored it (201); false when the gateway already held it (200).
    pub created: bool,
}

/// How long an attachment transfer may take: the usual 30 s plus a second per MiB (of
/// `bytes`, or of the largest attachment allowed when the size is not known).
fn transfer_timeout(bytes: Option<u64>) -> Duration {
    let bytes = bytes.unwrap_or(crate::attachments::DEFAULT_MAX_BYTES);
    Duration::from_secs(30 + bytes / (1024 * 1024))
}
