//! Every lifecycle through its legal paths, and illegal steps refused on both gateways:
//! by the executing court's gateway, and by the requesting court's gateway when a peer
//! lets one through.

use kuayu::ids::MessageId;
use kuayu::schema::embedded_fixtures;
use serde_json::{Value, json};

use crate::support::*;

fn doc(schema: &str, name: &str) -> Value {
    embedded_fixtures()
        .find(|f| f.schema == schema && f.valid && f.name == name)
        .unwrap()
        .document()
        .unwrap()
}

/// A service-attempt fixture for the addressee of the service request the tests submit.
fn addressed(name: &str) -> Value {
    let mut d = doc("service-attempt", name);
    d["addresseeName"] = json!("王建国");
    d
}

/// A certificate-of-service fixture for that addressee.
fn certificate(name: &str) -> Value {
    let mut d = doc("service-result", name);
    d["addresseeName"] = json!("王建国");
    d
}

fn status(s: &str) -> Value {
    json!({"status": s, "at": "2026-11-25T09:00:00Z", "reason": {"code": "test", "text": "a reason a clerk gives"}})
}

/// One step: the update, and the state both gateways must show after it.
type Steps = Vec<(&'static str, Value, &'static str)>;

/// Opens a request of `family` and walks it through `steps`, checking both sides each time.
async fn walk(t: &TestFed, family: &str, from: &str, to: &str, steps: Steps) -> MessageId {
    let (requester, executor) = (t.court(from), t.court(to));
    let id = submit(&requester, &submission(&format!("{family}.request"), to))
        .await
        .request_id;
    reaches(&requester, id, "relayed").await;
    for (kind, payload, want) in steps {
        executor
            .update(id, &update(kind, payload))
            .await
            .unwrap_or_else(|e| panic!("{kind} towards {want}: {e}"));
        assert_eq!(
            executor.request(id).await.unwrap()["state"],
            want,
            "executing side after {kind}"
        );
        reaches(&requester, id, want).await;
    }
    let history = requester.request(id).await.unwrap()["history"].clone();
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["actor"].is_string() && h["at"].is_string()),
        "who and when, each step"
    );
    id
}

/// The executing gateway refuses `kind`; a peer that sends it anyway meets the same refusal.
async fn refused_both_sides(
    t: &TestFed,
    id: MessageId,
    from: &str,
    to: &str,
    kind: &str,
    payload: Value,
    allowed: &[&str],
) {
    let p = problem(t.court(to).update(id, &update(kind, payload.clone())).await);
    assert!(p.is(kuayu::problem::Code::IllegalTransition), "{p}");
    assert_eq!(p.allowed, allowed, "{p}");
    let mut e = t.envelope(kind, to, from, payload);
    e.in_reply_to = Some(id);
    let (status, body) = t.relay_as("CQ", "SC", e).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("illegal_transition")),
        "{body}"
    );
}

#[tokio::test]
async fn commissioned_service_accepted_then_certified_or_refused() {
    let t = TestFed::start().await;
    walk(
        &t,
        "service",
        "SC0104",
        "CQ0103",
        vec![
            ("service.status", status("received"), "acknowledged"),
            ("service.status", status("accepted"), "accepted"),
            ("service.status", status("in_progress"), "accepted"),
            (
                "service.result",
                certificate("03-served-court-express.json"),
                "completed",
            ),
        ],
    )
    .await;
    walk(
        &t,
        "service",
        "SC0104",
        "CQ0103",
        vec![("service.status", status("refused"), "refused")],
    )
    .await;
    let id = walk(
        &t,
        "service",
        "SC0104",
        "CQ0103",
        vec![("service.status", status("accepted"), "accepted")],
    )
    .await;
    walk_more(&t, id, "service.status", status("returned"), "returned").await;
    // Electronic service that succeeds; and one that fails over to the post, whose steps
    // keep it in postal service until the certificate.
    walk(
        &t,
        "service",
        "SC0104",
        "CQ0103",
        vec![
            ("service.status", status("accepted"), "accepted"),
            (
                "service.attempt",
                doc("service-attempt", "01-sms-delivered-and-read.json"),
                "serving",
            ),
            (
                "service.result",
                certificate("01-served-sms.json"),
                "completed",
            ),
        ],
    )
    .await;
    let postal = walk(
        &t,
        "service",
        "SC0104",
        "CQ0103",
        vec![
            ("service.status", status("accepted"), "accepted"),
            (
                "service.attempt",
                addressed("03-email-failed.json"),
                "postal",
            ),
            (
                "service.attempt",
                addressed("04-postal-posted.json"),
                "postal",
            ),
            (
                "service.attempt",
                addressed("05-postal-delivered.json"),
                "postal",
            ),
            (
                "service.result",
                certificate("03-served-court-express.json"),
                "completed",
            ),
        ],
    )
    .await;
    // Postal steps before any fallback, and an electronic attempt once it is postal.
    let accepted = walk(
        &t,
        "service",
        "SC0104",
        "CQ0103",
        vec![("service.status", status("accepted"), "accepted")],
    )
    .await;
    refused_both_sides(
        &t,
        accepted,
        "SC0104",
        "CQ0103",
        "service.attempt",
        addressed("04-postal-posted.json"),
        &[
            "attempt",
            "postal_fallback",
            "in_progress",
            "result",
            "refused",
            "returned",
        ],
    )
    .await;
    let _ = postal;
    // A certificate before anyone accepted the request, and anything after it is finished.
    let open = walk(&t, "service", "SC0104", "CQ0103", vec![]).await;
    refused_both_sides(
        &t,
        open,
        "SC0104",
        "CQ0103",
        "service.result",
        certificate("01-served-sms.json"),
        &["acknowledged", "accepted", "refused", "returned"],
    )
    .await;
    refused_both_sides(
        &t,
        id,
        "SC0104",
        "CQ0103",
        "service.status",
        status("accepted"),
        &[],
    )
    .await;
    t.shutdown().await;
}

