//! Cross-region case filing (跨域立案) on real gateways: a party files at the court in
//! Yuzhong, Chongqing (CQ0103, the assisting court) a case that belongs to the court in
//! Jinjiang, Chengdu (SC0104, the competent court). The competent court acknowledges it
//! within 30 working minutes, asks for corrections, the assisting court sends them, which
//! restarts the seven days to docket, and the case is docketed under its new case number;
//! or it is not accepted. Illegal steps are refused by both gateways.

use kuayu::client::CourtClient;
use kuayu::ids::MessageId;
use kuayu::problem::Code;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::support::*;

const ASSISTING: &str = "CQ0103";
const COMPETENT: &str = "SC0104";

fn ts(t: OffsetDateTime) -> String {
    kuayu::clock::rfc3339(t)
}

/// The must-pass fixture `name` of `schema`.
fn doc(schema: &str, name: &str) -> Value {
    kuayu::schema::embedded_fixtures()
        .find(|f| f.schema == schema && f.valid && f.name.starts_with(name))
        .unwrap_or_else(|| panic!("no fixture {schema}/{name}"))
        .document()
        .unwrap()
}

fn result(name: &str) -> Value {
    doc("filing-result", name)
}

/// The deadline `name` as `client` sees it: (due at, status).
async fn deadline(client: &CourtClient, id: MessageId, name: &str) -> (String, String) {
    let view = client.request(id).await.expect("request view");
    let d = view["deadlines"]
        .as_array()
        .and_then(|ds| ds.iter().find(|d| d["name"] == name))
        .unwrap_or_else(|| panic!("no deadline {name} in {}", view["deadlines"]))
        .clone();
    (
        d["dueAt"].as_str().unwrap().to_owned(),
        d["status"].as_str().unwrap().to_owned(),
    )
}

/// Both courts come to see deadline `name` due at `due` with `status`.
async fn both_see(t: &TestFed, id: MessageId, name: &str, due: OffsetDateTime, status: &str) {
    for court in [ASSISTING, COMPETENT] {
        let client = t.court(court);
        let want = (ts(due), status.to_owned());
        eventually(&format!("{court} sees {name} {status}"), || async {
            (deadline(&client, id, name).await == want).then_some(())
        })
        .await;
    }
}

/// The competent court sends `payload` as a filing.result; both sides reach `state`.
async fn answer(t: &TestFed, id: MessageId, payload: Value, state: &str) {
    let accepted = t
        .court(COMPETENT)
        .update(id, &update("filing.result", payload))
        .await
        .unwrap_or_else(|e| panic!("towards {state}: {e}"));
    assert_eq!(accepted.state, state);
    reaches(&t.court(ASSISTING), id, state).await;
}

/// The competent court's gateway refuses `payload` as its court's answer; and the
/// assisting court's gateway refuses it too when a peer relays it anyway.
async fn result_refused_both_sides(t: &TestFed, id: MessageId, payload: Value, allowed: &[&str]) {
    let p = problem(
        t.court(COMPETENT)
            .update(id, &update("filing.result", payload.clone()))
            .await,
    );
    assert!(p.is(Code::IllegalTransition), "{p}");
    assert_eq!(p.allowed, allowed, "{p}");
    let mut e = t.envelope("filing.result", COMPETENT, ASSISTING, payload);
    e.in_reply_to = Some(id);
    let (status, body) = t.relay_as("SC", "CQ", e).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("illegal_transition")),
        "{body}"
    );
}

/// The same for corrections, the assisting court's to send: refused by its own gateway,
/// and by the competent court's gateway when a peer relays them anyway.
async fn correction_refused_both_sides(t: &TestFed, id: MessageId) {
    let payload = doc("filing-correction", "01");
    let p = problem(
        t.court(ASSISTING)
            .update(id, &update("filing.correction", payload.clone()))
            .await,
    );
    assert!(p.is(Code::IllegalTransition), "{p}");
    let mut e = t.envelope("filing.correction", ASSISTING, COMPETENT, payload);
    e.in_reply_to = Some(id);
    let (status, body) = t.relay_as("CQ", "SC", e).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("illegal_transition")),
        "{body}"
    );
    assert_eq!(
        body["detail"].as_str().map(|d| d.contains("corrected")),
        Some(true),
        "{body}"
    );
}

async fn file(t: &TestFed) -> MessageId {
    let id = submit(
        &t.court(ASSISTING),
        &submission("filing.request", COMPETENT),
    )
    .await
    .request_id;
    reaches(&t.court(ASSISTING), id, "relayed").await;
    id
}

