//! Exactly once under concurrency, on both engines: of two steps racing for one request
//! or one print job, one is stored and the other refused whole; the peer sees the one.

use kuayu::ids::RegionId;
use kuayu::problem::Code;
use serde_json::json;
use time::macros::datetime;

use crate::support::*;

/// A federation whose Chongqing gateway (the executing side) runs on `engine`; `None`
/// when that engine is PostgreSQL and none is configured here.
async fn federation(engine: &str) -> Option<TestFed> {
    let location = match engine {
        "sqlite" => None,
        _ => Some(crate::engines::fresh_postgres().await?),
    };
    Some(
        TestFed::start_with(datetime!(2026-11-25 08:00 UTC), |o| {
            if let Some(l) = location {
                o.databases.insert(RegionId::parse("CQ").unwrap(), l);
            }
        })
        .await,
    )
}

/// The refusal a lost race may get: 409 `conflict` (the state changed between check and
/// commit) or 409 `illegal_transition` (checked after the winner committed).
fn lost_race(p: &kuayu::problem::Problem) {
    assert!(
        p.is(Code::Conflict) || p.is(Code::IllegalTransition),
        "a lost race is 409 conflict or illegal_transition, not {p}"
    );
}

async fn two_concurrent_updates_to_one_request_store_exactly_one(engine: &str) {
    let Some(t) = federation(engine).await else {
        return;
    };
    let (sc, cq) = (t.court("SC0104"), t.court("CQ0103"));
    let id = submit(&sc, &submission("service.request", "CQ0103"))
        .await
        .request_id;
    reaches(&cq, id, "received").await;
    // Two clerks accept at once: the same step, checked against the same state.
    for round in 0..5 {
        let status = json!({"status": "accepted", "at": "2026-11-25T08:00:00Z"});
        let step = update("service.status", status);
        let (a, b) = tokio::join!(cq.update(id, &step), cq.update(id, &step));
        let won = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
        if round == 0 {
            assert_eq!(won, 1, "exactly one of two racing updates is stored");
        } else {
            assert_eq!(won, 0, "once accepted, accepting again is refused");
        }
        for r in [a, b].into_iter().filter(|r| r.is_err()) {
            lost_race(&problem(r));
        }
    }
    let view = cq.request(id).await.unwrap();
    assert_eq!(view["state"], "accepted");
    let sent = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["event"] == "sent service.status")
        .count();
    assert_eq!(
        sent, 1,
        "one update in the executing court's history: {view}"
    );
    // The requesting side receives the one update and agrees on the state.
    let seen = reaches(&sc, id, "accepted").await;
    let received = seen["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "service.status")
        .count();
    assert_eq!(received, 1, "{seen}");
    t.shutdown().await;
}

#[tokio::test]
async fn two_concurrent_updates_to_one_request_store_exactly_one_on_sqlite() {
    two_concurrent_updates_to_one_request_store_exactly_one("sqlite").await;
}

#[tokio::test]
async fn two_concurrent_updates_to_one_request_store_exactly_one_on_postgres() {
    two_concurrent_updates_to_one_request_store_exactly_one("postgres").await;
}

