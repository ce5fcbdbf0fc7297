//! The receiving gateway never trusts the sender's checks: each refusal of the
//! federation API, provoked by a peer that holds real keys and certificates.

use kuayu::ids::MessageId;
use kuayu::receipt::Hop;
use serde_json::{Value, json};

use crate::support::*;

fn assert_problem(status: u16, body: &Value, want_status: u16, code: &str) {
    assert_eq!(
        (status, body["code"].as_str()),
        (want_status, Some(code)),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|d| d.len() > 10),
        "a detail a person can act on: {body}"
    );
    assert_eq!(body["type"], format!("urn:kuayu:problem:{code}"));
}

async fn cq_inbox_is_empty(t: &TestFed) {
    for court in ["CQ01", "CQ0103"] {
        assert!(
            t.court(court).inbox(0, 50).await.unwrap().items.is_empty(),
            "nothing reached {court}"
        );
    }
}

#[tokio::test]
async fn a_correct_envelope_from_a_real_peer_is_committed_and_receipted() {
    let t = TestFed::start().await;
    let e = t.envelope(
        "service.request",
        "SC0104",
        "CQ0103",
        valid("service-request"),
    );
    let id = e.id;
    let body = t.seal(e, "SC");
    let (status, answer) = t.post_as("SC", "CQ", &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["receipt"]["hop"], "relay");
    assert_eq!(answer["receipt"]["messageId"], id.to_string());
    // The same message again: the same receipt, and still one copy.
    let (status, again) = t.post_as("SC", "CQ", &body).await;
    assert_eq!((status, &again), (200, &answer));
    assert_eq!(t.court("CQ0103").inbox(0, 50).await.unwrap().items.len(), 1);
    t.shutdown().await;
}

#[tokio::test]
async fn a_client_certificate_from_a_ca_the_agreement_does_not_name_fails_the_handshake() {
    let t = TestFed::start().await;
    let rogue = t.peer_client(
        "CQ",
        &t.fed.pki.rogue("gateway-SC.crt"),
        &t.fed.pki.rogue("gateway-SC.key"),
    );
    let body = t.seal(
        t.envelope(
            "service.request",
            "SC0104",
            "CQ0103",
            valid("service-request"),
        ),
        "SC",
    );
    let err = rogue
        .post(t.federation_url("CQ"))
        .json(&body)
        .send()
        .await
        .expect_err("handshake must fail");
    let text = kuayu::client::error_text(&err);
    assert!(
        err.is_connect()
            || text.contains("certificate")
            || text.contains("handshake")
            || text.contains("alert"),
        "{text}"
    );
    cq_inbox_is_empty(&t).await;
    t.shutdown().await;
}

#[tokio::test]
async fn a_peer_with_sichuans_certificate_claiming_chongqing_gets_identity_mismatch() {
    let t = TestFed::start().await;
    let e = t.envelope(
        "preservation.request",
        "CQ01",
        "CQ0103",
        valid("preservation-request"),
    );
    let (status, body) = t.relay_as("SC", "CQ", e).await;
    assert_problem(status, &body, 403, "identity_mismatch");
    cq_inbox_is_empty(&t).await;
    t.shutdown().await;
}

#[tokio::test]
async fn a_flipped_byte_in_the_envelope_gets_bad_signature() {
    let t = TestFed::start().await;
    let e = t.envelope(
        "service.request",
        "SC0104",
        "CQ0103",
        valid("service-request"),
    );
    let text = serde_json::to_string(&t.seal(e, "SC")).unwrap();
    let case = valid("service-request")["case"]["number"]
        .as_str()
        .unwrap()
        .to_owned();
    // The first digit of the year, after the (full-width) bracket.
    let at = text.find(&case).expect("case number in the text")
        + case.find(|c: char| c.is_ascii_digit()).unwrap();
    let mut bytes = text.into_bytes();
    bytes[at] = if bytes[at] == b'2' { b'3' } else { b'2' };
    let flipped: Value = serde_json::from_slice(&bytes).expect("still JSON");
    let (status, body) = t.post_as("SC", "CQ", &flipped).await;
    assert_problem(status, &body, 400, "bad_signature");
    cq_inbox_is_empty(&t).await;
    t.shutdown().await;
}

#[tokio::test]
async fn a_kind_the_agreement_does_not_permit_in_that_direction_gets_kind_not_permitted() {
    let t = TestFed::start().await;
    // At the receiving gateway: SC may not send a service result to CQ.
    let mut e = t.envelope(
        "service.result",
        "SC0104",
        "CQ0103",
        valid("service-result"),
    );
    e.in_reply_to = Some(MessageId::new());
    let (status, body) = t.relay_as("SC", "CQ", e).await;
    assert_problem(status, &body, 403, "kind_not_permitted");
    cq_inbox_is_empty(&t).await;
    // At the sending gateway: Chongqing courts may not commission service in Sichuan.
    let p = problem(
        t.court("CQ0103")
            .submit(&submission("service.request", "SC0104"), None)
            .await,
    );
    assert!(p.is(kuayu::problem::Code::KindNotPermitted), "{p}");
    t.shutdown().await;
}

