//! Attachments isolated and bounded: a blob is seen only by those it concerns, and every
//! refusal about one the caller may not see reads as if it did not exist; an uploader's
//! blobs in waiting are bounded by a quota and a rate; unlisted uploads are removed after
//! their age; low disk space holds uploads and ordinary work but not preservation.

use kuayu::config::AttachmentsConfig;
use kuayu::ids::Sha256;
use kuayu::problem::{Code, Problem};
use serde_json::Value;
use time::macros::datetime;

use crate::attachments::{gateway, reference, serving, sha_of, stream, upload};
use crate::support::*;

async fn with_bounds(change: impl FnOnce(&mut AttachmentsConfig)) -> TestFed {
    TestFed::start_with(datetime!(2026-11-25 08:00 UTC), |o| {
        change(&mut o.attachments)
    })
    .await
}

/// `p` with every mention of `sha` written as `X`, for comparing two refusals.
fn masked(p: &Problem, sha: &Sha256) -> String {
    format!(
        "{} {} {}",
        p.status,
        p.code,
        p.detail.replace(&sha.to_string(), "X")
    )
}

#[tokio::test]
async fn a_court_cannot_read_list_or_learn_the_size_of_another_courts_blob_by_any_route() {
    let t = TestFed::start().await;
    let secret = upload(&t.court("SC0104"), 7, 300_000).await;
    let absent = reference(sha_of(8, 300_000), 300_000);
    let other = t.court("SC01");
    // Download: the same answer as for a blob that does not exist.
    let seen = problem(other.download(&secret.sha256, &mut Vec::new()).await);
    let none = problem(other.download(&absent.sha256, &mut Vec::new()).await);
    assert!(seen.is(Code::NotFound), "{seen}");
    assert_eq!(masked(&seen, &secret.sha256), masked(&none, &absent.sha256));
    // Listing it in a request, with the right size or a wrong one: the same refusal as
    // for a blob that does not exist, and never the true size.
    for bytes in [secret.bytes, 1234] {
        let mut listed = secret.clone();
        listed.bytes = bytes;
        let seen = problem(other.submit(&serving(&listed), None).await);
        let mut missing = absent.clone();
        missing.bytes = bytes;
        let none = problem(other.submit(&serving(&missing), None).await);
        assert!(seen.is(Code::AttachmentMissing), "{seen}");
        assert_eq!(masked(&seen, &secret.sha256), masked(&none, &absent.sha256));
        if bytes != secret.bytes {
            assert!(
                !seen.detail.contains("300000"),
                "the true size leaked: {seen}"
            );
        }
    }
    // A peer gateway asking whether Sichuan holds it is told no, as for any blob it was
    // never sent.
    let client = t.as_gateway("CQ", "SC");
    let sc = t.fed.gateway("SC").federation_addr;
    for sha in [secret.sha256, absent.sha256] {
        let head = client
            .head(format!("https://{sc}/federation/v1/attachments/{sha}"))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status().as_u16(), 404);
    }
    // The court that uploaded it lists it, and the court it is for may read it.
    let accepted = submit(&t.court("SC0104"), &serving(&secret)).await;
    reaches(&t.court("SC0104"), accepted.request_id, "relayed").await;
    t.court("CQ0103")
        .download(&secret.sha256, &mut tokio::io::sink())
        .await
        .unwrap();
    t.shutdown().await;
}

#[tokio::test]
async fn a_court_over_its_quota_gets_a_clear_problem_and_nothing_is_kept() {
    let t = with_bounds(|a| a.pending_quota_bytes_per_court = 1_000_000).await;
    let sc = t.court("SC0104");
    let first = upload(&sc, 1, 600_000).await;
    let g = gateway(&t, "SC");
    for declared in [Some(600_000), None] {
        let sha = sha_of(2, 600_000);
        let p = problem(sc.upload_stream(&sha, stream(2, 600_000), declared).await);
        assert_eq!((p.status, p.code.as_str()), (413, "quota_exceeded"), "{p}");
        assert!(
            p.detail.contains("1000000") && p.detail.contains("no message lists"),
            "{p}"
        );
        assert!(
            g.store.attachment(&sha).await.unwrap().is_none(),
            "nothing kept"
        );
        assert!(!g.blobs.has(&sha).await.unwrap());
    }
    // Another court has its own quota.
    upload(&t.court("SC01"), 3, 600_000).await;
    // Once a message lists the first upload, it no longer counts: the second fits.
    submit(&sc, &serving(&first)).await;
    upload(&sc, 2, 600_000).await;
    t.shutdown().await;
}

