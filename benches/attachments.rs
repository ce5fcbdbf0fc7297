//! Memory and throughput of one large attachment on the whole path: court SC0104 uploads
//! it to the SC gateway, the relay transfers it to CQ before the request that names it,
//! court CQ0103 downloads it. Every hop streams; none holds the attachment in memory.
//!
//! Run: `cargo bench --bench attachments -- --megabytes 200`
//!
//! Starts the two-region dev federation in-process (real TLS, SQLite, HTTP on loopback),
//! samples the process's resident memory (VmRSS) every 10 ms from a background thread,
//! uploads a generated attachment (a stream, never whole in memory), submits a service
//! request naming it, waits for the request in CQ0103's inbox, downloads the attachment
//! while hashing it, and checks the hash. Prints idle and peak RSS, their difference, and
//! the throughput of each hop. Both gateways and both court clients share this one
//! process, so the difference bounds from above what the receiving gateway alone needs.
#![allow(clippy::unwrap_used)]

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kuayu::api::Submission;
use kuayu::clock::SystemClock;
use kuayu::demo::court::fixture;
use kuayu::devnet::{DevFederation, DevOptions};
use kuayu::envelope::AttachmentRef;
use kuayu::ids::{CourtId, MessageKind, Sha256};
use sha2::Digest;

const MIB: u64 = 1024 * 1024;
const CHUNK: u64 = 256 * 1024;

fn megabytes() -> u64 {
    let argv: Vec<String> = std::env::args().collect();
    argv.windows(2)
        .find(|w| w[0] == "--megabytes")
        .and_then(|w| w[1].parse::<u64>().ok())
        .unwrap_or(200)
        .max(1)
}

/// Resident memory of this process, in bytes (Linux `/proc/self/status`).
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The generated attachment, chunk by chunk.
fn chunks(total: u64) -> impl Iterator<Item = Bytes> + Send + Sync + 'static {
    kuayu::devnet::sample_chunks(1, total, CHUNK)
}

/// A writer that hashes what it is given and keeps nothing.
#[derive(Default)]
struct HashingSink {
    hasher: sha2::Sha256,
    bytes: u64,
}

impl tokio::io::AsyncWrite for HashingSink {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.hasher.update(buf);
        this.bytes += buf.len() as u64;
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(megabytes() * MIB))
}

async fn run(total: u64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut options = DevOptions::new(Arc::new(SystemClock));
    let limit = total.max(kuayu::attachments::DEFAULT_MAX_BYTES);
    options.amend = Some(Box::new(move |terms| {
        terms.limits.rate = None;
        terms.limits.max_attachment_bytes = Some(limit);
    }));
    let fed = DevFederation::start(dir.path(), options).await?;
    let (sc, cq) = (fed.court_client("SC0104")?, fed.court_client("CQ0103")?);
    // Warm up: connections and TLS sessions of both clients, so idle means ready.
    sc.agreements().await?;
    cq.inbox(0, 1).await?;

    let mut hasher = sha2::Sha256::new();
    chunks(total).for_each(|c| hasher.update(&c));
    let sha256 = Sha256::from_bytes(hasher.finalize().into());

    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = rss();
    let peak = Arc::new(AtomicU64::new(idle));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (Arc::clone(&peak), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };

    let begin = Instant::now();
    let stream = futures_util::stream::iter(chunks(total).map(Ok::<_, io::Error>));
    let uploaded = sc.upload_stream(&sha256, stream, Some(total)).await?;
    anyhow::ensure!(
        uploaded.bytes == total,
        "the gateway stored {} bytes",
        uploaded.bytes
    );
    let upload = begin.elapsed();

    let t = Instant::now();
    let submission = Submission {
        kind: MessageKind::parse("service.request")?,
        recipient_court: CourtId::parse("CQ0103")?,
        schema_version: None,
        payload: fixture("service-request", |_| true)
            .ok_or_else(|| anyhow::anyhow!("no service-request fixture"))?,
        attachments: vec![AttachmentRef {
            doc_id: "bundle-1".into(),
            title: "案卷材料 (case file bundle)".into(),
            doc_type: "other".into(),
            sha256,
            bytes: total,
            pages: None,
            media_type: "application/pdf".into(),
        }],
    };
    let accepted = sc.submit(&submission, None).await?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let page = cq.inbox(0, 50).await?;
        if page
            .items
            .iter()
            .any(|e| e.request_id == accepted.request_id)
        {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the request never reached CQ0103"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let relay = t.elapsed();

    let t = Instant::now();
    let mut sink = HashingSink::default();
    let downloaded = cq.download(&sha256, &mut sink).await?;
    let download = t.elapsed();
    let got = Sha256::from_bytes(sink.hasher.finalize().into());
    anyhow::ensure!(
        got == sha256 && downloaded == total && sink.bytes == total,
        "downloaded {downloaded} bytes hashing to {got}, expected {total} hashing to {sha256}"
    );
    let whole = begin.elapsed();

    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let peak = peak.load(Ordering::Relaxed).max(rss());
    let rate = |d: Duration| mb(total) / d.as_secs_f64();
    println!(
        "kuayu attachment benchmark: one {:.0} MB attachment, SC0104 → SC → CQ → CQ0103 on loopback",
        mb(total)
    );
    println!(
        "  upload   (court → SC, stored and fsynced):  {:>7.1} MB/s  {:>6.2} s",
        rate(upload),
        upload.as_secs_f64()
    );
    println!(
        "  relay    (SC → CQ, then the request):       {:>7.1} MB/s  {:>6.2} s",
        rate(relay),
        relay.as_secs_f64()
    );
    println!(
        "  download (CQ → court, hashed, hash checked): {:>6.1} MB/s  {:>6.2} s",
        rate(download),
        download.as_secs_f64()
    );
    println!(
        "  end to end:                                 {:>7.1} MB/s  {:>6.2} s",
        rate(whole),
        whole.as_secs_f64()
    );
    println!(
        "  RSS: idle {:.1} MB, peak {:.1} MB, peak - idle {:.1} MB (target < 100 MB)",
        mb(idle),
        mb(peak),
        mb(peak.saturating_sub(idle))
    );
    println!(
        "  (both gateways and both court clients run in this one process: the figure is an upper bound for the receiving gateway alone)"
    );
    fed.shutdown().await;
    Ok(())
}
