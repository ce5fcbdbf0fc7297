//! Tests of service on several addressees (per-addressee progress, the aggregate state, refusals).

use serde_json::json;

use super::*;

fn kind(k: &str) -> MessageKind {
    MessageKind::parse(k).unwrap()
}

fn request() -> Value {
    json!({"addressees": [{"name": "张丽华"}, {"name": "重庆山城建材有限公司"}, {"name": "刘德胜"}]})
}

/// Applies `updates` one by one as a gateway would, returning the request's states.
fn walk(updates: &[(&str, Value)]) -> Result<Vec<String>, Refusal> {
    let request = request();
    let mut state = "accepted".to_owned();
    let mut done: Vec<(MessageId, MessageKind, Value)> = Vec::new();
    let mut states = Vec::new();
    for (k, payload) in updates {
        let k = kind(k);
        let now = progress(&request, done.iter().map(|(i, k, p)| (*i, k, p)));
        let s = step(&state, &now, &k, payload).expect("an addressee event")?;
        state = s.state;
        states.push(state.clone());
        done.push((MessageId::new(), k, payload.clone()));
    }
    Ok(states)
}

fn attempt(name: &str, outcome: &str) -> (&'static str, Value) {
    let channel = if outcome == "posted" { "postal" } else { "sms" };
    (
        "service.attempt",
        json!({"addresseeName": name, "channel": channel, "outcome": outcome}),
    )
}

fn result(name: &str, status: &str) -> (&'static str, Value) {
    (
        "service.result",
        json!({"addresseeName": name, "status": status}),
    )
}

#[test]
fn the_request_completes_only_when_every_addressee_is_certified() {
    let states = walk(&[
        result("张丽华", "served"),
        attempt("重庆山城建材有限公司", "failed"),
        attempt("刘德胜", "no_consent"),
        attempt("重庆山城建材有限公司", "posted"),
        result("重庆山城建材有限公司", "served"),
        result("刘德胜", "not_served"),
    ])
    .unwrap();
    assert_eq!(
        states,
        [
            "serving",
            "postal",
            "postal",
            "postal",
            "postal",
            "completed"
        ]
    );
}

#[test]
fn a_second_certificate_for_one_addressee_or_an_unknown_name_is_refused() {
    let err = walk(&[result("张丽华", "served"), result("张丽华", "served")]).unwrap_err();
    assert!(
        matches!(&err, Refusal::Illegal { name, illegal } if name == "张丽华" && illegal.state == "served"),
        "{err:?}"
    );
    let err = walk(&[result("王建国", "served")]).unwrap_err();
    assert!(
        matches!(&err, Refusal::Unknown { known, .. } if known.len() == 3),
        "{err:?}"
    );
}

#[test]
fn the_views_of_each_addressee_follow_its_own_updates() {
    let request = request();
    let (a, b) = (MessageId::new(), MessageId::new());
    let (k1, p1) = attempt("刘德胜", "no_consent");
    let (k2, p2) = result("张丽华", "served");
    let (k1, k2) = (kind(k1), kind(k2));
    let all = progress(&request, [(a, &k1, &p1), (b, &k2, &p2)]);
    let states: Vec<&str> = all.iter().map(|a| a.state.as_str()).collect();
    assert_eq!(states, ["served", "pending", "postal"]);
    assert_eq!(all[0].certificate.as_ref().unwrap().message_id, b);
    assert_eq!(all[2].attempts, 1);
}

#[test]
fn one_addressee_walks_the_plain_lifecycle() {
    let one = json!({"addressees": [{"name": "王建国"}]});
    let k = kind("service.result");
    let p = json!({"addresseeName": "王建国", "status": "served"});
    let s = step("accepted", &progress(&one, []), &k, &p)
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.state.as_str(), s.event.as_str()),
        ("completed", "result")
    );
    // Before acceptance the request decides, as before.
    let err = step("retrieved", &progress(&one, []), &k, &p)
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Refusal::Request(_)));
}