#[tokio::test]
async fn a_filing_corrected_then_docketed_restarts_its_seven_days_on_the_corrections() {
    // Wednesday 25 November 2026, 10:00 in Chengdu.
    let t = TestFed::start_at(datetime!(2026-11-25 02:00 UTC)).await;
    let id = file(&t).await;

    // Acknowledge within 30 working minutes: 10:30. Docket or rule within 7 days: 2
    // December, 24:00.
    let ack_due = datetime!(2026-11-25 02:30 UTC);
    let seven_days = datetime!(2026-12-02 16:00 UTC);
    both_see(&t, id, "filing.acknowledge", ack_due, "pending").await;
    both_see(&t, id, "filing.docket_or_rule", seven_days, "pending").await;

    // The assisting court may not send corrections nobody asked for.
    correction_refused_both_sides(&t, id).await;

    t.clock.set(datetime!(2026-11-25 02:20 UTC));
    answer(&t, id, result("01-received"), "acknowledged").await;
    both_see(&t, id, "filing.acknowledge", ack_due, "met").await;

    // Friday 27 November: corrections needed (补正) by 10 December. The seven days stop.
    t.clock.set(datetime!(2026-11-27 07:00 UTC));
    answer(&t, id, result("02-correction-needed"), "correction_needed").await;
    both_see(&t, id, "filing.docket_or_rule", seven_days, "met").await;
    let correct_by = datetime!(2026-12-10 16:00 UTC);
    both_see(&t, id, "filing.correction", correct_by, "pending").await;

    // Not docketed before the corrections are in.
    result_refused_both_sides(
        &t,
        id,
        result("03-docketed"),
        &["corrected", "in_progress", "not_accepted", "returned"],
    )
    .await;

    // Friday 4 December, 10:00, after the first seven days would have ended: the
    // assisting court sends the corrections. The clock starts again: 11 December, 24:00.
    t.clock.set(datetime!(2026-12-04 02:00 UTC));
    let sent = t
        .court(ASSISTING)
        .update(
            id,
            &update("filing.correction", doc("filing-correction", "01")),
        )
        .await
        .expect("corrections accepted");
    assert_eq!(sent.state, "corrected");
    reaches(&t.court(COMPETENT), id, "corrected").await;
    let restarted = datetime!(2026-12-11 16:00 UTC);
    both_see(&t, id, "filing.docket_or_rule", restarted, "pending").await;
    both_see(&t, id, "filing.correction", correct_by, "met").await;
    // The competent court has the corrections in its inbox.
    let inbox = t.court(COMPETENT).inbox(0, 100).await.unwrap();
    assert!(
        inbox
            .items
            .iter()
            .any(|i| i.request_id == id && i.kind.as_str() == "filing.correction"),
        "{:?}",
        inbox.items
    );
    // Corrections again, unasked: refused on both sides.
    correction_refused_both_sides(&t, id).await;

    // A case number of another court is not this court's to give.
    let mut foreign = result("03-docketed");
    foreign["caseNumber"] = json!("（2026）渝0103民初8421号");
    let p = problem(
        t.court(COMPETENT)
            .update(id, &update("filing.result", foreign))
            .await,
    );
    assert!(p.is(Code::SchemaViolation), "{p}");
    assert_eq!(
        (p.errors[0].pointer.as_str(), p.errors[0].keyword.as_str()),
        ("/caseNumber", "court")
    );
    assert!(p.errors[0].message.contains("川0104"), "{p:?}");

    // At the restarted due time, not before, the filing is overdue on both sides.
    t.clock.set(restarted - time::Duration::minutes(1));
    both_see(&t, id, "filing.docket_or_rule", restarted, "pending").await;
    t.clock.set(restarted);
    both_see(&t, id, "filing.docket_or_rule", restarted, "overdue").await;

    // Docketed under its new case number, late.
    t.clock.set(datetime!(2026-12-14 01:30 UTC));
    answer(&t, id, result("03-docketed"), "docketed").await;
    both_see(&t, id, "filing.docket_or_rule", restarted, "met_late").await;
    let view = t.court(ASSISTING).request(id).await.unwrap();
    let docketed = view["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["envelope"]["payload"]["type"] == "docketed")
        .expect("the docketed result reached the assisting court");
    assert_eq!(
        docketed["envelope"]["payload"]["caseNumber"],
        "（2026）川0104民初8421号"
    );
    assert_eq!(view["overdue"], false, "{view}");

    // Docketed is the end: nothing further.
    result_refused_both_sides(&t, id, result("05-transferred"), &[]).await;
    correction_refused_both_sides(&t, id).await;
    t.shutdown().await;
}

#[tokio::test]
async fn a_filing_not_accepted_by_ruling_and_sides_that_send_what_is_not_theirs() {
    let t = TestFed::start_at(datetime!(2026-11-25 02:00 UTC)).await;
    let id = file(&t).await;

    // The competent court does not send corrections; the assisting court does not answer.
    let p = problem(
        t.court(COMPETENT)
            .update(
                id,
                &update("filing.correction", doc("filing-correction", "01")),
            )
            .await,
    );
    assert!(p.is(Code::NotFound), "{p}");
    assert!(p.detail.contains("filing.correction"), "{p}");
    let p = problem(
        t.court(ASSISTING)
            .update(id, &update("filing.result", result("01-received")))
            .await,
    );
    assert!(p.is(Code::NotFound), "{p}");

    // Ruled not to accept (不予受理) straight away: the ruling reaches the assisting court
    // and meets the seven days.
    t.clock.set(datetime!(2026-11-30 03:00 UTC));
    answer(&t, id, result("04-not-accepted"), "not_accepted").await;
    both_see(
        &t,
        id,
        "filing.docket_or_rule",
        datetime!(2026-12-02 16:00 UTC),
        "met",
    )
    .await;
    let view = t.court(ASSISTING).request(id).await.unwrap();
    assert!(
        view["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["envelope"]["payload"]["ruling"]["number"] == "（2026）川0104民初8422号"),
        "{view}"
    );
    result_refused_both_sides(&t, id, result("03-docketed"), &[]).await;
    t.shutdown().await;
}

#[tokio::test]
async fn an_unanswered_filing_is_overdue_after_thirty_working_minutes() {
    // Friday 27 November 2026, 17:20 in Chengdu: 10 minutes today, 20 on Monday.
    let t = TestFed::start_at(datetime!(2026-11-27 09:20 UTC)).await;
    let id = file(&t).await;
    let due = datetime!(2026-11-30 01:20 UTC);
    both_see(&t, id, "filing.acknowledge", due, "pending").await;
    t.clock.set(due - time::Duration::minutes(1));
    both_see(&t, id, "filing.acknowledge", due, "pending").await;
    t.clock.set(due);
    both_see(&t, id, "filing.acknowledge", due, "overdue").await;
    t.shutdown().await;
}
