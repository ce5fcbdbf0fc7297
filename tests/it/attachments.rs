//! Attachments: uploaded once to the court's own gateway, named by their SHA-256, carried
//! to the peer before the first envelope that lists them (and only once), verified at
//! every hop, readable only by the courts of the work.

use std::io;

use bytes::Bytes;
use futures_util::Stream;
use kuayu::client::CourtClient;
use kuayu::envelope::AttachmentRef;
use kuayu::ids::{RegionId, Sha256};
use kuayu::problem::Code;
use serde_json::json;
use sha2::Digest;

use crate::support::*;

pub(crate) const MIB: u64 = 1024 * 1024;
const CHUNK: u64 = 64 * 1024;

fn chunks(seed: u64, total: u64) -> impl Iterator<Item = Bytes> {
    kuayu::devnet::sample_chunks(seed, total, CHUNK)
}

pub(crate) fn stream(
    seed: u64,
    total: u64,
) -> impl Stream<Item = io::Result<Bytes>> + Send + Sync + 'static {
    futures_util::stream::iter(chunks(seed, total).map(Ok))
}

pub(crate) fn sha_of(seed: u64, total: u64) -> Sha256 {
    let mut h = sha2::Sha256::new();
    chunks(seed, total).for_each(|c| h.update(&c));
    Sha256::from_bytes(h.finalize().into())
}

pub(crate) fn reference(sha256: Sha256, bytes: u64) -> AttachmentRef {
    AttachmentRef {
        doc_id: "judgment-5678".into(),
        title: "民事判决书".into(),
        doc_type: "judgment".into(),
        sha256,
        bytes,
        pages: Some(12),
        media_type: "application/pdf".into(),
    }
}

/// A service request to CQ0103 serving the document `a`.
pub(crate) fn serving(a: &AttachmentRef) -> kuayu::api::Submission {
    let mut s = submission("service.request", "CQ0103");
    s.payload["documents"] = json!([{
        "docId": a.doc_id, "docType": a.doc_type, "title": a.title,
        "sha256": a.sha256, "pages": a.pages,
    }]);
    s.attachments = vec![a.clone()];
    s
}

/// Uploads data `seed` of `total` bytes from `court`, streamed.
pub(crate) async fn upload(court: &CourtClient, seed: u64, total: u64) -> AttachmentRef {
    let sha = sha_of(seed, total);
    let up = court
        .upload_stream(&sha, stream(seed, total), Some(total))
        .await
        .expect("upload accepted");
    assert_eq!((up.sha256, up.bytes), (sha, total));
    reference(sha, total)
}

pub(crate) fn gateway(t: &TestFed, region: &str) -> std::sync::Arc<kuayu::gateway::Gateway> {
    std::sync::Arc::clone(&t.fed.gateway(region).gateway)
}

/// The files in `region`'s blob store (temporary ones included), as (path, size).
fn blob_files(t: &TestFed, region: &str) -> Vec<(String, u64)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<(String, u64)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                let size = std::fs::metadata(&path).unwrap().len();
                out.push((path.display().to_string(), size));
            }
        }
    }
    let mut out = Vec::new();
    walk(&t.fed.dir.join(region).join("blobs"), &mut out);
    out
}

#[tokio::test]
async fn a_5_mb_attachment_goes_from_sc0104_to_cq0103_and_downloads_byte_identical() {
    let t = TestFed::start().await;
    let (sc, cq) = (t.court("SC0104"), t.court("CQ0103"));
    let total = 5 * MIB + 123;
    let a = upload(&sc, 7, total).await;
    let accepted = submit(&sc, &serving(&a)).await;
    reaches(&sc, accepted.request_id, "relayed").await;

    let entry = eventually("the request in CQ0103's inbox", || async {
        let page = cq.inbox(0, 50).await.ok()?;
        page.items
            .into_iter()
            .find(|e| e.request_id == accepted.request_id)
    })
    .await;
    let listed = &entry.envelope_value().expect("the signed envelope")["attachments"];
    assert_eq!(listed[0]["sha256"], json!(a.sha256));
    assert_eq!(listed[0]["bytes"], json!(total));

    let mut got: Vec<u8> = Vec::new();
    let n = cq
        .download(&a.sha256, &mut got)
        .await
        .expect("CQ0103 downloads it");
    assert_eq!(n, total);
    let mut at = 0usize;
    for (i, c) in chunks(7, total).enumerate() {
        assert!(got[at..at + c.len()] == c[..], "chunk {i} differs");
        at += c.len();
    }
    assert_eq!(at, got.len(), "byte-identical, nothing more");
    // Stored at CQ under its hash, whole.
    let path = gateway(&t, "CQ").blobs.path_of(&a.sha256);
    assert_eq!(std::fs::metadata(path).unwrap().len(), total);
    t.shutdown().await;
}

