//! Preservation goes first: past ordinary work queued for a peer that was down, and to
//! the top of the receiving court's work queue.

use time::macros::datetime;

use crate::support::*;

/// Ordinary requests queued behind a stopped peer.
const QUEUED: usize = 10_000;
/// Courts' systems submitting at once.
const SUBMITTERS: usize = 16;

#[tokio::test]
async fn a_preservation_order_overtakes_ten_thousand_queued_requests_when_the_peer_returns() {
    // One court sends everything: lift the per-court rate of the sample agreement.
    let mut t = TestFed::start_with(datetime!(2026-11-25 08:00 UTC), |o| {
        o.amend = Some(Box::new(|terms| terms.limits.rate = None));
    })
    .await;
    t.fed.stop("CQ").await;

    let work = ("service.request", "SC0104", "CQ0103");
    submit_concurrently(&t, QUEUED, SUBMITTERS, work).await;
    let sc = t.court("SC0104");
    let freeze = submit(&sc, &submission("preservation.request", "CQ0103"))
        .await
        .request_id;
    let outbox = t
        .fed
        .gateway("SC")
        .gateway
        .store
        .due_outbox(i64::MAX, i64::MAX, &[])
        .await
        .unwrap();
    assert_eq!(outbox.len(), QUEUED + 1, "everything waits, committed");

    // The peer returns; once its backoff is over the relay probes it with the most urgent
    // message waiting.
    t.fed.restart("CQ").await.unwrap();
    t.clock.advance(time::Duration::minutes(10));
    let cq = t.court("CQ0103");
    let first = eventually("the first arrival at Chongqing", || async {
        cq.inbox(0, 1).await.ok()?.items.into_iter().next()
    })
    .await;
    assert_eq!(
        first.request_id, freeze,
        "the preservation order arrives first"
    );
    assert_eq!(first.kind.as_str(), "preservation.request");
    t.shutdown().await;
}

#[tokio::test]
async fn the_work_queue_puts_preservation_orders_before_older_work() {
    let t = TestFed::start().await;
    let (sc, cq) = (t.court("SC0104"), t.court("CQ0103"));
    let mut ordinary = Vec::new();
    for kind in ["service.request", "evidence.request", "printing.request"] {
        let id = submit(&sc, &submission(kind, "CQ0103")).await.request_id;
        reaches(&sc, id, "relayed").await;
        ordinary.push(id);
    }
    let freeze = submit(&sc, &submission("preservation.request", "CQ0103"))
        .await
        .request_id;
    reaches(&sc, freeze, "relayed").await;

    // In the work queue the freeze comes first, then the rest oldest first, each handed
    // out once; in arrival order it is last.
    let queue: Vec<_> = cq
        .work_queue(50)
        .await
        .unwrap()
        .items
        .iter()
        .map(|i| i.request_id)
        .collect();
    assert_eq!(queue, [freeze, ordinary[0], ordinary[1], ordinary[2]]);
    assert!(
        cq.work_queue(50).await.unwrap().items.is_empty(),
        "retrieved work leaves the queue"
    );
    let feed: Vec<_> = cq
        .inbox(0, 50)
        .await
        .unwrap()
        .items
        .iter()
        .map(|i| i.request_id)
        .collect();
    assert_eq!(feed, [ordinary[0], ordinary[1], ordinary[2], freeze]);
    t.shutdown().await;
}
