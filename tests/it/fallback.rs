//! Electronic first, postal fallback: a failed electronic attempt turns a commissioned
//! service into a print job at the print centre for the addressee's area; the centre's
//! reports reach the requesting court, and delivery completes the request with a
//! certificate of service by post, with no step by the requesting court after its request.

use serde_json::json;

use crate::support::*;

const TRACKING: &str = "1158472036518";

#[tokio::test]
async fn failed_electronic_service_completes_by_post_through_the_print_centre() {
    let t = TestFed::start().await;
    // The executing court accepts and tries SMS: the addressee never consented.
    let sms = json!({"addresseeName": "王建国", "channel": "sms", "address": "13908312456",
        "outcome": "no_consent", "at": "2026-11-25T16:05:00+08:00",
        "reason": {"code": "no_consent", "text": "受送达人未同意电子送达"}});
    let (sc, cq, centre, id) = failed_once(&t, sms).await;
    reaches(&sc, id, "postal").await;
    assert!(
        problem(sc.certificate(id).await).is(kuayu::problem::Code::NotFound),
        "no certificate yet"
    );

    // The job waits in the inbox of the centre serving postcode 400010.
    let job = eventually("the print job in the centre's inbox", || async {
        let page = centre.work_queue(10).await.ok()?;
        page.items.into_iter().find_map(|i| i.notice)
    })
    .await;
    assert_eq!(job["parentRequestId"], json!(id));
    assert_eq!(job["printCentre"]["code"], "CQ01-PC1");
    assert_eq!(job["envelope"]["address"]["postcode"], "400010");
    assert_eq!(job["documents"].as_array().unwrap().len(), 4);
    let job_id = job["jobId"].as_str().unwrap().to_owned();

    // Out of order is refused: nothing can be delivered before it is posted.
    let early = centre
        .print_event(
            &job_id,
            &event(
                &job_id,
                "delivered",
                json!({"signedBy": "王建国", "relation": "self"}),
            ),
        )
        .await;
    assert!(problem(early).is(kuayu::problem::Code::IllegalTransition));
    // A court is not a print centre.
    let p = problem(
        cq.print_event(&job_id, &event(&job_id, "printed", json!({"pages": 11})))
            .await,
    );
    assert!(p.is(kuayu::problem::Code::IdentityMismatch), "{p}");

    for e in [
        event(&job_id, "printed", json!({"pages": 11})),
        event(&job_id, "posted", json!({"trackingNumber": TRACKING})),
        event(
            &job_id,
            "delivery_attempt",
            json!({"attempt": 1, "outcome": "no_one_home"}),
        ),
        event(
            &job_id,
            "delivered",
            json!({"signedBy": "王建国", "relation": "self"}),
        ),
    ] {
        centre
            .print_event(&job_id, &e)
            .await
            .unwrap_or_else(|err| panic!("{e}: {err}"));
    }
    let view = reaches(&sc, id, "completed").await;

    // The requesting court saw each step, then the certificate of service by post.
    let kinds: Vec<String> = view["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "service.request",
            "service.status",
            "service.attempt",
            "service.attempt",
            "service.attempt",
            "service.attempt",
            "service.attempt",
            "service.result"
        ]
    );
    let page = sc.inbox(0, 50).await.unwrap();
    let certificate = page
        .items
        .iter()
        .filter_map(|i| i.envelope_value())
        .find(|e| e["kind"] == "service.result")
        .expect("the certificate of service in the requesting court's inbox");
    let c = &certificate["payload"];
    assert_eq!(
        (c["status"].as_str(), c["method"].as_str()),
        (Some("served"), Some("postal"))
    );
    assert_eq!(c["postal"]["trackingNumber"], TRACKING);
    assert_eq!(c["fallbackToPostal"], true);
    assert_eq!(
        c["receivedBy"],
        json!({"name": "王建国", "relation": "self"})
    );
    assert_eq!(c["attempts"][0]["method"], "sms");
    let posted = page
        .items
        .iter()
        .filter_map(|i| i.envelope_value())
        .any(|e| e["payload"]["outcome"] == "posted" && e["payload"]["trackingNumber"] == TRACKING);
    assert!(
        posted,
        "the posting, with its tracking number, reached the requesting court"
    );

    // It can print the certificate and file it with the case.
    let paper = sc.certificate(id).await.unwrap();
    assert!(
        paper.contains("送达回证") && paper.contains(TRACKING) && paper.contains("served"),
        "{paper}"
    );
    assert!(
        paper.contains(certificate["id"].as_str().unwrap()),
        "names the signed message: {paper}"
    );

    // Its only step was the request itself.
    let steps: Vec<&str> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["actor"] == "court:SC0104" && h["event"] != "retrieved")
        .map(|h| h["event"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["submitted"]);
    t.shutdown().await;
}

#[tokio::test]
async fn mail_returned_by_the_post_completes_the_request_as_not_served() {
    let t = TestFed::start().await;
    let email = json!({"addresseeName": "王建国", "channel": "email", "address": "wang.jianguo@example.com",
        "outcome": "failed", "at": "2026-11-25T16:05:00+08:00",
        "reason": {"code": "mailbox_unreachable", "text": "the mailbox does not exist"}});
    let (sc, _cq, centre, id) = failed_once(&t, email).await;
    let job_id = job_of(&centre).await;
    report_all(
        &centre,
        &job_id,
        &[
            ("printed", json!({"pages": 11})),
            ("enveloped", json!({})),
            ("posted", json!({"trackingNumber": TRACKING})),
            (
                "returned",
                json!({"returnReason": "not_found_after_3_attempts"}),
            ),
        ],
    )
    .await;
    let view = reaches(&sc, id, "completed").await;
    let last = view["messages"].as_array().unwrap().last().unwrap();
    let c = &last["envelope"]["payload"];
    assert_eq!(last["kind"], "service.result");
    assert_eq!(
        (c["status"].as_str(), c["reason"]["code"].as_str()),
        (Some("not_served"), Some("mail_returned"))
    );
    assert_eq!(c["postal"]["trackingNumber"], TRACKING);
    // Enveloping stays inside the centre: the requesting court saw printed, posted, returned.
    let postal: Vec<&str> = view["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["envelope"]["payload"]["channel"] == "postal")
        .map(|m| m["envelope"]["payload"]["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(postal, ["printed", "posted", "returned"]);
    t.shutdown().await;
}

#[tokio::test]
async fn mail_returned_from_an_address_the_party_confirmed_counts_as_served_on_the_return_date() {
    let t = TestFed::start().await;
    let sms = json!({"addresseeName": "王建国", "channel": "sms", "address": "13908312456",
        "outcome": "failed", "at": "2026-11-25T16:05:00+08:00",
        "reason": {"code": "undeliverable", "text": "the number is out of service"}});
    let (sc, _cq, centre, id) = failed_once(&t, sms).await;
    let job_id = job_of(&centre).await;
    report_all(
        &centre,
        &job_id,
        &[
            ("printed", json!({"pages": 11})),
            ("posted", json!({"trackingNumber": TRACKING})),
            (
                "returned",
                json!({"returnReason": "refused", "addressConfirmedByParty": true}),
            ),
        ],
    )
    .await;
    let view = reaches(&sc, id, "completed").await;
    let c = &view["messages"].as_array().unwrap().last().unwrap()["envelope"]["payload"];
    assert_eq!(
        (c["status"].as_str(), c["effect"].as_str()),
        (Some("served"), Some("deemed_served"))
    );
    assert_eq!(
        c["servedAt"], "2026-11-26T10:00:00+08:00",
        "the return date"
    );
    t.shutdown().await;
}
