//! The court-facing API: identities from certificates, idempotent submission, visibility,
//! and problem documents for every refusal.

use kuayu::problem::Code;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn the_same_idempotency_key_twice_yields_one_delivery_and_the_same_answer() {
    let t = TestFed::start().await;
    let court = t.court("SC0104");
    let s = submission("service.request", "CQ0103");
    let first = court.submit(&s, Some("case-1234-service-1")).await.unwrap();
    let second = court.submit(&s, Some("case-1234-service-1")).await.unwrap();
    assert_eq!(
        first, second,
        "the retried submission gets the first answer"
    );
    reaches(&court, first.request_id, "relayed").await;
    let third = court.submit(&s, Some("case-1234-service-1")).await.unwrap();
    assert_eq!(first, third, "still the first answer after delivery");
    let inbox = t.court("CQ0103").inbox(0, 50).await.unwrap();
    assert_eq!(inbox.items.len(), 1, "one delivery");
    // The same key for a different request is a conflict, not a silent replay.
    let mut other = s.clone();
    other.payload["urgency"] = json!("URGENT");
    let p = problem(court.submit(&other, Some("case-1234-service-1")).await);
    assert!(p.is(Code::Conflict), "{p}");
    // Keys belong to the court: another court's identical key is its own.
    let other_court = t
        .court("SC01")
        .submit(&s, Some("case-1234-service-1"))
        .await
        .unwrap();
    assert_ne!(other_court.request_id, first.request_id);
    t.shutdown().await;
}

