//! Several addressees on one service request: each is served, falls back to the post and
//! is certified on its own; the request completes when every addressee is served or
//! finally not served, and the requesting court sees where each one stands.

use kuayu::demo::court::fixture_of;
use kuayu::problem::Code;
use serde_json::{Value, json};

use crate::support::*;

fn states(view: &Value) -> Vec<(String, String)> {
    view["addressees"]
        .as_array()
        .expect("a service request lists its addressees")
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_owned(),
                a["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// Waits until `court` sees request `id` in `state` with its addressees as `want`.
async fn settles(
    court: &kuayu::client::CourtClient,
    id: kuayu::ids::MessageId,
    state: &str,
    want: &[(&str, &str)],
) -> Value {
    let want = pairs(want);
    eventually(&format!("{state} with addressees {want:?}"), || async {
        let view = court.request(id).await.ok()?;
        (view["state"] == state && states(&view) == want).then_some(view)
    })
    .await
}

#[tokio::test]
async fn three_addressees_electronic_postal_and_returned_complete_with_three_certificates() {
    let t = TestFed::start().await;
    let (sc, cq) = (t.court("SC01"), t.court("CQ0103"));
    let centre = t.fed.print_centre_client("CQ01-PC1").unwrap();
    let (zhang, company, liu) = ("张丽华", "重庆山城建材有限公司", "刘德胜");
    let mut request = submission("service.request", "CQ0103");
    request.payload = fixture_of("service-request", 3, |d| {
        d["addressees"].as_array().unwrap().len() == 3
    })
    .unwrap();
    let id = submit(&sc, &request).await.request_id;
    reaches(&sc, id, "relayed").await;
    accept(&cq, id, "service").await;
    settles(
        &sc,
        id,
        "accepted",
        &[(zhang, "pending"), (company, "pending"), (liu, "pending")],
    )
    .await;

    // 张丽华 is served by WeChat, at the address she confirmed.
    let wechat = json!({"addresseeName": zhang, "channel": "wechat", "address": "zhanglihua_cq86",
        "addressConfirmed": true, "outcome": "read", "at": "2026-11-26T09:20:00+08:00",
        "sentAt": "2026-11-26T09:14:05+08:00", "deliveredAt": "2026-11-26T09:14:07+08:00"});
    cq.update(id, &update("service.attempt", wechat))
        .await
        .unwrap();
    let served = json!({"addresseeName": zhang, "status": "served", "servedAt": "2026-11-26T09:14:07+08:00",
        "method": "wechat", "effect": "served", "documentsServed": ["appeal-2207", "hearing-2207"],
        "channelEvidence": {"sender": "12368", "receiver": "zhanglihua_cq86",
            "sentAt": "2026-11-26T09:14:05+08:00", "deliveredAt": "2026-11-26T09:14:07+08:00"}});
    cq.update(id, &update("service.result", served.clone()))
        .await
        .unwrap();
    // One certificate of three: the request stays open, on both sides.
    assert_eq!(cq.request(id).await.unwrap()["state"], "serving");
    settles(
        &sc,
        id,
        "serving",
        &[(zhang, "served"), (company, "pending"), (liu, "pending")],
    )
    .await;
    let p = problem(cq.update(id, &update("service.result", served)).await);
    assert!(
        p.is(Code::IllegalTransition) && p.detail.contains(zhang),
        "a second certificate for the same addressee: {p}"
    );
    let mut stranger = json!({"addresseeName": "王建国", "channel": "sms", "address": "13908312456",
        "outcome": "sent", "at": "2026-11-26T09:30:00+08:00"});
    let p = problem(
        cq.update(id, &update("service.attempt", stranger.clone()))
            .await,
    );
    assert!(
        p.is(Code::BadRequest) && p.detail.contains(company),
        "an addressee the request does not name: {p}"
    );

    // The company's SMS fails: it is served by post through the print centre.
    stranger["addresseeName"] = json!(company);
    stranger["address"] = json!("13608305512");
    stranger["outcome"] = json!("failed");
    stranger["reason"] = json!({"code": "undeliverable", "text": "短信发送失败：号码已停机"});
    cq.update(id, &update("service.attempt", stranger))
        .await
        .unwrap();
    let job = next_job(&centre).await;
    assert_eq!(
        (
            job["addresseeName"].as_str(),
            job["envelope"]["address"]["postcode"].as_str()
        ),
        (Some(company), Some("400015"))
    );
    let company_job = job["jobId"].as_str().unwrap().to_owned();

    // 刘德胜 never consented to electronic service: by post too.
    let no_consent = json!({"addresseeName": liu, "channel": "sms", "address": "13527718845",
        "outcome": "no_consent", "at": "2026-11-26T10:05:00+08:00",
        "reason": {"code": "no_consent", "text": "受送达人未同意电子送达"}});
    cq.update(id, &update("service.attempt", no_consent))
        .await
        .unwrap();
    let job = next_job(&centre).await;
    assert_eq!(job["addresseeName"], liu);
    let liu_job = job["jobId"].as_str().unwrap().to_owned();
    settles(
        &sc,
        id,
        "postal",
        &[(zhang, "served"), (company, "postal"), (liu, "postal")],
    )
    .await;

    // The company signs for its letter; 刘德胜's comes back: nobody there.
    report_all(
        &centre,
        &company_job,
        &[
            ("printed", json!({"pages": 6})),
            ("posted", json!({"trackingNumber": "1158472036518"})),
            (
                "delivered",
                json!({"signedBy": "周德明", "relation": "legal_representative"}),
            ),
        ],
    )
    .await;
    assert_eq!(cq.request(id).await.unwrap()["state"], "postal");
    report_all(
        &centre,
        &liu_job,
        &[
            ("printed", json!({"pages": 6})),
            ("posted", json!({"trackingNumber": "1158472036529"})),
            (
                "delivery_attempt",
                json!({"attempt": 1, "outcome": "no_one_home"}),
            ),
            (
                "delivery_attempt",
                json!({"attempt": 2, "outcome": "no_one_home"}),
            ),
            (
                "delivery_attempt",
                json!({"attempt": 3, "outcome": "no_one_home"}),
            ),
            ("returned", json!({"returnReason": "address_unknown"})),
        ],
    )
    .await;

    // Every addressee certified: the request is complete, with three certificates.
    let view = settles(
        &sc,
        id,
        "completed",
        &[(zhang, "served"), (company, "served"), (liu, "not_served")],
    )
    .await;
    let certificates: Vec<&Value> = view["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "service.result")
        .collect();
    assert_eq!(certificates.len(), 3);
    for (a, c) in view["addressees"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&certificates)
    {
        assert_eq!(a["certificate"]["messageId"], c["id"], "{a}");
        assert_eq!(
            a["certificate"]["status"],
            c["envelope"]["payload"]["status"]
        );
    }
    let methods: Vec<&str> = view["addressees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["certificate"]["method"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(methods, ["wechat", "postal", "postal"]);
    assert_eq!(
        certificates[2]["envelope"]["payload"]["reason"]["code"],
        "mail_returned"
    );
    // service.serve is met by the last certificate, not the first.
    let serve = view["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "service.serve")
        .unwrap();
    assert_eq!(serve["status"], "met");
    // The requesting court can print all three and file them with the case.
    let paper = sc.certificate(id).await.unwrap();
    for name in [zhang, company, liu, "(3 / 3)"] {
        assert!(paper.contains(name), "{name} in {paper}");
    }
    // The executing court sees the same.
    assert_eq!(
        states(&cq.request(id).await.unwrap()),
        pairs(&[(zhang, "served"), (company, "served"), (liu, "not_served")])
    );
    t.shutdown().await;
}
