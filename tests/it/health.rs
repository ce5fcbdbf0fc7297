//! Health and metrics, as a load balancer and Prometheus see them: `/healthz` and
//! `/readyz` on the plain-HTTP health listener (and, authenticated, on the admin
//! listener), `/readyz` turning unready when the database file is made unreadable and
//! ready again when it is put right; `/metrics` counting what was sent.

use std::os::unix::fs::PermissionsExt as _;

use kuayu::ids::{CourtId, RegionId};
use serde_json::Value;
use time::macros::datetime;

use crate::support::*;

pub(crate) async fn with_health() -> TestFed {
    TestFed::start_with(datetime!(2026-11-25 08:00 UTC), |o| o.health = true).await
}

/// `GET http://<region's health listener><path>`: status and body.
pub(crate) async fn health(t: &TestFed, region: &str, path: &str) -> (u16, String) {
    let addr = t
        .fed
        .gateway(region)
        .health_addr
        .expect("a health listener");
    let answer = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap())
}

fn chmod(path: &std::path::Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test]
async fn readyz_turns_unready_when_the_database_file_is_made_unreadable_and_back() {
    let t = with_health().await;
    let (status, body) = health(&t, "SC", "/healthz").await;
    assert_eq!((status, body.as_str()), (200, r#"{"alive":true}"#));
    let (status, body) = health(&t, "SC", "/readyz").await;
    assert_eq!(status, 200, "{body}");
    let ready: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["checks"]["database"]["ok"], true, "{ready}");
    assert!(
        ready["checks"]["agreements"]["detail"]
            .as_str()
            .unwrap()
            .contains("SC-CQ-2026 v1"),
        "{ready}"
    );
    assert!(
        ready["checks"]["listeners"]["detail"]
            .as_str()
            .unwrap()
            .contains("court"),
        "{ready}"
    );

    let db = t.fed.dir.join("SC").join("kuayu.db");
    chmod(&db, 0o000);
    let (status, body) = health(&t, "SC", "/readyz").await;
    chmod(&db, 0o644);
    assert_eq!(status, 503, "{body}");
    let unready: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(unready["ready"], false);
    assert_eq!(unready["checks"]["database"]["ok"], false);
    assert!(
        unready["checks"]["database"]["detail"]
            .as_str()
            .unwrap()
            .contains("cannot read and write it"),
        "{unready}"
    );
    // Alive all the while, and ready once the file is right again.
    assert_eq!(health(&t, "SC", "/healthz").await.0, 200);
    assert_eq!(health(&t, "SC", "/readyz").await.0, 200);

    // A database file removed from under the gateway is not the one it writes to.
    let moved = t.fed.dir.join("SC").join("moved.db");
    std::fs::rename(&db, &moved).unwrap();
    let (status, body) = health(&t, "SC", "/readyz").await;
    std::fs::rename(&moved, &db).unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(health(&t, "SC", "/readyz").await.0, 200);

    // Only what it serves: the health listener is no court API.
    assert_eq!(health(&t, "SC", "/v1/inbox").await.0, 404);
    t.shutdown().await;
}

#[tokio::test]
async fn the_admin_listener_serves_health_and_metrics_to_administrators_only() {
    let t = TestFed::start().await;
    let admin = t.fed.admin("SC", "alice").unwrap();
    let (status, body) = admin.health("/readyz").await.unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, body) = admin.health("/metrics").await.unwrap();
    assert_eq!(status, 200);
    assert!(body.contains(r#"kuayu_build_info{version="#), "{body}");
    // Over the admin socket too: the kernel names the caller.
    let (status, _) = t
        .fed
        .admin_socket("SC")
        .unwrap()
        .health("/healthz")
        .await
        .unwrap();
    assert_eq!(status, 200);
    // A certificate from the admin CA that names no administrator gets no metrics.
    let sc = RegionId::parse("SC").unwrap();
    let (cert, key) = t
        .fed
        .pki
        .issue_client(&sc, kuayu::pki::DevCa::Admin, "nobody", None, true)
        .unwrap();
    let identity = kuayu::tls::Identity::load(&cert, &key).unwrap();
    let ca = t.fed.pki.pem(&sc, "admin-ca.crt").unwrap();
    let addr = t.fed.gateway("SC").admin_addr.unwrap();
    let stranger =
        kuayu::admin::client::AdminClient::tls(&format!("https://{addr}"), &ca, &identity).unwrap();
    let (status, body) = stranger.health("/metrics").await.unwrap();
    assert_eq!(status, 401, "{body}");
    t.shutdown().await;
}

/// The value of the sample `series` (name and labels exactly as rendered), if present.
pub(crate) fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_the_messages_refusals_stages_and_handshakes_that_happened() {
    let t = with_health().await;
    let sc = t.court("SC0104");
    let cq = t.court("CQ0103");
    let id = submit(&sc, &submission("service.request", "CQ0103"))
        .await
        .request_id;
    reaches(&cq, id, "received").await;
    let mut bad = submission("service.request", "CQ0103");
    bad.payload["addressees"] = Value::String("nobody".into());
    assert!(problem(sc.submit(&bad, None).await).is(kuayu::problem::Code::SchemaViolation));
    // A court of the other region knocks at Sichuan's court API: its CA is not trusted.
    let cq0103 = CourtId::parse("CQ0103").unwrap();
    let (cert, key) = t.fed.pki.court(&cq0103);
    let stranger = kuayu::client::CourtClient::new(
        &format!("https://{}", t.fed.gateway("SC").court_addr),
        &t.fed
            .pki
            .pem(&RegionId::parse("SC").unwrap(), "court-ca.crt")
            .unwrap(),
        &kuayu::tls::Identity::load(&cert, &key).unwrap(),
    )
    .unwrap();
    assert!(stranger.agreements().await.is_err());

    let (status, text) = health(&t, "SC", "/metrics").await;
    assert_eq!(status, 200);
    for (series, want) in [
        (
            r#"kuayu_messages_total{direction="outbound",kind="service.request",outcome="accepted"}"#,
            1.0,
        ),
        (
            r#"kuayu_messages_total{direction="outbound",kind="service.request",outcome="refused"}"#,
            1.0,
        ),
        (
            r#"kuayu_message_refusals_total{direction="outbound",kind="service.request",code="schema_violation",stage="validate"}"#,
            1.0,
        ),
        (
            r#"kuayu_http_requests_total{listener="court",method="POST",route="/v1/requests",status="202"}"#,
            1.0,
        ),
        (
            r#"kuayu_refusals_total{listener="court",method="POST",route="/v1/requests",code="schema_violation"}"#,
            1.0,
        ),
        (
            r#"kuayu_stage_duration_seconds_count{direction="outbound",stage="commit"}"#,
            1.0,
        ),
        (
            r#"kuayu_message_duration_seconds_count{direction="outbound",kind="service.request",outcome="accepted"}"#,
            1.0,
        ),
        (
            r#"kuayu_tls_handshake_failures_total{listener="court",reason="unknown_issuer"}"#,
            1.0,
        ),
        (r#"kuayu_build_info{version="0.1.0",region="SC"}"#, 1.0),
    ] {
        assert_eq!(sample(&text, series), Some(want), "{series} in:\n{text}");
    }
    assert!(
        sample(&text, r#"kuayu_connections_open{listener="court"}"#).is_some_and(|n| n >= 1.0),
        "{text}"
    );
    // The accepted request's commit was in a group: groups counted, each with a unit or more.
    let groups = sample(&text, "kuayu_store_group_commits_total").unwrap_or(0.0);
    let units = sample(&text, "kuayu_store_group_commit_units_total").unwrap_or(0.0);
    assert!(
        groups >= 1.0 && units >= groups,
        "{groups} groups, {units} units:\n{text}"
    );
    // And the receiving side counted it inbound.
    let (_, text) = health(&t, "CQ", "/metrics").await;
    assert_eq!(
        sample(
            &text,
            r#"kuayu_messages_total{direction="inbound",kind="service.request",outcome="accepted"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        !text.contains("王建国") && !text.contains("CQ0103"),
        "no court or person in metrics"
    );
    t.shutdown().await;
}

/// `region`'s metrics, scraped now.
pub(crate) async fn scrape(t: &TestFed, region: &str) -> String {
    let (status, text) = health(t, region, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    text
}

/// The relay wakes about three times for each message (its commit, the peer's answer
/// freeing its slot, its delivery recorded) but reads the outbox only when it may hold a
/// due message it has not started: here, once for each commit (and at its longest sleep,
/// every half second). Reading at every wake makes it three a message.
#[tokio::test]
async fn metrics_show_the_relay_its_backlog_and_breakers_and_the_open_and_overdue_work() {
    let mut t = with_health().await;
    let (sc, cq) = (t.court("SC0104"), t.court("CQ0103"));
    let first = submit(&sc, &submission("service.request", "CQ0103"))
        .await
        .request_id;
    reaches(&sc, first, "relayed").await;
    let text = scrape(&t, "SC").await;
    for (series, want) in [
        (
            r#"kuayu_relay_deliveries_total{peer="CQ",outcome="delivered"}"#,
            1.0,
        ),
        (
            r#"kuayu_commit_duration_seconds_count{direction="outbound"}"#,
            1.0,
        ),
        (
            r#"kuayu_requests_open{kind="service",state="relayed"}"#,
            1.0,
        ),
        (r#"kuayu_requests_overdue{kind="service"}"#, 0.0),
        (r#"kuayu_outbox_backlog{peer="CQ"}"#, 0.0),
        (r#"kuayu_outbox_oldest_age_seconds{peer="CQ"}"#, 0.0),
        (r#"kuayu_breaker_state{peer="CQ"}"#, 0.0),
    ] {
        assert_eq!(sample(&text, series), Some(want), "{series} in:\n{text}");
    }
    assert_eq!(
        sample(&text, r#"kuayu_relay_retries_total{peer="CQ"}"#),
        None,
        "delivered at the first attempt:\n{text}"
    );
    let text = scrape(&t, "CQ").await;
    for (series, want) in [
        (
            r#"kuayu_commit_duration_seconds_count{direction="inbound"}"#,
            1.0,
        ),
        (
            r#"kuayu_requests_open{kind="service",state="received"}"#,
            1.0,
        ),
    ] {
        assert_eq!(sample(&text, series), Some(want), "{series} in:\n{text}");
    }

    // The peer goes down: a second request waits, the breaker opens, the relay retries.
    t.fed.stop("CQ").await;
    let second = submit(&sc, &submission("service.request", "CQ0103"))
        .await
        .request_id;
    let text = eventually("SC's breaker open on CQ, a retry made", || async {
        t.clock.advance(time::Duration::seconds(1));
        let text = scrape(&t, "SC").await;
        let open = sample(&text, r#"kuayu_breaker_state{peer="CQ"}"#) == Some(2.0);
        let retried =
            sample(&text, r#"kuayu_relay_retries_total{peer="CQ"}"#).is_some_and(|n| n >= 1.0);
        (open && retried).then_some(text)
    })
    .await;
    assert_eq!(
        sample(&text, r#"kuayu_outbox_backlog{peer="CQ"}"#),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(&text, r#"kuayu_outbox_oldest_age_seconds{peer="CQ"}"#).is_some_and(|s| s >= 1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            r#"kuayu_relay_deliveries_total{peer="CQ",outcome="unreachable"}"#
        )
        .is_some_and(|n| n >= 2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"kuayu_requests_open{kind="service",state="submitted"}"#
        ),
        Some(1.0),
        "{text}"
    );

    // Back up: the backlog drains and the breaker closes.
    t.fed.restart("CQ").await.unwrap();
    t.clock.advance(time::Duration::minutes(10));
    reaches(&sc, second, "relayed").await;
    let text = eventually("SC's breaker closed again", || async {
        let text = scrape(&t, "SC").await;
        (sample(&text, r#"kuayu_breaker_state{peer="CQ"}"#) == Some(0.0)).then_some(text)
    })
    .await;
    assert_eq!(
        sample(&text, r#"kuayu_outbox_backlog{peer="CQ"}"#),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"kuayu_requests_open{kind="service",state="submitted"}"#
        ),
        Some(0.0),
        "a state emptied reads 0, not its old value:\n{text}"
    );

    // Neither request acknowledged by the end of the next working day: both overdue.
    reaches(&cq, second, "received").await;
    t.clock.set(time::macros::datetime!(2026-11-27 08:00 UTC));
    let text = scrape(&t, "CQ").await;
    assert_eq!(
        sample(&text, r#"kuayu_requests_overdue{kind="service"}"#),
        Some(2.0),
        "{text}"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn a_peers_second_copy_of_a_message_counts_as_a_duplicate_not_as_accepted() {
    let t = with_health().await;
    let e = t.envelope(
        "service.request",
        "SC0104",
        "CQ0103",
        valid("service-request"),
    );
    let body = t.seal(e, "SC");
    let (first, a) = t.post_as("SC", "CQ", &body).await;
    let (again, b) = t.post_as("SC", "CQ", &body).await;
    assert_eq!((first, again), (200, 200), "{a} {b}");
    assert_eq!(a, b, "the first receipt again");
    let text = scrape(&t, "CQ").await;
    for (outcome, want) in [("accepted", 1.0), ("duplicate", 1.0)] {
        let series = format!(
            r#"kuayu_messages_total{{direction="inbound",kind="service.request",outcome="{outcome}"}}"#
        );
        assert_eq!(sample(&text, &series), Some(want), "{series} in:\n{text}");
    }
    t.shutdown().await;
}