#[tokio::test]
async fn bytes_that_do_not_match_their_name_are_refused_and_nothing_is_kept() {
    let t = TestFed::start().await;
    let sc = t.court("SC0104");
    let claimed = sha_of(1, MIB);
    let p = problem(sc.upload_stream(&claimed, stream(2, MIB), Some(MIB)).await);
    assert!(p.is(Code::HashMismatch), "{p}");
    assert_eq!(p.status, 422);
    let actual = sha_of(2, MIB);
    assert!(
        p.detail.contains(&claimed.to_string()) && p.detail.contains(&actual.to_string()),
        "the detail names both hashes: {}",
        p.detail
    );
    let p = problem(sc.download(&claimed, &mut Vec::new()).await);
    assert!(p.is(Code::NotFound), "{p}");
    let p = problem(sc.download(&actual, &mut Vec::new()).await);
    assert!(p.is(Code::NotFound), "{p}");
    assert_eq!(
        blob_files(&t, "SC"),
        vec![],
        "no blob and no temporary file kept"
    );
    let store = &gateway(&t, "SC").store;
    assert!(store.attachment(&claimed).await.unwrap().is_none());
    assert!(store.attachment(&actual).await.unwrap().is_none());
    t.shutdown().await;
}

#[tokio::test]
async fn a_submission_naming_an_attachment_never_uploaded_is_refused() {
    let t = TestFed::start().await;
    let sc = t.court("SC0104");
    let a = reference(sha_of(3, MIB), MIB);
    let p = problem(sc.submit(&serving(&a), None).await);
    assert!(p.is(Code::AttachmentMissing), "{p}");
    assert_eq!(p.status, 422);
    assert!(
        p.detail
            .contains(&format!("PUT /v1/attachments/{}", a.sha256)),
        "the detail says how to fix it: {}",
        p.detail
    );
    // Uploaded, but listed with another size: still refused.
    upload(&sc, 3, MIB).await;
    let mut wrong = a.clone();
    wrong.bytes += 1;
    let p = problem(sc.submit(&serving(&wrong), None).await);
    assert!(p.is(Code::AttachmentMissing), "{p}");
    // Listed as uploaded: accepted.
    submit(&sc, &serving(&a)).await;
    let requests = sc.requests(false).await.unwrap();
    assert_eq!(
        requests["items"].as_array().unwrap().len(),
        1,
        "only the last was stored"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn an_attachment_named_by_two_requests_crosses_to_the_peer_once() {
    let t = TestFed::start().await;
    let sc = t.court("SC0104");
    let a = upload(&sc, 4, 2 * MIB).await;
    let first = submit(&sc, &serving(&a)).await;
    reaches(&sc, first.request_id, "relayed").await;
    let second = submit(&sc, &serving(&a)).await;
    reaches(&sc, second.request_id, "relayed").await;

    let cq = RegionId::parse("CQ").unwrap();
    assert!(
        gateway(&t, "SC")
            .store
            .attachment_sent(&a.sha256, &cq)
            .await
            .unwrap()
    );
    let deliveries = gateway(&t, "CQ")
        .store
        .attachment_deliveries(&a.sha256)
        .await
        .unwrap();
    let sources: Vec<(&str, bool)> = deliveries
        .iter()
        .map(|d| (d.source.as_str(), d.stored))
        .collect();
    assert_eq!(
        sources,
        [("gateway:SC", true)],
        "one transfer for two requests"
    );
    // Both requests reached CQ0103, and it may read the blob.
    let inbox = t.court("CQ0103").inbox(0, 50).await.unwrap();
    assert_eq!(inbox.items.len(), 2);
    let n = t
        .court("CQ0103")
        .download(&a.sha256, &mut tokio::io::sink())
        .await
        .unwrap();
    assert_eq!(n, 2 * MIB);
    t.shutdown().await;
}

#[tokio::test]
async fn only_the_courts_of_the_work_may_download_an_attachment() {
    let t = TestFed::start().await;
    let sc = t.court("SC0104");
    let a = upload(&sc, 5, 300_000).await;
    // Another court of the region cannot read it by its name alone...
    let p = problem(t.court("SC01").download(&a.sha256, &mut Vec::new()).await);
    assert!(p.is(Code::NotFound), "{p}");
    // ...but may once it uploads the same bytes itself: 201, new to this court (whether
    // another court holds the same bytes is not told).
    let again = t
        .court("SC01")
        .upload_stream(&a.sha256, stream(5, 300_000), None)
        .await
        .unwrap();
    assert!(again.created, "new to this court");
    t.court("SC01")
        .download(&a.sha256, &mut tokio::io::sink())
        .await
        .unwrap();

    let accepted = submit(&sc, &serving(&a)).await;
    reaches(&sc, accepted.request_id, "relayed").await;
    let p = problem(t.court("CQ01").download(&a.sha256, &mut Vec::new()).await);
    assert!(p.is(Code::NotFound), "a court the message was not for: {p}");
    let n = t
        .court("CQ0103")
        .download(&a.sha256, &mut tokio::io::sink())
        .await
        .unwrap();
    assert_eq!(n, 300_000);
    t.shutdown().await;
}

#[tokio::test]
async fn an_upload_over_the_agreements_limit_is_refused_and_not_kept() {
    let t = TestFed::start_with(time::macros::datetime!(2026-11-25 08:00 UTC), |o| {
        o.amend = Some(Box::new(|terms| {
            terms.limits.max_attachment_bytes = Some(MIB)
        }));
    })
    .await;
    let sc = t.court("SC0104");
    let sha = sha_of(6, 2 * MIB);
    // Its stated length is over the limit: refused before reading.
    let p = problem(
        sc.upload_stream(&sha, stream(6, 2 * MIB), Some(2 * MIB))
            .await,
    );
    assert!(p.is(Code::PayloadTooLarge), "{p}");
    // No length stated: reading stops once over it.
    let p = problem(sc.upload_stream(&sha, stream(6, 2 * MIB), None).await);
    assert!(p.is(Code::PayloadTooLarge), "{p}");
    assert_eq!(blob_files(&t, "SC"), vec![], "nothing kept");
    // An attachment listed over the limit is refused too.
    let p = problem(sc.submit(&serving(&reference(sha, 2 * MIB)), None).await);
    assert!(p.is(Code::PayloadTooLarge), "{p}");
    // At the limit: fine.
    upload(&sc, 6, MIB).await;
    t.shutdown().await;
}

#[tokio::test]
async fn a_relayed_envelope_listing_a_blob_the_receiver_lacks_is_refused_retryably() {
    let t = TestFed::start().await;
    let data: Vec<u8> = chunks(8, 100_000).flat_map(|c| c.to_vec()).collect();
    let sha = Sha256::digest(&data);
    let mut e = t.envelope(
        "service.request",
        "SC0104",
        "CQ0103",
        valid("service-request"),
    );
    e.attachments = vec![reference(sha, data.len() as u64)];
    let (status, body) = t.relay_as("SC", "CQ", e.clone()).await;
    assert_eq!(status, 422, "{body}");
    let p: kuayu::problem::Problem = serde_json::from_value(body).unwrap();
    assert!(p.is(Code::AttachmentMissing) && p.retryable(), "{p}");

    // The sending gateway transfers it: HEAD says absent, PUT stores it, HEAD says held.
    let url = format!(
        "https://{}/federation/v1/attachments/{sha}",
        t.fed.gateway("CQ").federation_addr
    );
    let peer = t.as_gateway("SC", "CQ");
    assert_eq!(peer.head(&url).send().await.unwrap().status(), 404);
    let wrong = peer
        .put(&url)
        .body(b"not those bytes".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    let put = peer.put(&url).body(data.clone()).send().await.unwrap();
    assert_eq!(put.status(), 201);
    assert_eq!(peer.head(&url).send().await.unwrap().status(), 200);
    // A court certificate is no peer gateway.
    let court_cert = t
        .fed
        .pki
        .court(&kuayu::ids::CourtId::parse("SC0104").unwrap());
    let posing = t.peer_client("CQ", &court_cert.0, &court_cert.1);
    if let Ok(r) = posing.head(&url).send().await {
        assert!(
            r.status().is_client_error(),
            "a court cannot act as a gateway"
        );
    }

    let (status, body) = t.relay_as("SC", "CQ", e).await;
    assert_eq!(status, 200, "{body}");
    t.shutdown().await;
}

#[tokio::test]
async fn an_update_carries_an_attachment_back_to_the_requesting_court() {
    let t = TestFed::start().await;
    let (sc, cq) = (t.court("SC0104"), t.court("CQ0103"));
    let request = submit(&sc, &submission("service.request", "CQ0103")).await;
    reaches(&sc, request.request_id, "relayed").await;
    accept(&cq, request.request_id, "service").await;
    let mut result = update("service.result", valid("service-result"));
    // The certificate of service, scanned: listed before it is uploaded, refused.
    result.attachments = vec![reference(sha_of(9, 200_000), 200_000)];
    let p = problem(cq.update(request.request_id, &result).await);
    assert!(p.is(Code::AttachmentMissing), "{p}");
    upload(&cq, 9, 200_000).await;
    cq.update(request.request_id, &result).await.unwrap();
    reaches(&sc, request.request_id, "completed").await;
    let n = sc
        .download(&result.attachments[0].sha256, &mut tokio::io::sink())
        .await
        .expect("the requesting court reads the certificate");
    assert_eq!(n, 200_000);
    t.shutdown().await;
}