async fn a_print_centres_double_delivered_yields_one_certificate(engine: &str) {
    let Some(t) = federation(engine).await else {
        return;
    };
    let sms = json!({"addresseeName": "王建国", "channel": "sms", "address": "13908312456",
        "outcome": "no_consent", "at": "2026-11-25T16:05:00+08:00",
        "reason": {"code": "no_consent", "text": "受送达人未同意电子送达"}});
    let (sc, _cq, centre, id) = failed_once(&t, sms).await;
    let job = job_of(&centre).await;
    report_all(
        &centre,
        &job,
        &[
            ("printed", json!({"pages": 11})),
            ("posted", json!({"trackingNumber": "1158472036518"})),
        ],
    )
    .await;
    let delivered = event(
        &job,
        "delivered",
        json!({"signedBy": "王建国", "relation": "self"}),
    );
    let (a, b) = tokio::join!(
        centre.print_event(&job, &delivered),
        centre.print_event(&job, &delivered)
    );
    assert_eq!(
        [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "one of two racing reports is stored"
    );
    for r in [a, b].into_iter().filter(|r| r.is_err()) {
        lost_race(&problem(r));
    }
    let view = reaches(&sc, id, "completed").await;
    let certificates = view["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "service.result")
        .count();
    assert_eq!(certificates, 1, "one certificate of service: {view}");
    t.shutdown().await;
}

#[tokio::test]
async fn a_print_centres_double_delivered_yields_one_certificate_on_sqlite() {
    a_print_centres_double_delivered_yields_one_certificate("sqlite").await;
}

#[tokio::test]
async fn a_print_centres_double_delivered_yields_one_certificate_on_postgres() {
    a_print_centres_double_delivered_yields_one_certificate("postgres").await;
}

async fn a_retried_update_is_applied_once_with_the_same_answer(engine: &str) {
    let Some(t) = federation(engine).await else {
        return;
    };
    let (sc, cq) = (t.court("SC0104"), t.court("CQ0103"));
    let id = submit(&sc, &submission("service.request", "CQ0103"))
        .await
        .request_id;
    reaches(&cq, id, "received").await;
    let status = json!({"status": "accepted", "at": "2026-11-25T08:00:00Z"});
    let step = update("service.status", status);
    // The answer was lost on the way: the clerk's system sends the same step again, at
    // once and later, under the same key.
    let key = "clerk-7-accept-1";
    let (a, b) = tokio::join!(
        cq.update_with_key(id, &step, Some(key)),
        cq.update_with_key(id, &step, Some(key))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let c = cq.update_with_key(id, &step, Some(key)).await.unwrap();
    assert_eq!(a.message_id, b.message_id, "one update, one answer");
    assert_eq!(a.message_id, c.message_id);
    assert_eq!(a.receipt, c.receipt, "the same signed receipt");
    // The same key for another step is a conflict, not a replay.
    let other = update(
        "service.status",
        json!({"status": "accepted", "at": "2026-11-25T09:00:00Z"}),
    );
    let p = problem(cq.update_with_key(id, &other, Some(key)).await);
    assert!(p.is(Code::Conflict), "{p}");
    let view = cq.request(id).await.unwrap();
    let sent = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["event"] == "sent service.status")
        .count();
    assert_eq!(sent, 1, "applied once: {view}");
    t.shutdown().await;
}

#[tokio::test]
async fn a_retried_update_is_applied_once_with_the_same_answer_on_sqlite() {
    a_retried_update_is_applied_once_with_the_same_answer("sqlite").await;
}

#[tokio::test]
async fn a_retried_update_is_applied_once_with_the_same_answer_on_postgres() {
    a_retried_update_is_applied_once_with_the_same_answer("postgres").await;
}

#[tokio::test]
async fn every_court_and_print_centre_post_needs_an_idempotency_key() {
    let t = TestFed::start().await;
    let sc = t.raw("SC0104");
    let centre = t.raw("CQ01-PC1");
    let id = kuayu::ids::MessageId::new();
    for (client, path, body) in [
        (
            &sc,
            "/v1/requests".to_owned(),
            serde_json::to_value(submission("service.request", "CQ0103")).unwrap(),
        ),
        (
            &sc,
            format!("/v1/requests/{id}/updates"),
            json!({"kind": "service.status", "payload": {}}),
        ),
        (
            &centre,
            format!("/v1/print-jobs/{id}/events"),
            json!({"jobId": id, "event": "printed"}),
        ),
    ] {
        let r = client
            .http
            .post(format!("{}{path}", client.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{path}");
        let p: serde_json::Value = r.json().await.unwrap();
        assert_eq!(p["code"], "idempotency_key_missing", "{path}: {p}");
    }
    // Nothing was stored: the court has no requests.
    let (status, list) = sc.get("/v1/requests").await;
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
    t.shutdown().await;
}