async fn walk_more(t: &TestFed, id: MessageId, kind: &str, payload: Value, want: &str) {
    t.court("CQ0103")
        .update(id, &update(kind, payload))
        .await
        .unwrap();
    reaches(&t.court("SC0104"), id, want).await;
}

#[tokio::test]
async fn remote_printing_from_acceptance_to_delivery_or_return_by_the_post() {
    let t = TestFed::start().await;
    let e = |name| doc("printing-event", name);
    walk(
        &t,
        "printing",
        "SC0104",
        "CQ0103",
        vec![
            ("printing.status", status("accepted"), "accepted"),
            ("printing.event", e("01-printed.json"), "printed"),
            ("printing.event", e("02-enveloped.json"), "enveloped"),
            (
                "printing.event",
                e("03-posted-court-express.json"),
                "posted",
            ),
            (
                "printing.event",
                e("04-delivery-attempt-no-one-home.json"),
                "in_delivery",
            ),
            (
                "printing.event",
                e("05-delivered-to-legal-representative.json"),
                "completed",
            ),
            (
                "printing.event",
                e("07-return-receipt-scanned.json"),
                "completed",
            ),
        ],
    )
    .await;
    let returned = walk(
        &t,
        "printing",
        "SC0104",
        "CQ0103",
        vec![
            ("printing.event", e("01-printed.json"), "printed"),
            (
                "printing.event",
                e("03-posted-court-express.json"),
                "posted",
            ),
            (
                "printing.event",
                e("06-returned-after-three-attempts.json"),
                "mail_returned",
            ),
        ],
    )
    .await;
    // Delivered before it was posted; and no delivery after the post returned it.
    let accepted = walk(
        &t,
        "printing",
        "SC0104",
        "CQ0103",
        vec![("printing.status", status("accepted"), "accepted")],
    )
    .await;
    refused_both_sides(
        &t,
        accepted,
        "SC0104",
        "CQ0103",
        "printing.event",
        e("05-delivered-to-legal-representative.json"),
        &["printed", "in_progress", "refused", "returned"],
    )
    .await;
    refused_both_sides(
        &t,
        returned,
        "SC0104",
        "CQ0103",
        "printing.event",
        e("05-delivered-to-legal-representative.json"),
        &["return_receipt_scanned"],
    )
    .await;
    t.shutdown().await;
}

#[tokio::test]
async fn evidence_with_missing_information_and_a_delay_notice_then_completion() {
    let t = TestFed::start().await;
    let r = |name| doc("evidence-result", name);
    walk(
        &t,
        "evidence",
        "SC01",
        "CQ01",
        vec![
            (
                "evidence.result",
                r("01-acknowledgement.json"),
                "acknowledged",
            ),
            ("evidence.status", status("accepted"), "accepted"),
            (
                "evidence.result",
                r("02-missing-information.json"),
                "info_requested",
            ),
            ("evidence.status", status("accepted"), "accepted"),
            ("evidence.result", r("03-delay-notice.json"), "delayed"),
            (
                "evidence.result",
                r("04-completion-completed.json"),
                "completed",
            ),
        ],
    )
    .await;
    // Completion while the court still waits for missing information.
    let waiting = walk(
        &t,
        "evidence",
        "SC01",
        "CQ01",
        vec![
            ("evidence.status", status("accepted"), "accepted"),
            (
                "evidence.result",
                r("02-missing-information.json"),
                "info_requested",
            ),
        ],
    )
    .await;
    refused_both_sides(
        &t,
        waiting,
        "SC01",
        "CQ01",
        "evidence.result",
        r("04-completion-completed.json"),
        &["accepted", "delay_notice", "refused", "returned"],
    )
    .await;
    t.shutdown().await;
}

#[tokio::test]
async fn preservation_decided_straight_away_or_refused() {
    let t = TestFed::start().await;
    walk(
        &t,
        "preservation",
        "SC01",
        "CQ01",
        vec![(
            "preservation.result",
            doc("preservation-result", "01-frozen-bank-deposit-first.json"),
            "completed",
        )],
    )
    .await;
    let accepted = walk(
        &t,
        "preservation",
        "SC01",
        "CQ01",
        vec![
            ("preservation.status", status("received"), "acknowledged"),
            ("preservation.status", status("accepted"), "accepted"),
            (
                "preservation.result",
                doc("preservation-result", "03-real-estate-waiting-queue.json"),
                "completed",
            ),
        ],
    )
    .await;
    walk(
        &t,
        "preservation",
        "SC01",
        "CQ01",
        vec![("preservation.status", status("refused"), "refused")],
    )
    .await;
    refused_both_sides(
        &t,
        accepted,
        "SC01",
        "CQ01",
        "preservation.result",
        doc("preservation-result", "05-lifted.json"),
        &[],
    )
    .await;
    t.shutdown().await;
}