#[tokio::test]
async fn uploads_over_the_rate_are_refused_until_the_clock_moves_on() {
    let t = with_bounds(|a| a.uploads_per_minute = 2).await;
    let sc = t.court("SC0104");
    upload(&sc, 1, 1000).await;
    upload(&sc, 2, 1000).await;
    let sha = sha_of(3, 1000);
    let p = problem(sc.upload_stream(&sha, stream(3, 1000), Some(1000)).await);
    assert_eq!((p.status, p.code.as_str()), (429, "rate_limited"), "{p}");
    assert!(
        p.retry_after.is_some_and(|s| (1..=60).contains(&s)),
        "{p:?}"
    );
    t.clock.advance(time::Duration::seconds(31));
    upload(&sc, 3, 1000).await;
    t.shutdown().await;
}

#[tokio::test]
async fn an_upload_no_message_lists_is_removed_after_its_age_and_a_listed_one_stays() {
    let t = with_bounds(|a| a.unreferenced_ttl_hours = 24).await;
    let sc = t.court("SC0104");
    let unlisted = upload(&sc, 1, 10_000).await;
    let listed = upload(&sc, 2, 10_000).await;
    submit(&sc, &serving(&listed)).await;
    let g = gateway(&t, "SC");
    assert_eq!(
        kuayu::attachments::sweep::sweep(&g).await,
        0,
        "not old enough yet"
    );
    t.clock.advance(time::Duration::hours(25));
    assert_eq!(kuayu::attachments::sweep::sweep(&g).await, 1);
    assert!(
        g.store
            .attachment(&unlisted.sha256)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!g.blobs.has(&unlisted.sha256).await.unwrap());
    assert!(g.store.attachment(&listed.sha256).await.unwrap().is_some());
    assert!(g.blobs.has(&listed.sha256).await.unwrap());
    let log = g.store.audit_entries(0, 1000).await.unwrap();
    assert!(log.iter().any(|e| e.action == "attachment.removed"
        && e.subject == unlisted.sha256.to_string()
        && e.actor == "system"));
    // Listing the removed one now is refused like any blob not here.
    let p = problem(sc.submit(&serving(&unlisted), None).await);
    assert!(p.is(Code::AttachmentMissing), "{p}");
    t.shutdown().await;
}

#[tokio::test]
async fn below_the_disk_watermark_uploads_and_ordinary_work_wait_while_reads_and_preservation_go_on()
 {
    // Every disk has less free than this (the largest a TOML integer holds).
    let t = with_bounds(|a| a.min_free_bytes = i64::MAX as u64).await;
    let sc = t.court("SC0104");
    let p = problem(
        sc.submit(&submission("service.request", "CQ0103"), None)
            .await,
    );
    assert_eq!(
        (p.status, p.code.as_str()),
        (503, "insufficient_storage"),
        "{p}"
    );
    assert!(p.retry_after.is_some(), "{p:?}");
    let sha = sha_of(1, 1000);
    let p = problem(sc.upload_stream(&sha, stream(1, 1000), Some(1000)).await);
    assert_eq!(p.code, "insufficient_storage", "{p}");
    // A freeze does not wait.
    let order = submit(
        &t.court("SC01"),
        &submission("preservation.request", "CQ01"),
    )
    .await;
    assert_eq!(order.state, "submitted");
    // Reads go on.
    let view: Value = t.court("SC01").request(order.request_id).await.unwrap();
    assert_eq!(view["state"], "submitted");
    sc.inbox(0, 10).await.unwrap();
    t.shutdown().await;
}
