//! Long polls of a court's inbox (`wait=S`): an empty inbox holds the answer until a
//! message lands (the feed and the work queue alike), or answers empty when the wait
//! ends; a preservation desk (`priority=high`) gets freezes only; a wait beyond the
//! bound is refused with a clear error.

use std::time::{Duration, Instant};

use crate::support::*;

/// What a poll that started before the message was stored must give: the message, well
/// before its wait ran out.
#[tokio::test]
async fn a_waiting_feed_answers_as_soon_as_a_message_lands() {
    let t = TestFed::start().await;
    let (sc, cq) = (t.court("SC0104"), t.court("CQ0103"));
    let after = cq.inbox(0, 500).await.unwrap().next_cursor;
    let started = Instant::now();
    let poll = tokio::spawn(async move { cq.inbox_waiting(after, 50, 8).await });
    let id = submit(&sc, &submission("service.request", "CQ0103"))
        .await
        .request_id;
    let page = poll.await.unwrap().unwrap();
    assert!(
        page.items.iter().any(|i| i.request_id == id),
        "the request in the answer: {:?}",
        page.items.iter().map(|i| i.request_id).collect::<Vec<_>>()
    );
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "answered when the message landed, not when the wait ran out: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_waiting_work_queue_hands_out_a_freeze_as_soon_as_it_lands() {
    let t = TestFed::start().await;
    let sc = t.court("SC0104");
    let cq = t.raw("CQ0103");
    // Nothing in the queue first (anything there from the start is handed out now).
    let (status, _) = cq.get("/v1/inbox?order=urgent&limit=500").await;
    assert_eq!(status, 200);
    let started = Instant::now();
    let poll = tokio::spawn(async move { cq.get("/v1/inbox?order=urgent&limit=10&wait=8").await });
    let id = submit(&sc, &submission("preservation.request", "CQ0103"))
        .await
        .request_id;
    let (status, page) = poll.await.unwrap();
    assert_eq!(status, 200, "{page}");
    let ids: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["requestId"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        ids.contains(&id.to_string()),
        "the freeze handed out: {ids:?}"
    );
    assert!(page["leaseUntil"].is_string(), "{page}");
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
}

/// A preservation desk (`priority=high`) is handed freezes only, waits for them past
/// ordinary arrivals, and leaves the ordinary work in the queue for the other pollers.
#[tokio::test]
async fn a_preservation_desk_gets_freezes_only_and_waits_past_ordinary_work() {
    let t = TestFed::start().await;
    let sc = t.court("SC0104");
    let ordinary = submit(&sc, &submission("service.request", "CQ0103"))
        .await
        .request_id;
    reaches(&sc, ordinary, "relayed").await;
    let desk = t.court("CQ0103");
    assert!(
        desk.lease_preservation(10, 0)
            .await
            .unwrap()
            .items
            .is_empty(),
        "the ordinary request is not the desk's"
    );
    let started = Instant::now();
    let poll = tokio::spawn(async move { desk.lease_preservation(10, 8).await });
    // Ordinary work arriving meanwhile does not end the wait.
    let later = submit(&sc, &submission("service.request", "CQ0103"))
        .await
        .request_id;
    reaches(&sc, later, "relayed").await;
    let freeze = submit(&sc, &submission("preservation.request", "CQ0103"))
        .await
        .request_id;
    let page = poll.await.unwrap().unwrap();
    let got: Vec<_> = page.items.iter().map(|i| i.request_id).collect();
    assert_eq!(got, vec![freeze], "the freeze, and nothing else");
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    let rest: Vec<_> = t
        .court("CQ0103")
        .lease_work(10, None)
        .await
        .unwrap()
        .items
        .iter()
        .map(|i| i.request_id)
        .collect();
    assert!(
        rest.contains(&ordinary) && rest.contains(&later) && !rest.contains(&freeze),
        "ordinary work stays queued for the other pollers: {rest:?}"
    );
}

#[tokio::test]
async fn a_wait_with_nothing_to_give_answers_empty_when_it_ends() {
    let t = TestFed::start().await;
    let cq = t.court("CQ0103");
    let after = cq.inbox(0, 500).await.unwrap().next_cursor;
    let started = Instant::now();
    let page = cq.inbox_waiting(after, 50, 1).await.unwrap();
    assert!(page.items.is_empty());
    assert_eq!(page.next_cursor, after, "the cursor stays where it was");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "it waited: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_wait_beyond_the_bound_or_a_priority_outside_the_work_queue_is_refused() {
    let t = TestFed::start().await;
    let cq = t.raw("CQ0103");
    for (query, names) in [
        ("wait=26", "wait"),
        ("wait=-1", "wait"),
        ("wait=soon", "wait"),
        ("order=urgent&priority=low", "priority"),
        ("priority=high", "order=urgent"),
    ] {
        let (status, problem) = cq.get(&format!("/v1/inbox?{query}")).await;
        assert_eq!(status, 400, "{query}: {problem}");
        assert_eq!(problem["code"], "bad_request", "{problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(names),
            "{problem}"
        );
    }
}