#[tokio::test]
async fn a_schema_violation_gets_schema_violation_with_the_failing_pointer() {
    let t = TestFed::start().await;
    let mut doc = valid("service-request");
    doc["case"]["number"] = json!("2024-1234");
    // At the sending gateway.
    let mut s = submission("service.request", "CQ0103");
    s.payload = doc.clone();
    let p = problem(t.court("SC0104").submit(&s, None).await);
    assert!(p.is(kuayu::problem::Code::SchemaViolation), "{p}");
    assert!(
        p.errors
            .iter()
            .any(|e| e.pointer == "/case/number" && e.keyword == "pattern"),
        "{:?}",
        p.errors
    );
    // At the receiving gateway, when a sender skips its own check.
    let e = t.envelope("service.request", "SC0104", "CQ0103", doc);
    let (status, body) = t.relay_as("SC", "CQ", e).await;
    assert_problem(status, &body, 422, "schema_violation");
    assert!(
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["pointer"] == "/case/number"),
        "{body}"
    );
    cq_inbox_is_empty(&t).await;
    t.shutdown().await;
}

#[tokio::test]
async fn an_envelope_under_other_terms_gets_agreement_mismatch_and_an_unknown_one_unknown_agreement()
 {
    let t = TestFed::start().await;
    let mut e = t.envelope(
        "service.request",
        "SC0104",
        "CQ0103",
        valid("service-request"),
    );
    e.agreement.sha256 = kuayu::ids::Sha256::digest(b"another version of the terms");
    let (status, body) = t.relay_as("SC", "CQ", e).await;
    assert_problem(status, &body, 409, "agreement_mismatch");
    let mut e = t.envelope(
        "service.request",
        "SC0104",
        "CQ0103",
        valid("service-request"),
    );
    e.agreement.id = kuayu::ids::AgreementId::parse("SC-XZ-2026").unwrap();
    let (status, body) = t.relay_as("SC", "CQ", e).await;
    assert_problem(status, &body, 422, "unknown_agreement");
    cq_inbox_is_empty(&t).await;
    t.shutdown().await;
}

#[tokio::test]
async fn an_expired_envelope_and_an_unknown_recipient_are_refused() {
    let t = TestFed::start().await;
    let mut e = t.envelope(
        "service.request",
        "SC0104",
        "CQ0103",
        valid("service-request"),
    );
    e.expires_at = e.created_at - time::Duration::minutes(1);
    let (status, body) = t.relay_as("SC", "CQ", e).await;
    assert_problem(status, &body, 422, "expired");
    let e = t.envelope(
        "service.request",
        "SC0104",
        "CQ0199",
        valid("service-request"),
    );
    let (status, body) = t.relay_as("SC", "CQ", e).await;
    assert_problem(status, &body, 422, "unknown_recipient");
    t.shutdown().await;
}

#[tokio::test]
async fn the_same_message_id_with_other_content_is_a_conflict() {
    let t = TestFed::start().await;
    let e = t.envelope(
        "service.request",
        "SC0104",
        "CQ0103",
        valid("service-request"),
    );
    let mut other = e.clone();
    other.payload["urgency"] = json!("URGENT");
    let (status, first) = t.relay_as("SC", "CQ", e).await;
    assert_eq!(status, 200);
    assert_eq!(first["receipt"]["hop"], Hop::Relay.as_str());
    let (status, body) = t.relay_as("SC", "CQ", other).await;
    assert_problem(status, &body, 409, "conflict");
    t.shutdown().await;
}

#[tokio::test]
async fn an_update_to_a_finished_request_is_refused_by_the_receiver_too() {
    let t = TestFed::start().await;
    let sc = t.court("SC0104");
    let a = submit(&sc, &submission("service.request", "CQ0103")).await;
    reaches(&sc, a.request_id, "relayed").await;
    let result = kuayu::api::UpdateSubmission {
        kind: kuayu::ids::MessageKind::parse("service.result").unwrap(),
        schema_version: None,
        payload: valid("service-result"),
        attachments: vec![],
    };
    accept(&t.court("CQ0103"), a.request_id, "service").await;
    t.court("CQ0103")
        .update(a.request_id, &result)
        .await
        .unwrap();
    reaches(&sc, a.request_id, "completed").await;
    // Chongqing's gateway would refuse a second result itself; a peer that skips the check
    // meets the same refusal at Sichuan.
    let mut late = t.envelope(
        "service.status",
        "CQ0103",
        "SC0104",
        json!({"status": "accepted", "at": "2026-11-25T09:00:00Z"}),
    );
    late.in_reply_to = Some(a.request_id);
    let (status, body) = t.relay_as("CQ", "SC", late).await;
    assert_problem(status, &body, 409, "illegal_transition");
    assert_eq!(
        sc.request(a.request_id).await.unwrap()["state"],
        "completed"
    );
    t.shutdown().await;
}
