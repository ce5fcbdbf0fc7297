//! `POST /federation/v1/messages/batch`: each message is checked and committed as the
//! single route does it and answered on its own, in order; a refused one leaves the
//! others as they are. Only a body that is not a batch is refused whole.

use serde_json::{Value, json};

use crate::support::*;

fn batch_url(t: &TestFed) -> String {
    format!("{}/batch", t.federation_url("CQ"))
}

/// A fresh service request from SC0104 to CQ0103, sealed by Sichuan's gateway.
fn sealed(t: &TestFed) -> Value {
    let e = t.envelope(
        "service.request",
        "SC0104",
        "CQ0103",
        valid("service-request"),
    );
    t.seal(e, "SC")
}

async fn inbox_ids(t: &TestFed) -> Vec<String> {
    let inbox = t.court("CQ0103").inbox(0, 50).await.unwrap();
    let mut ids: Vec<String> = inbox
        .items
        .iter()
        .map(|i| i.message_id.to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_batch_commits_each_good_message_and_answers_the_bad_one_with_its_own_problem() {
    let t = TestFed::start().await;
    let (first, last) = (sealed(&t), sealed(&t));
    // Changed after it was sealed: its signature no longer covers what it says.
    let mut forged = sealed(&t);
    forged["payload"]["case"]["number"] = json!("(2025)川0104民初1号");
    let body = json!({"messages": [
        {"envelope": first, "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        {"envelope": forged},
        {"envelope": last},
    ]});
    let client = t.as_gateway("SC", "CQ");
    let (status, answer) = post_raw(&client, &batch_url(&t), &body).await;
    assert_eq!(status, 200, "{answer}");
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), 3, "{answer}");
    for (place, sent) in [(0, &first), (2, &last)] {
        assert_eq!(results[place]["receipt"]["hop"], "relay", "{answer}");
        assert_eq!(results[place]["receipt"]["messageId"], sent["id"]);
        assert_eq!(results[place]["receipt"]["issuer"], "CQ");
    }
    let problem = &results[1]["problem"];
    assert_eq!(
        (problem["status"].as_u64(), problem["code"].as_str()),
        (Some(400), Some("bad_signature")),
        "{answer}"
    );
    assert!(problem["detail"].as_str().is_some_and(|d| d.len() > 10));
    // The two good ones reached the court; the forged one did not.
    let mut want = vec![
        first["id"].as_str().unwrap().to_owned(),
        last["id"].as_str().unwrap().to_owned(),
    ];
    want.sort();
    assert_eq!(inbox_ids(&t).await, want);

    // The same batch again: the same receipts, the same refusal, still one copy each.
    let (status, again) = post_raw(&client, &batch_url(&t), &body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["results"][0], answer["results"][0]);
    assert_eq!(again["results"][2], answer["results"][2]);
    assert_eq!(again["results"][1]["problem"]["code"], "bad_signature");
    assert_eq!(inbox_ids(&t).await, want);
    t.shutdown().await;
}

#[tokio::test]
async fn a_body_that_is_not_a_batch_is_refused_whole_and_nothing_of_it_is_stored() {
    let t = TestFed::start().await;
    let client = t.as_gateway("SC", "CQ");
    let one = sealed(&t);
    let many: Vec<Value> = (0..65).map(|_| json!({"envelope": sealed(&t)})).collect();
    for (body, why) in [
        (json!({"messages": []}), "no message"),
        (json!({"messages": many}), "65 messages"),
        (
            json!({"messages": [one.clone()]}),
            "an item that is not {\"envelope\": …}",
        ),
        (
            json!({"messages": [{"envelope": one.clone()}, {"envelope": {"id": 1}}]}),
            "an item that is not an envelope",
        ),
        (
            json!({"messages": [{"envelope": one.clone(), "priority": 1}]}),
            "an unknown field",
        ),
        (json!([{"envelope": one}]), "not an object"),
    ] {
        let (status, answer) = post_raw(&client, &batch_url(&t), &body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("bad_request")),
            "{why}: {answer}"
        );
        assert!(
            answer["detail"].as_str().is_some_and(|d| d.len() > 10),
            "{why}: {answer}"
        );
    }
    assert!(inbox_ids(&t).await.is_empty());
    t.shutdown().await;
}
