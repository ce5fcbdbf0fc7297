//! The sample agreement's Cedar policies and its rate, on both gateways: each rule allows
//! one request and denies its twin, and the receiver denies what a sender let through.

use kuayu::problem::Code;
use kuayu::schema::embedded_fixtures;
use serde_json::{Value, json};

use crate::support::*;

fn named(schema: &str, name: &str) -> Value {
    embedded_fixtures()
        .find(|f| f.schema == schema && f.valid && f.name == name)
        .unwrap()
        .document()
        .unwrap()
}

fn with(kind: &str, to: &str, payload: Value) -> kuayu::api::Submission {
    let mut s = submission(kind, to);
    s.payload = payload;
    s
}

#[allow(clippy::too_many_arguments)]
/// The twin is allowed at the sender; the request is denied by `policy` at the sender
/// and, sent as a peer that skipped its own check, at the receiver.
async fn allows_and_denies(
    t: &TestFed,
    from: &str,
    to: &str,
    kind: &str,
    allowed: Value,
    denied_from: &str,
    denied: Value,
    policy: &str,
) {
    submit(&t.court(from), &with(kind, to, allowed)).await;
    let p = problem(
        t.court(denied_from)
            .submit(&with(kind, to, denied.clone()), None)
            .await,
    );
    assert!(p.is(Code::PolicyDenied) && p.policies == [policy], "{p}");
    assert!(
        p.detail.contains(policy),
        "the detail names the policy: {p}"
    );
    let (status, body) = t
        .relay_as("SC", "CQ", t.envelope(kind, denied_from, to, denied))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("policy_denied")),
        "{body}"
    );
    assert_eq!(body["policies"], json!([policy]));
}

#[tokio::test]
async fn a_large_freeze_is_denied_from_a_basic_court_and_allowed_from_an_intermediate_one() {
    let t = TestFed::start().await;
    let mut large = named(
        "preservation-request",
        "01-in-suit-debtor-and-guarantor-bank-deposits.json",
    );
    large["amount"]["value"] = json!(6_000_000);
    allows_and_denies(
        &t,
        "SC01",
        "CQ01",
        "preservation.request",
        large.clone(),
        "SC0104",
        large,
        "large-freeze-needs-intermediate-court",
    )
    .await;
    // Below the threshold a basic court may freeze.
    submit(
        &t.court("SC0104"),
        &with(
            "preservation.request",
            "CQ01",
            named(
                "preservation-request",
                "01-in-suit-debtor-and-guarantor-bank-deposits.json",
            ),
        ),
    )
    .await;
    t.shutdown().await;
}

#[tokio::test]
async fn an_evidence_request_for_a_site_inspection_is_denied_and_its_twin_allowed() {
    let t = TestFed::start().await;
    let inspection = named("evidence-request", "06-site-inspection-ascii-brackets.json");
    let mut inquiry = inspection.clone();
    inquiry["items"][0]["kind"] = json!("property_inquiry");
    allows_and_denies(
        &t,
        "SC01",
        "CQ01",
        "evidence.request",
        inquiry,
        "SC01",
        inspection,
        "no-site-inspections",
    )
    .await;
    t.shutdown().await;
}

#[tokio::test]
async fn a_print_job_over_the_page_limit_is_denied_and_its_twin_allowed() {
    let t = TestFed::start().await;
    let huge = named(
        "printing-request",
        "07-ten-thousand-pages-left-to-policy.json",
    );
    let mut fits = huge.clone();
    fits["documents"][0]["pages"] = json!(480);
    allows_and_denies(
        &t,
        "SC0104",
        "CQ0103",
        "printing.request",
        fits,
        "SC0104",
        huge,
        "print-job-page-limit",
    )
    .await;
    t.shutdown().await;
}

#[tokio::test]
async fn over_the_agreements_rate_the_answer_is_429_with_retry_after() {
    let t = TestFed::start().await;
    let tight = t
        .fed
        .amendment(|terms| {
            terms.limits.rate = Some(kuayu::agreement::Rate {
                messages: 3,
                per_seconds: 60,
            })
        })
        .unwrap();
    for region in ["SC", "CQ"] {
        t.fed
            .admin(region, "alice")
            .unwrap()
            .load(&tight)
            .await
            .unwrap();
    }
    let sc = t.court("SC0104");
    for _ in 0..3 {
        submit(&sc, &submission("service.request", "CQ0103")).await;
    }
    let p = problem(
        sc.submit(&submission("service.request", "CQ0103"), None)
            .await,
    );
    assert!(p.is(Code::RateLimited), "{p}");
    assert_eq!(p.retry_after, Some(20), "one message every 20 s refills");
    // Another court, or another kind, has its own allowance.
    submit(&t.court("SC01"), &submission("service.request", "CQ0103")).await;
    submit(&sc, &submission("printing.request", "CQ0103")).await;
    // Time passes (our clock): the court may send again.
    t.clock.advance(time::Duration::seconds(20));
    submit(&sc, &submission("service.request", "CQ0103")).await;
    // The receiving gateway counts too: a peer over the rate is asked to slow down.
    let mut last = (0, Value::Null);
    for _ in 0..4 {
        last = t
            .relay_as("SC", "CQ", {
                let mut e = t.envelope(
                    "evidence.request",
                    "SC01",
                    "CQ01",
                    valid("evidence-request"),
                );
                e.agreement.version = 2;
                e.agreement.sha256 = tight.terms.digest().unwrap();
                e
            })
            .await;
    }
    assert_eq!(
        (last.0, last.1["code"].as_str()),
        (429, Some("rate_limited")),
        "{}",
        last.1
    );
    t.shutdown().await;
}
