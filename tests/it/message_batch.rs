//! `POST /federation/v1/messages/batch`: each message is checked as the single route does
//! it and answered on its own, in order; those that pass are committed in one group
//! commit, and a refused one leaves the others as they are. Only a body that is not a
//! batch is refused whole.

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
async fn a_batch_commits_its_good_messages_in_one_group_and_answers_the_bad_one_with_its_own_problem()
 {
    const GOOD: usize = 8;
    let t = TestFed::start().await;
    let good: Vec<Value> = (0..GOOD).map(|_| sealed(&t)).collect();
    // Changed after it was sealed: its signature no longer covers what it says.
    let mut forged = sealed(&t);
    forged["payload"]["case"]["number"] = json!("(2025)川0104民初1号");
    // The forged one second, after one with its trace.
    let mut messages: Vec<Value> = good.iter().map(|e| json!({"envelope": e})).collect();
    messages[0]["traceparent"] = json!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    messages.insert(1, json!({"envelope": forged}));
    let body = json!({ "messages": messages });
    let client = t.as_gateway("SC", "CQ");
    let store = &t.fed.gateway("CQ").gateway.store;
    let (groups, units) = store.group_commits();
    let (status, answer) = post_raw(&client, &batch_url(&t), &body).await;
    assert_eq!(status, 200, "{answer}");
    // Those that passed were committed together, in one group commit.
    assert_eq!(store.group_commits(), (groups + 1, units + GOOD as u64));
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), GOOD + 1, "{answer}");
    let answered_good = results[..1].iter().chain(&results[2..]);
    for (result, sent) in answered_good.zip(&good) {
        assert_eq!(result["receipt"]["hop"], "relay", "{answer}");
        assert_eq!(result["receipt"]["messageId"], sent["id"]);
        assert_eq!(result["receipt"]["issuer"], "CQ");
    }
    let problem = &results[1]["problem"];
    assert_eq!(
        (problem["status"].as_u64(), problem["code"].as_str()),
        (Some(400), Some("bad_signature")),
        "{answer}"
    );
    assert!(problem["detail"].as_str().is_some_and(|d| d.len() > 10));
    // The good ones reached the court; the forged one did not.
    let mut want: Vec<String> = good
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    want.sort();
    assert_eq!(inbox_ids(&t).await, want);

    // The same batch again: the same receipts, the same refusal, still one copy each.
    let (status, again) = post_raw(&client, &batch_url(&t), &body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["results"][0], answer["results"][0]);
    assert_eq!(again["results"][GOOD], answer["results"][GOOD]);
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