/// `submit_json` sends the text as it is: the gateway reads it as the same request as the
/// typed submission (the same idempotency key gets the first answer, not a conflict), and
/// the text is checked as strictly as any body.
#[tokio::test]
async fn a_submission_sent_as_json_text_is_read_as_the_typed_one() {
    let t = TestFed::start().await;
    let court = t.court("SC0104");
    let s = submission("service.request", "CQ0103");
    let text = serde_json::to_string(&s).unwrap();
    let first = court
        .submit_json(text.clone().into(), Some("case-77-service"))
        .await
        .unwrap();
    let again = court.submit(&s, Some("case-77-service")).await.unwrap();
    assert_eq!(first, again, "the typed submission is the same request");
    // The kind appears twice: refused with its pointer, as for any body.
    let doubled = text.replacen('{', r#"{"kind":"service.request","#, 1);
    let p = problem(court.submit_json(doubled.into(), None).await);
    assert!(p.is(Code::DuplicateKey), "{p}");
    t.shutdown().await;
}

#[tokio::test]
async fn a_court_sees_only_its_own_requests() {
    let t = TestFed::start().await;
    let a = submit(&t.court("SC0104"), &submission("service.request", "CQ0103")).await;
    let p = problem(t.court("SC01").request(a.request_id).await);
    assert!(p.is(Code::NotFound), "{p}");
    assert!(t.court("SC0104").request(a.request_id).await.is_ok());
    t.shutdown().await;
}

#[tokio::test]
async fn only_the_requested_court_may_post_updates_and_only_of_the_requests_family() {
    let t = TestFed::start().await;
    let a = submit(&t.court("SC0104"), &submission("service.request", "CQ0103")).await;
    reaches(&t.court("SC0104"), a.request_id, "relayed").await;
    let status = kuayu::api::UpdateSubmission {
        kind: kuayu::ids::MessageKind::parse("service.status").unwrap(),
        schema_version: None,
        payload: json!({"status": "accepted", "at": "2026-11-25T08:00:00Z"}),
        attachments: vec![],
    };
    let p = problem(t.court("CQ01").update(a.request_id, &status).await);
    assert!(p.is(Code::NotFound), "another court cannot update it: {p}");
    let mut wrong = status.clone();
    wrong.kind = kuayu::ids::MessageKind::parse("evidence.status").unwrap();
    let p = problem(t.court("CQ0103").update(a.request_id, &wrong).await);
    assert!(p.is(Code::BadRequest), "{p}");
    t.court("CQ0103")
        .update(a.request_id, &status)
        .await
        .unwrap();
    reaches(&t.court("SC0104"), a.request_id, "accepted").await;
    t.shutdown().await;
}

#[tokio::test]
async fn a_court_certificate_from_another_ca_fails_the_handshake() {
    let t = TestFed::start().await;
    let identity = kuayu::tls::Identity::load(
        &t.fed.pki.rogue("court-SC0104.crt"),
        &t.fed.pki.rogue("court-SC0104.key"),
    )
    .unwrap();
    let sc = kuayu::ids::RegionId::parse("SC").unwrap();
    let client = kuayu::client::CourtClient::new(
        &format!("https://{}", t.fed.gateway("SC").court_addr),
        &t.fed.pki.pem(&sc, "court-ca.crt").unwrap(),
        &identity,
    )
    .unwrap();
    let err = client.inbox(0, 10).await.unwrap_err();
    assert!(
        matches!(err, kuayu::client::ClientError::Transport(_)),
        "{err}"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_problem_documents_and_nothing_is_stored() {
    let t = TestFed::start().await;
    let sc = kuayu::ids::RegionId::parse("SC").unwrap();
    let (cert, key) = t
        .fed
        .pki
        .court(&kuayu::ids::CourtId::parse("SC0104").unwrap());
    let http = kuayu::tls::http_client(
        &kuayu::tls::parse_certs(&t.fed.pki.pem(&sc, "court-ca.crt").unwrap()).unwrap(),
        &kuayu::tls::Identity::load(&cert, &key).unwrap(),
        std::time::Duration::from_secs(10),
    )
    .unwrap();
    let base = format!("https://{}", t.fed.gateway("SC").court_addr);
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (http.get(format!("{base}/v1/nowhere")), 404, "not_found"),
        (http.delete(format!("{base}/v1/inbox")), 405, "method_not_allowed"),
        (http.post(format!("{base}/v1/requests")).header("content-type", "application/json").body("{not json"), 400, "bad_request"),
        (http.post(format!("{base}/v1/requests")).body("plain text"), 400, "bad_request"),
        (http.post(format!("{base}/v1/requests")).json(&json!({"kind": "service.request"})), 400, "bad_request"),
        (http.post(format!("{base}/v1/requests")).header("Idempotency-Key", "divorce-1").json(&json!({"kind": "divorce.request", "recipientCourt": "CQ0103", "payload": {}})), 400, "bad_request"),
        (http.get(format!("{base}/v1/requests/not-an-id")), 404, "not_found"),
        (http.get(format!("{base}/v1/inbox?after=abc")), 400, "bad_request"),
        (
            http.post(format!("{base}/v1/requests"))
                .header("Idempotency-Key", "too-large-1")
                .json(&json!({"kind": "service.request", "recipientCourt": "CQ0103", "payload": {"note": "x".repeat(300_000)}})),
            413,
            "payload_too_large",
        ),
    ];
    for (req, status, code) in cases {
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), status);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], code, "{body}");
        assert!(!body["detail"].as_str().unwrap().is_empty());
    }
    // Submitting to a court of one's own region is refused with a reason.
    let p = problem(
        t.court("SC0104")
            .submit(&submission("service.request", "SC01"), None)
            .await,
    );
    assert!(
        p.is(Code::BadRequest) && p.detail.contains("own region"),
        "{p}"
    );
    let log = t
        .fed
        .gateway("SC")
        .gateway
        .store
        .audit_entries(0, 100)
        .await
        .unwrap();
    assert!(
        log.iter().all(|e| e.action.starts_with("agreement.")),
        "no refusal left anything stored: {log:?}"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn an_asset_owned_by_no_respondent_of_the_order_is_refused_on_both_gateways() {
    let t = TestFed::start().await;
    let mut order = submission("preservation.request", "CQ01");
    assert_eq!(order.payload["respondents"].as_array().unwrap().len(), 2);
    order.payload["assets"][1]["ownerIndex"] = json!(2);
    let p = problem(t.court("SC01").submit(&order, None).await);
    assert!(p.is(Code::SchemaViolation), "{p}");
    assert_eq!(
        (p.errors[0].pointer.as_str(), p.errors[0].keyword.as_str()),
        ("/assets/1/ownerIndex", "ownerIndex"),
        "{p}"
    );
    // A peer that let it through meets the same refusal.
    let e = t.envelope("preservation.request", "SC01", "CQ01", order.payload);
    let (status, body) = t.relay_as("SC", "CQ", e).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("schema_violation")),
        "{body}"
    );
    t.shutdown().await;
}
