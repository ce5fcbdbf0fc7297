//! One trace across both gateways: a court's W3C `traceparent` (or a new trace, when it
//! sent none or an invalid one) travels with the message to the peer gateway in the
//! relay's `traceparent` header, is recorded with the request and each history entry at
//! both gateways, comes back with every update the peer sends, and is answered to the
//! court (the 202's `traceparent` and `traceId`). It survives a restart of the relay.

use kuayu::ids::{MessageId, RegionId};
use serde_json::{Value, json};
use time::macros::datetime;

use crate::support::*;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A 202 as the court saw it: the `traceparent` header and the JSON body.
struct Answer {
    traceparent: String,
    body: Value,
}

impl Answer {
    fn trace(&self) -> String {
        let id = self.body["traceId"].as_str().unwrap_or_default().to_owned();
        assert_eq!(
            kuayu::observe::trace::parse(Some(&self.traceparent)).as_deref(),
            Some(id.as_str()),
            "the header and the body name one trace: {} / {}",
            self.traceparent,
            self.body
        );
        id
    }

    fn request_id(&self) -> MessageId {
        MessageId::parse(self.body["requestId"].as_str().unwrap()).unwrap()
    }
}

/// POSTs `body` to `path` as `court`, with `traceparent` if given; expects a 202.
async fn post(
    t: &TestFed,
    court: &str,
    path: &str,
    body: &Value,
    traceparent: Option<&str>,
) -> Answer {
    let raw = t.raw(court);
    let mut request = raw
        .http
        .post(format!("{}{path}", raw.base))
        .header("Idempotency-Key", MessageId::new().to_string())
        .json(body);
    if let Some(tp) = traceparent {
        request = request.header("traceparent", tp);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let traceparent = response
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    Answer { traceparent, body }
}

/// SC0104 submits a service request to CQ0103 with `traceparent`, if given.
async fn submit_under(t: &TestFed, traceparent: Option<&str>) -> Answer {
    let body = serde_json::to_value(submission("service.request", "CQ0103")).unwrap();
    post(t, "SC0104", "/v1/requests", &body, traceparent).await
}

/// Every history entry of `view` names `trace`, and so does the request.
fn all_under(view: &Value, trace: &str) {
    assert_eq!(view["traceId"], trace, "{view}");
    let history = view["history"].as_array().unwrap();
    assert!(!history.is_empty());
    for entry in history {
        assert_eq!(entry["traceId"], trace, "{entry}");
    }
}

/// The history events of `view`.
fn events(view: &Value) -> Vec<String> {
    view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["event"].as_str().unwrap().to_owned())
        .collect()
}

/// The federation of these tests, both stores on `engine` (`None`: PostgreSQL is not
/// configured here).
async fn federation(engine: &str) -> Option<TestFed> {
    let mut stores = Vec::new();
    if engine == "postgres" {
        for region in ["SC", "CQ"] {
            stores.push((
                RegionId::parse(region).unwrap(),
                crate::engines::fresh_postgres().await?,
            ));
        }
    }
    Some(
        TestFed::start_with(datetime!(2026-11-25 08:00 UTC), |o| {
            o.databases.extend(stores);
        })
        .await,
    )
}

#[tokio::test]
async fn a_courts_trace_reaches_the_peer_and_the_peers_result_comes_back_under_it_on_sqlite() {
    one_trace_both_ways("sqlite").await;
}

#[tokio::test]
async fn a_courts_trace_reaches_the_peer_and_the_peers_result_comes_back_under_it_on_postgres() {
    one_trace_both_ways("postgres").await;
}

async fn one_trace_both_ways(engine: &str) {
    let Some(t) = federation(engine).await else {
        return;
    };
    let (sc, cq) = (t.court("SC0104"), t.court("CQ0103"));
    let submitted = submit_under(&t, Some(PARENT)).await;
    assert_eq!(submitted.trace(), TRACE);
    assert_ne!(
        submitted.traceparent, PARENT,
        "the gateway answers with its own span id"
    );
    let id = submitted.request_id();

    // The peer knows the trace only from the relay's `traceparent` header.
    let at_cq = reaches(&cq, id, "received").await;
    all_under(&at_cq, TRACE);

    // The executing court sends its updates without any trace: they continue the request's.
    let path = format!("/v1/requests/{id}/updates");
    let status = json!({"kind": "service.status", "payload": {"status": "accepted", "at": "2026-11-25T08:00:00Z"}});
    let accepted = post(&t, "CQ0103", &path, &status, None).await;
    assert_eq!(accepted.trace(), TRACE);
    // Even one that names another trace: a request has one trace, both ways.
    let other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let sms = json!({"addresseeName": "王建国", "channel": "sms", "address": "13908312456",
        "outcome": "no_consent", "at": "2026-11-25T16:05:00+08:00",
        "reason": {"code": "no_consent", "text": "受送达人未同意电子送达"}});
    let attempt = json!({"kind": "service.attempt", "payload": sms});
    let attempted = post(&t, "CQ0103", &path, &attempt, Some(other)).await;
    assert_eq!(attempted.trace(), TRACE);
    assert_ne!(
        accepted.traceparent, attempted.traceparent,
        "a new span per hop"
    );

    // Back at the requesting gateway, the peer's updates arrived under the same trace.
    let at_sc = eventually("the peer's attempt back at SC", || async {
        let view = sc.request(id).await.ok()?;
        events(&view)
            .iter()
            .any(|e| e == "received service.attempt")
            .then_some(view)
    })
    .await;
    all_under(&at_sc, TRACE);
    assert!(events(&at_sc).contains(&"relayed".to_owned()), "{at_sc}");
    let at_cq = cq.request(id).await.unwrap();
    all_under(&at_cq, TRACE);
    assert!(
        events(&at_cq).contains(&"sent service.attempt".to_owned()),
        "{at_cq}"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn without_a_traceparent_a_trace_is_started_and_an_invalid_one_is_replaced_not_refused() {
    let t = TestFed::start().await;
    let cq = t.court("CQ0103");
    let mut seen = Vec::new();
    for sent in [
        None,
        Some("00-garbage"),
        Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        Some("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
    ] {
        let answer = submit_under(&t, sent).await;
        let trace = answer.trace();
        assert!(
            kuayu::observe::trace::is_trace_id(&trace),
            "{sent:?}: {trace}"
        );
        assert_ne!(trace, TRACE.to_uppercase());
        let at_cq = reaches(&cq, answer.request_id(), "received").await;
        all_under(&at_cq, &trace);
        seen.push(trace);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4, "each request its own new trace: {seen:?}");
    t.shutdown().await;
}

#[tokio::test]
async fn the_relay_keeps_a_messages_trace_across_a_restart() {
    let mut t = TestFed::start().await;
    t.fed.stop("CQ").await;
    let submitted = submit_under(&t, Some(PARENT)).await;
    let id = submitted.request_id();
    // The sending gateway goes down with the message still in its outbox, and comes back.
    t.fed.stop("SC").await;
    t.fed.restart("SC").await.unwrap();
    t.fed.restart("CQ").await.unwrap();
    t.clock.advance(time::Duration::minutes(10));
    let at_cq = reaches(&t.court("CQ0103"), id, "received").await;
    all_under(&at_cq, TRACE);
    let at_sc = reaches(&t.court("SC0104"), id, "relayed").await;
    all_under(&at_sc, TRACE);
    t.shutdown().await;
}
