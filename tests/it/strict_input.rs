//! Strict input: a key twice in one JSON object is refused wherever it stands, and the
//! receiving gateway's clock decides (a `createdAt` ahead of it, an `expiresAt` beyond the
//! agreement's message lifetime, a backdated amendment grace). Nothing refused is stored.

use serde_json::{Value, json};

use crate::support::*;

async fn inboxes_are_empty(t: &TestFed) {
    for court in ["CQ01", "CQ0103"] {
        assert!(
            t.court(court).inbox(0, 50).await.unwrap().items.is_empty(),
            "nothing reached {court}"
        );
    }
}

/// `text` with `"key": value` inserted again as the first member of the object that
/// starts at the first occurrence of `object_start`.
fn with_duplicate(text: &str, object_start: &str, member: &str) -> String {
    let at = text.find(object_start).expect("object present") + object_start.len();
    format!("{}{member},{}", &text[..at], &text[at..])
}

#[tokio::test]
async fn a_duplicate_key_in_a_court_payload_is_refused_with_its_pointer() {
    let t = TestFed::start().await;
    let (client, base) = t.court_raw("SC0104");
    let body = json!({
        "kind": "service.request",
        "recipientCourt": "CQ0103",
        "payload": valid("service-request"),
    });
    let number = body["payload"]["case"]["number"].clone();
    // The schema sees the last "number"; a reader that keeps the first sees another case.
    let text = with_duplicate(
        &body.to_string(),
        r#""case":{"#,
        &format!(r#""number":{}"#, json!("（2026）川0104民初9999号")),
    );
    assert!(text.contains(number.as_str().unwrap()));
    let (status, problem) = post_text(&client, &format!("{base}/v1/requests"), text).await;
    assert_eq!(
        (
            status,
            problem["code"].as_str(),
            problem["pointer"].as_str()
        ),
        (400, Some("duplicate_key"), Some("/payload/case/number")),
        "{problem}"
    );
    assert!(problem["detail"].as_str().unwrap().contains("number"));
    // The same body without the duplicate is accepted: the refusal was for the key alone.
    let (status, answer) =
        post_text(&client, &format!("{base}/v1/requests"), body.to_string()).await;
    assert_eq!(status, 202, "{answer}");
    t.shutdown().await;
}

#[tokio::test]
async fn a_duplicate_key_in_a_federation_envelope_is_refused_with_its_pointer() {
    let t = TestFed::start().await;
    let e = t.envelope(
        "service.request",
        "SC0104",
        "CQ0103",
        valid("service-request"),
    );
    let sealed = t.seal(e, "SC");
    let client = t.as_gateway("SC", "CQ");
    for (object_start, member, pointer) in [
        // At the top: which court is it for?
        ("{", r#""kind":"evidence.request""#, "/kind"),
        // Inside the signed payload.
        (
            r#""payload":{"#,
            r#""urgency":"urgent""#,
            "/payload/urgency",
        ),
        // Inside the seal itself.
        (r#""signature":{"#, r#""region":"CQ""#, "/signature/region"),
    ] {
        let text = with_duplicate(&sealed.to_string(), object_start, member);
        let (status, problem) = post_text(&client, &t.federation_url("CQ"), text).await;
        assert_eq!(
            (
                status,
                problem["code"].as_str(),
                problem["pointer"].as_str()
            ),
            (400, Some("duplicate_key"), Some(pointer)),
            "{problem}"
        );
    }
    inboxes_are_empty(&t).await;
    t.shutdown().await;
}

async fn relay_with_times(
    t: &TestFed,
    created: time::Duration,
    lifetime: time::Duration,
) -> (u16, Value) {
    let now = kuayu::clock::Clock::now(&*t.clock);
    let mut e = t.envelope(
        "service.request",
        "SC0104",
        "CQ0103",
        valid("service-request"),
    );
    e.created_at = now + created;
    e.expires_at = e.created_at + lifetime;
    t.relay_as("SC", "CQ", e).await
}

#[tokio::test]
async fn a_created_at_ahead_of_the_receivers_clock_is_refused_as_clock_skew() {
    let t = TestFed::start().await;
    let day = time::Duration::days(1);
    let (status, problem) = relay_with_times(&t, time::Duration::minutes(6), day).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("clock_skew")),
        "{problem}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("ahead of this gateway's clock")
    );
    inboxes_are_empty(&t).await;
    // Within the default skew of five minutes it passes; a message created in the past
    // (a relay retrying after an outage) is bounded by its lifetime, not by the skew.
    let (status, answer) = relay_with_times(&t, time::Duration::minutes(4), day).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = relay_with_times(&t, -day, 2 * day).await;
    assert_eq!(status, 200, "{answer}");
    t.shutdown().await;
}

#[tokio::test]
async fn an_expires_at_beyond_the_agreements_message_lifetime_is_refused() {
    let t = TestFed::start().await;
    let ttl = t.fed.agreement.terms.limits.message_ttl_hours;
    let over = time::Duration::hours(i64::from(ttl)) + time::Duration::seconds(1);
    let (status, problem) = relay_with_times(&t, time::Duration::ZERO, over).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("clock_skew")),
        "{problem}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("message lifetime"),
        "{problem}"
    );
    inboxes_are_empty(&t).await;
    let exact = time::Duration::hours(i64::from(ttl));
    let (status, answer) = relay_with_times(&t, time::Duration::ZERO, exact).await;
    assert_eq!(status, 200, "{answer}");
    t.shutdown().await;
}
