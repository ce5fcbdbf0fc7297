//! Every kind of work goes from Sichuan to Chongqing and its result comes back;
//! a preservation order also goes the other way.

use kuayu::api::UpdateSubmission;
use kuayu::demo::court::answers;
use kuayu::ids::{Family, MessageKind};
use kuayu::receipt::{Hop, Receipt};
use serde_json::Value;

use crate::support::*;

/// Runs one journey end to end and checks every hop.
async fn journey(family: Family, from: &str, to: &str) {
    let t = TestFed::start().await;
    let (requester, executor) = (t.court(from), t.court(to));
    let kind = MessageKind::request_of(family);
    let accepted = submit(&requester, &submission(kind.as_str(), to)).await;
    assert_eq!(accepted.state, "submitted");
    assert_eq!(accepted.receipt.hop, Hop::Submission);

    reaches(&requester, accepted.request_id, "relayed").await;
    // The executing court finds it in its inbox, with a retrieval receipt.
    let page = executor.inbox(0, 50).await.unwrap();
    let item = page
        .items
        .iter()
        .find(|i| i.request_id == accepted.request_id)
        .expect("request in the inbox");
    assert_eq!(item.kind, kind);
    assert_eq!(item.receipt.as_ref().map(|r| r.hop), Some(Hop::Retrieval));
    assert_eq!(
        item.envelope_value().unwrap()["payload"],
        submission(kind.as_str(), to).payload,
        "payload arrives unchanged"
    );

    // The demo court tries SMS for a service and falls back to the post (see fallback.rs);
    // here the service is certified straight away.
    let request = submission(kind.as_str(), to).payload;
    let mut answers = answers(family, &request);
    if family == Family::Service {
        answers.truncate(1);
        answers.push((
            MessageKind::parse("service.result").unwrap(),
            valid("service-result"),
        ));
    }
    assert!(answers.len() >= 2, "a status and a result");
    for (kind, payload) in &answers {
        let update = UpdateSubmission {
            kind: kind.clone(),
            schema_version: None,
            payload: payload.clone(),
            attachments: vec![],
        };
        executor
            .update(accepted.request_id, &update)
            .await
            .expect("update accepted");
    }
    let view = reaches(&requester, accepted.request_id, "completed").await;

    // The result is in the requesting court's inbox, as sent.
    let results = eventually("results in the requester's inbox", || async {
        let page = requester.inbox(0, 50).await.ok()?;
        let got: Vec<_> = page
            .items
            .into_iter()
            .filter(|i| i.request_id == accepted.request_id)
            .collect();
        (got.len() == answers.len()).then_some(got)
    })
    .await;
    assert_eq!(
        results.last().unwrap().envelope_value().unwrap()["payload"],
        answers.last().unwrap().1
    );

    // Every receipt on both sides verifies with its issuer's key from the agreement.
    let executor_view = executor.request(accepted.request_id).await.unwrap();
    let mut receipts: Vec<Receipt> = Vec::new();
    for v in [&view, &executor_view] {
        for r in v["receipts"].as_array().unwrap() {
            receipts.push(serde_json::from_value(r.clone()).unwrap());
        }
    }
    for r in &receipts {
        let key = t.fed.agreement.terms.party(&r.issuer).unwrap().message_key;
        assert!(r.verify(&key), "receipt {r:?} verifies");
    }
    for hop in [Hop::Submission, Hop::Relay, Hop::Retrieval] {
        assert!(
            receipts
                .iter()
                .any(|r| r.hop == hop && r.message_id == accepted.request_id),
            "{hop:?} receipt of the request"
        );
    }
    let states: Vec<&str> = executor_view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap())
        .collect();
    assert_eq!(&states[..2], ["received", "retrieved"]);
    assert_eq!(states.last(), Some(&"completed"));
    let messages: Vec<&Value> = view["messages"].as_array().unwrap().iter().collect();
    assert_eq!(
        messages.len(),
        1 + answers.len(),
        "the request and each update, once"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn a_service_request_goes_sc_to_cq_and_its_certificate_comes_back() {
    journey(Family::Service, "SC0104", "CQ0103").await;
}

#[tokio::test]
async fn a_printing_request_goes_sc_to_cq_and_its_postal_events_come_back() {
    journey(Family::Printing, "SC0104", "CQ0103").await;
}

#[tokio::test]
async fn an_evidence_request_goes_sc_to_cq_and_its_result_comes_back() {
    journey(Family::Evidence, "SC01", "CQ01").await;
}

#[tokio::test]
async fn a_preservation_order_goes_sc_to_cq_and_its_result_comes_back() {
    journey(Family::Preservation, "SC01", "CQ01").await;
}

#[tokio::test]
async fn a_preservation_order_goes_cq_to_sc_and_its_result_comes_back() {
    journey(Family::Preservation, "CQ01", "SC01").await;
}

#[tokio::test]
async fn preservation_orders_travel_with_high_priority() {
    let t = TestFed::start().await;
    let a = submit(
        &t.court("SC01"),
        &submission("preservation.request", "CQ01"),
    )
    .await;
    let view = t.court("SC01").request(a.request_id).await.unwrap();
    assert_eq!(view["messages"][0]["envelope"]["priority"], "high");
    let b = submit(&t.court("SC01"), &submission("evidence.request", "CQ01")).await;
    let view = t.court("SC01").request(b.request_id).await.unwrap();
    assert_eq!(view["messages"][0]["envelope"]["priority"], "normal");
    t.shutdown().await;
}
