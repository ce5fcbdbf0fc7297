//! Durable before acknowledged: nothing is visible or receipted before it is committed,
//! and committed work survives a stopped peer.

use std::time::Duration;

use kuayu::ids::RegionId;
use sqlx::Connection;

use crate::support::*;

#[tokio::test]
async fn a_message_is_visible_in_the_peers_inbox_only_after_the_peer_committed_it() {
    let t = TestFed::start().await;
    let cq = RegionId::parse("CQ").unwrap();
    let db = kuayu::config::GatewayConfig::load(&t.fed.configs[&cq])
        .unwrap()
        .database
        .sqlite_path()
        .unwrap()
        .to_path_buf();
    // Another writer holds Chongqing's database: its commit must wait.
    let mut blocker = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .unwrap();

    let body = t.seal(
        t.envelope(
            "evidence.request",
            "SC01",
            "CQ01",
            valid("evidence-request"),
        ),
        "SC",
    );
    let (client, url) = (t.as_gateway("SC", "CQ"), t.federation_url("CQ"));
    let relay = tokio::spawn(async move { post_raw(&client, &url, &body).await });

    // While the commit cannot happen: no answer to the sender, nothing in the inbox.
    let inbox = t.court("CQ01");
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!relay.is_finished(), "no answer before the commit");
        assert!(
            inbox.inbox(0, 50).await.unwrap().items.is_empty(),
            "not visible before the commit"
        );
    }
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
    let (status, answer) = relay.await.unwrap();
    assert_eq!(status, 200, "{answer}");
    let items = inbox.inbox(0, 50).await.unwrap().items;
    assert_eq!(items.len(), 1, "visible once committed");
    assert_eq!(
        items[0].message_id.to_string(),
        answer["receipt"]["messageId"].as_str().unwrap()
    );
    t.shutdown().await;
}

#[tokio::test]
async fn a_request_accepted_while_the_peer_is_down_is_delivered_once_it_returns() {
    let mut t = TestFed::start().await;
    t.fed.stop("CQ").await;
    let sc = t.court("SC0104");
    let a = submit(&sc, &submission("service.request", "CQ0103")).await;
    // The relay tries, fails, and schedules a retry; the request waits, committed.
    eventually("a failed attempt", || async {
        let view = sc.request(a.request_id).await.ok()?;
        (view["state"] == "submitted").then_some(())?;
        let outbox = t
            .fed
            .gateway("SC")
            .gateway
            .store
            .due_outbox(i64::MAX, 10, &[])
            .await
            .ok()?;
        outbox.iter().any(|o| o.attempts > 0).then_some(())
    })
    .await;
    t.fed.restart("CQ").await.unwrap();
    // Time passes (the clock is ours): the retry falls due and goes through.
    t.clock.advance(time::Duration::minutes(10));
    reaches(&sc, a.request_id, "relayed").await;
    assert_eq!(t.court("CQ0103").inbox(0, 50).await.unwrap().items.len(), 1);
    t.shutdown().await;
}

#[tokio::test]
async fn a_message_the_peer_refuses_for_good_is_marked_rejected_with_the_peers_reason() {
    let t = TestFed::start().await;
    let sc = t.court("SC0104");
    // CQ0199 is a well-formed Chongqing court code, but no court Chongqing's gateway serves.
    let a = submit(&sc, &submission("service.request", "CQ0199")).await;
    let view = reaches(&sc, a.request_id, "rejected").await;
    let last = view["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["detail"]["code"], "unknown_recipient", "{last}");
    t.shutdown().await;
}

#[tokio::test]
async fn the_audit_log_is_a_verifiable_hash_chain() {
    let t = TestFed::start().await;
    let a = submit(&t.court("SC0104"), &submission("service.request", "CQ0103")).await;
    reaches(&t.court("SC0104"), a.request_id, "relayed").await;
    for region in ["SC", "CQ"] {
        let log = t
            .fed
            .gateway(region)
            .gateway
            .store
            .audit_entries(0, 1000)
            .await
            .unwrap();
        assert!(!log.is_empty(), "{region} audited the message");
        assert_eq!(kuayu::audit::verify_chain(&log), Ok(()));
    }
    t.shutdown().await;
}
