//! Before an envelope goes to a peer, every blob it lists must be there: for each one
//! not yet recorded as sent to that peer, ask (`HEAD`), transfer it streamed from disk if
//! absent (`PUT`), and record it as sent. So a blob crosses to a peer once, however many
//! messages name it. Any failure is worth a retry (the message stays in the outbox).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;

use crate::attachments::StreamBody;
use crate::envelope::Envelope;
use crate::gateway::Gateway;
use crate::ids::{RegionId, Sha256};

/// The slowest transfer rate allowed for before a blob transfer times out (1 MiB/s).
const MIN_RATE: u64 = 1024 * 1024;

/// Makes sure `peer` (federation API at `base`) holds every attachment of `e`.
pub(super) async fn ensure_held(
    g: &Gateway,
    client: &reqwest::Client,
    base: &str,
    peer: &RegionId,
    e: &Envelope,
) -> Result<(), String> {
    let mut done: Vec<Sha256> = Vec::new();
    for a in &e.attachments {
        if done.contains(&a.sha256) {
            continue;
        }
        done.push(a.sha256);
        let sent = g
            .store
            .attachment_sent(&a.sha256, peer)
            .await
            .map_err(|err| err.to_string())?;
        if sent {
            continue;
        }
        let url = format!("{base}/federation/v1/attachments/{}", a.sha256);
        let head = client
            .head(&url)
            .send()
            .await
            .map_err(|err| format!("HEAD {url}: {}", crate::client::error_text(&err)))?;
        match head.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => transfer(g, client, &url, &a.sha256).await?,
            other => return Err(format!("HEAD {url}: HTTP {other}")),
        }
        g.store
            .record_attachment_sent(&a.sha256, peer, g.clock.now())
            .await
            .map_err(|err| err.to_string())?;
    }
    Ok(())
}

/// `PUT` the blob to `url`, streamed from the blob store (its exact length is sent).
async fn transfer(
    g: &Gateway,
    client: &reqwest::Client,
    url: &str,
    sha256: &Sha256,
) -> Result<(), String> {
    let (file, bytes) = g
        .blobs
        .open_blob(sha256)
        .await
        .map_err(|err| format!("attachment {sha256}: {err}"))?
        .ok_or_else(|| format!("attachment {sha256} is not in the {} blob store", g.region))?;
    let timeout =
        Duration::from_millis(g.relay.request_timeout_ms) + Duration::from_secs(bytes / MIN_RATE);
    let started = std::time::Instant::now();
    let response = client
        .put(url)
        .header(CONTENT_TYPE, "application/octet-stream")
        .timeout(timeout)
        .body(StreamBody::file(file, bytes).into_reqwest())
        .send()
        .await
        .map_err(|err| format!("PUT {url}: {}", crate::client::error_text(&err)))?;
    let status = response.status();
    if status.is_success() {
        tracing::info!(%sha256, bytes, ms = started.elapsed().as_millis() as u64, "attachment transferred");
        return Ok(());
    }
    let body = crate::peers::read_answer(response, crate::peers::MAX_ANSWER)
        .await
        .unwrap_or_else(|e| e.into_bytes());
    Err(format!(
        "PUT {url}: HTTP {status}: {}",
        String::from_utf8_lossy(&body)
    ))
}

/// The peer said it lacks an attachment of `e`: forget that it was sent, so the next
/// attempt asks again (and transfers it if it must).
pub(super) async fn forget(g: &Gateway, peer: &RegionId, e: &Envelope) {
    for a in &e.attachments {
        if let Err(err) = g.store.forget_attachment_sent(&a.sha256, peer).await {
            tracing::warn!(sha256 = %a.sha256, error = %err, "cannot forget an attachment transfer");
        }
    }
}
