//! Retrieval evidence returns to the sender: the executing gateway's signed retrieval
//! receipt of a request travels back to the requesting gateway (the court read its feed),
//! and the requesting gateway's receipts of each update travel back the other way (the
//! court took them from its work queue and acknowledged them). The federation route
//! refuses a receipt that is forged, for another message, with another digest, or from a
//! gateway that is not its issuer; the same receipt twice is kept once.

use kuayu::crypto::SigningKey;
use kuayu::ids::{MessageId, RegionId};
use kuayu::receipt::{Hop, Receipt};
use serde_json::{Value, json};

use crate::support::*;

/// The receipts of `hop` for `message` in a request view.
fn receipts_of(view: &Value, message: &str, hop: &str) -> Vec<Receipt> {
    view["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["messageId"] == message && r["hop"] == hop)
        .map(|r| serde_json::from_value(r.clone()).unwrap())
        .collect()
}

/// The digest a request view gives for `message`.
pub(crate) fn digest_of(view: &Value, message: &str) -> String {
    view["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == message)
        .unwrap()["envelopeSha256"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_requesting_court_reads_the_retrieval_receipts_of_its_request_and_the_executor_those_of_each_update()
 {
    let t = TestFed::start().await;
    let (requester, executor) = (t.court("SC0104"), t.court("CQ0103"));
    let key = |r: &str| {
        t.fed
            .agreement
            .terms
            .party(&RegionId::parse(r).unwrap())
            .unwrap()
            .message_key
    };
    let id = submit(&requester, &submission("service.request", "CQ0103"))
        .await
        .request_id;
    reaches(&requester, id, "relayed").await;
    executor.inbox(0, 50).await.unwrap();

    // CQ's retrieval receipt of the request reaches SC, and verifies there.
    let request = id.to_string();
    let view = eventually("CQ's retrieval receipt at SC", || async {
        let view = requester.request(id).await.ok()?;
        (!receipts_of(&view, &request, "retrieval").is_empty()).then_some(view)
    })
    .await;
    let retrieval = &receipts_of(&view, &request, "retrieval")[0];
    assert_eq!(retrieval.issuer.as_str(), "CQ");
    assert_eq!(retrieval.court.as_ref().map(|c| c.as_str()), Some("CQ0103"));
    assert_eq!(
        retrieval.envelope_sha256.to_string(),
        digest_of(&view, &request)
    );
    assert!(retrieval.verify(&key("CQ")), "signed by CQ's message key");
    for hop in ["submission", "relay", "retrieval"] {
        assert_eq!(
            receipts_of(&view, &request, hop).len(),
            1,
            "one {hop} receipt"
        );
    }

    // Two updates come back; SC's court takes them from its work queue.
    accept(&executor, id, "service").await;
    executor
        .update(id, &update("service.result", valid("service-result")))
        .await
        .unwrap();
    reaches(&requester, id, "completed").await;
    let taken = eventually("both updates in SC0104's work queue", || async {
        let page = requester.lease_work(50, None).await.ok()?;
        let items: Vec<_> = page
            .items
            .into_iter()
            .filter(|i| i.request_id == id)
            .collect();
        (items.len() == 2).then_some(items)
    })
    .await;
    let cursors: Vec<i64> = taken.iter().map(|i| i.cursor).collect();
    requester.acknowledge(&cursors).await.unwrap();

    // Each update's retrieval receipt, SC's, reaches CQ; SC holds its relay and retrieval.
    let updates: Vec<String> = taken.iter().map(|i| i.message_id.to_string()).collect();
    let executor_view = eventually("SC's retrieval receipts at CQ", || async {
        let view = executor.request(id).await.ok()?;
        updates
            .iter()
            .all(|u| !receipts_of(&view, u, "retrieval").is_empty())
            .then_some(view)
    })
    .await;
    let requester_view = requester.request(id).await.unwrap();
    for u in &updates {
        let r = &receipts_of(&executor_view, u, "retrieval")[0];
        assert_eq!(r.issuer.as_str(), "SC");
        assert_eq!(r.court.as_ref().map(|c| c.as_str()), Some("SC0104"));
        assert_eq!(r.envelope_sha256.to_string(), digest_of(&executor_view, u));
        assert!(r.verify(&key("SC")));
        // (An update's submission receipt is CQ's answer to its own court.)
        for hop in ["relay", "retrieval"] {
            assert_eq!(
                receipts_of(&requester_view, u, hop).len(),
                1,
                "SC holds the {hop} receipt of update {u}"
            );
        }
    }
    // The receipt carried back is audited where it arrived, and is in SC's bundle.
    let audit = t.audit_log("SC").await;
    assert!(audit.iter().any(|e| e.action == "receipt.received"
        && e.subject == request
        && e.actor == "gateway:CQ"));
    let (_, bundle) = t
        .raw("SC0104")
        .get(&format!("/v1/requests/{id}/bundle"))
        .await;
    assert!(
        bundle["receipts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["hop"] == "retrieval" && r["issuer"] == "CQ"),
        "the bundle carries CQ's retrieval receipt"
    );
    t.shutdown().await;
}

/// CQ's message key, which signs its receipts.
pub(crate) fn cq_key(t: &TestFed) -> SigningKey {
    let cq = RegionId::parse("CQ").unwrap();
    SigningKey::from_pem(&t.fed.pki.pem(&cq, "message-key.pem").unwrap()).unwrap()
}

/// `r` signed with `key` as a receipt is (docs/SIGNATURES.md).
pub(crate) fn sign(mut r: Value, key: &SigningKey) -> Value {
    r.as_object_mut().unwrap().remove("signature");
    let sig = key.sign(&kuayu::crypto::canonical(&r).unwrap());
    r["signature"] = json!(sig.to_string());
    r
}

/// CQ's retrieval receipt of `message` with `digest` by `court`, unsigned.
pub(crate) fn receipt(message: &str, digest: &str, court: &str) -> Value {
    json!({"hop": "retrieval", "messageId": message, "envelopeSha256": digest,
           "issuer": "CQ", "court": court, "at": "2026-11-25T16:00:05+08:00"})
}

#[tokio::test]
async fn the_receipts_route_takes_only_the_issuers_genuine_receipt_of_a_message_sent_to_it() {
    let t = TestFed::start().await;
    let requester = t.court("SC0104");
    let id = submit(&requester, &submission("service.request", "CQ0103"))
        .await
        .request_id;
    let view = reaches(&requester, id, "relayed").await;
    let digest = digest_of(&view, &id.to_string());
    let cq_key = cq_key(&t);
    let url = format!(
        "https://{}/federation/v1/receipts",
        t.fed.gateway("SC").federation_addr
    );
    let as_cq = t.as_gateway("CQ", "SC");
    let genuine = sign(receipt(&id.to_string(), &digest, "CQ0103"), &cq_key);

    let refused = [
        (
            "signed with another key",
            sign(
                receipt(&id.to_string(), &digest, "CQ0103"),
                &SigningKey::generate(),
            ),
            400,
            "bad_signature",
        ),
        (
            "another digest",
            sign(receipt(&id.to_string(), &"0".repeat(64), "CQ0103"), &cq_key),
            409,
            "conflict",
        ),
        (
            "a message SC never sent",
            sign(
                receipt(&MessageId::new().to_string(), &digest, "CQ0103"),
                &cq_key,
            ),
            404,
            "not_found",
        ),
        (
            "another court",
            sign(receipt(&id.to_string(), &digest, "CQ01"), &cq_key),
            400,
            "bad_request",
        ),
    ];
    for (what, body, status, code) in refused {
        let (got, problem) = post_raw(&as_cq, &url, &body).await;
        assert_eq!(
            (got, problem["code"].as_str()),
            (status, Some(code)),
            "{what}: {problem}"
        );
    }
    // A gateway carries only its own receipts: CQ cannot pass one off as SC's.
    let mut as_sc = receipt(&id.to_string(), &digest, "CQ0103");
    as_sc["issuer"] = json!("SC");
    let (got, problem) = post_raw(&as_cq, &url, &sign(as_sc, &cq_key)).await;
    assert_eq!(
        (got, problem["code"].as_str()),
        (403, Some("identity_mismatch")),
        "{problem}"
    );
    let before = requester.request(id).await.unwrap();
    assert!(
        receipts_of(&before, &id.to_string(), "retrieval").is_empty(),
        "nothing kept"
    );

    // The genuine receipt is kept once, exactly as signed.
    let (got, answer) = post_raw(&as_cq, &url, &genuine).await;
    assert_eq!((got, &answer["stored"]), (200, &json!(true)), "{answer}");
    let (got, answer) = post_raw(&as_cq, &url, &genuine).await;
    assert_eq!((got, &answer["stored"]), (200, &json!(false)), "{answer}");
    let view = requester.request(id).await.unwrap();
    let kept: Vec<&Value> = view["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["hop"] == Hop::Retrieval.as_str())
        .collect();
    assert_eq!(
        kept,
        [&genuine],
        "kept once, with its +08:00 time as signed"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn the_batch_route_answers_each_receipt_on_its_own_and_keeps_those_that_pass() {
    let t = TestFed::start().await;
    let requester = t.court("SC0104");
    let mut sent = Vec::new();
    for _ in 0..2 {
        let id = submit(&requester, &submission("service.request", "CQ0103"))
            .await
            .request_id;
        let view = reaches(&requester, id, "relayed").await;
        sent.push((id.to_string(), digest_of(&view, &id.to_string())));
    }
    let key = cq_key(&t);
    let genuine: Vec<Value> = sent
        .iter()
        .map(|(id, digest)| sign(receipt(id, digest, "CQ0103"), &key))
        .collect();
    let forged = sign(
        receipt(&sent[0].0, &sent[0].1, "CQ0103"),
        &SigningKey::generate(),
    );
    let unknown = sign(
        receipt(&MessageId::new().to_string(), &sent[0].1, "CQ0103"),
        &key,
    );
    let mut as_sc = receipt(&sent[1].0, &sent[1].1, "CQ0103");
    as_sc["issuer"] = json!("SC");
    let as_sc = sign(as_sc, &key);
    let url = format!(
        "https://{}/federation/v1/receipts/batch",
        t.fed.gateway("SC").federation_addr
    );
    let as_cq = t.as_gateway("CQ", "SC");
    let batch = |receipts: &[&Value]| json!({"receipts": receipts.iter().map(|r| json!({"receipt": r})).collect::<Vec<_>>()});

    let body = batch(&[&forged, &genuine[0], &unknown, &as_sc, &genuine[1]]);
    let (got, answer) = post_raw(&as_cq, &url, &body).await;
    assert_eq!(got, 200, "{answer}");
    let results = answer["results"].as_array().unwrap();
    let codes: Vec<Option<&str>> = results
        .iter()
        .map(|r| r["problem"]["code"].as_str())
        .collect();
    assert_eq!(
        codes,
        [
            Some("bad_signature"),
            None,
            Some("not_found"),
            Some("identity_mismatch"),
            None
        ],
        "{answer}"
    );
    assert_eq!(results[0]["problem"]["status"], 400);
    assert_eq!(results[2]["problem"]["status"], 404);
    for (place, (id, _)) in [(1, &sent[0]), (4, &sent[1])] {
        assert_eq!(
            results[place],
            json!({"messageId": id, "hop": "retrieval", "stored": true}),
            "{answer}"
        );
    }
    // Each genuine receipt is kept once, exactly as signed, beside the refused ones.
    for ((id, _), genuine) in sent.iter().zip(&genuine) {
        let view = requester
            .request(kuayu::ids::MessageId::parse(id).unwrap())
            .await
            .unwrap();
        let kept: Vec<&Value> = view["receipts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["hop"] == "retrieval")
            .collect();
        assert_eq!(kept, [genuine]);
    }
    let audit = t.audit_log("SC").await;
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "receipt.received")
            .count(),
        2,
        "one audit entry per receipt kept"
    );

    // Sent again, the genuine one is held already; the batch's bounds are checked.
    let (got, answer) = post_raw(&as_cq, &url, &batch(&[&genuine[0]])).await;
    assert_eq!(
        (got, &answer["results"][0]["stored"]),
        (200, &json!(false)),
        "{answer}"
    );
    let too_many: Vec<&Value> = std::iter::repeat_n(&genuine[0], 65).collect();
    for (what, body) in [
        ("no receipt", batch(&[])),
        ("65 receipts", batch(&too_many)),
        ("a receipt, not a batch", genuine[0].clone()),
        (
            "an item that is not a receipt",
            batch(&[&genuine[0], &json!({"not": "a receipt"})]),
        ),
    ] {
        let (got, problem) = post_raw(&as_cq, &url, &body).await;
        assert_eq!(
            (got, problem["code"].as_str()),
            (400, Some("bad_request")),
            "{what}: {problem}"
        );
    }
    t.shutdown().await;
}
