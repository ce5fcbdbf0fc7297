//! Legal deadlines on the agreement's working-day calendar, checked to the minute on both
//! gateways, with a hand-driven clock across a weekend and the National Day week (1–7
//! October 2026 off, Saturday 10 October worked instead).

use kuayu::client::CourtClient;
use kuayu::ids::MessageId;
use kuayu::problem::Code;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::support::*;

/// The deadline `name` of a request view.
fn deadline<'v>(view: &'v Value, name: &str) -> &'v Value {
    view["deadlines"]
        .as_array()
        .and_then(|ds| ds.iter().find(|d| d["name"] == name))
        .unwrap_or_else(|| panic!("no deadline {name} in {}", view["deadlines"]))
}

fn ts(t: OffsetDateTime) -> String {
    kuayu::clock::rfc3339(t)
}

async fn view(client: &CourtClient, id: MessageId) -> Value {
    client.request(id).await.expect("request view")
}

/// The ids of `client`'s requests listed as overdue.
async fn overdue_list(client: &CourtClient) -> Vec<String> {
    let list = client.requests(true).await.expect("list");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The gateway's notices about `id` in `client`'s inbox.
async fn notices(client: &CourtClient, id: MessageId) -> Vec<Value> {
    let page = client.inbox(0, 500).await.expect("inbox");
    page.items
        .into_iter()
        .filter(|i| i.request_id == id)
        .filter_map(|i| i.notice)
        .collect()
}

fn status(s: &str) -> Value {
    json!({"status": s, "at": "2026-10-09T09:00:00+08:00"})
}

#[tokio::test]
async fn service_deadlines_count_working_days_across_the_national_day_week() {
    // Wednesday 30 September 2026, 16:30 in Chongqing: the day before the holiday week.
    let t =
        TestFed::start_at(datetime!(2026-09-30 16:30 +08:00).to_offset(time::UtcOffset::UTC)).await;
    let (sc, cq) = (t.court("SC0104"), t.court("CQ0103"));
    let id = submit(&sc, &submission("service.request", "CQ0103"))
        .await
        .request_id;
    reaches(&sc, id, "relayed").await;

    // Acknowledge within 1 working day: Thursday 8 October (1-7 are holidays), 24:00.
    // Serve within 10 days: Saturday 10 October, an adjusted working day, so no extension.
    let ack_due = datetime!(2026-10-08 16:00 UTC);
    let serve_due = datetime!(2026-10-10 16:00 UTC);
    for side in [&sc, &cq] {
        let v = view(side, id).await;
        assert_eq!(deadline(&v, "acknowledge")["dueAt"], ts(ack_due), "{v}");
        assert_eq!(deadline(&v, "service.serve")["dueAt"], ts(serve_due), "{v}");
        assert_eq!(v["overdue"], false);
    }

    // A minute before: pending on both sides; at the due time: overdue on both sides.
    t.clock.set(ack_due - time::Duration::minutes(1));
    for side in [&sc, &cq] {
        let v = view(side, id).await;
        assert_eq!(
            (
                v["overdue"].clone(),
                deadline(&v, "acknowledge")["status"].clone()
            ),
            (json!(false), json!("pending"))
        );
        assert!(overdue_list(side).await.is_empty());
    }
    t.clock.set(ack_due);
    for side in [&sc, &cq] {
        let v = view(side, id).await;
        assert_eq!(
            (
                v["overdue"].clone(),
                deadline(&v, "acknowledge")["status"].clone()
            ),
            (json!(true), json!("overdue"))
        );
        assert_eq!(deadline(&v, "service.serve")["status"], "pending");
        assert_eq!(overdue_list(side).await, [id.to_string()]);
    }
    // The requesting court is told, once, and it shows in the history.
    let told = eventually("the requesting court is told", || async {
        let n = notices(&sc, id).await;
        (!n.is_empty()).then_some(n)
    })
    .await;
    assert_eq!(told[0]["status"], "overdue");
    assert_eq!(
        told[0]["deadline"],
        json!({"deadline": "acknowledge", "dueAt": ts(ack_due)})
    );
    let history = view(&sc, id).await["history"].clone();
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["event"] == "overdue" && h["actor"] == "system"),
        "{history}"
    );

    // Acknowledged late on Friday 9 October; then served on Saturday 10 October, in time.
    t.clock.set(datetime!(2026-10-09 01:00 UTC));
    cq.update(id, &update("service.status", status("received")))
        .await
        .unwrap();
    reaches(&sc, id, "acknowledged").await;
    cq.update(id, &update("service.status", status("accepted")))
        .await
        .unwrap();
    reaches(&sc, id, "accepted").await;
    t.clock.set(serve_due - time::Duration::minutes(1));
    cq.update(id, &update("service.result", valid("service-result")))
        .await
        .unwrap();
    reaches(&sc, id, "completed").await;
    for side in [&sc, &cq] {
        let v = view(side, id).await;
        assert_eq!(deadline(&v, "acknowledge")["status"], "met_late", "{v}");
        assert_eq!(deadline(&v, "service.serve")["status"], "met", "{v}");
        assert_eq!(v["overdue"], false);
        assert!(overdue_list(side).await.is_empty());
    }
    // Nothing further passes: no second notice, however late it gets.
    t.clock.set(datetime!(2026-12-01 00:00 UTC));
    assert_eq!(notices(&sc, id).await.len(), 1);
    t.shutdown().await;
}

#[tokio::test]
async fn evidence_respond_by_prevails_and_a_delay_notice_meets_the_deadline() {
    // Friday 25 September 2026, 10:00 local: 30 days would end on Sunday 25 October, so
    // the period runs to Monday 26 October; the request's own date (25 December) prevails.
    let t = TestFed::start_at(datetime!(2026-09-25 02:00 UTC)).await;
    let (sc, cq) = (t.court("SC0104"), t.court("CQ0103"));
    let mut s = submission("evidence.request", "CQ0103");
    s.payload.as_object_mut().unwrap().remove("respondBy");
    let plain = submit(&sc, &s).await.request_id;
    s.payload["respondBy"] = json!("2026-12-25");
    let dated = submit(&sc, &s).await.request_id;
    reaches(&sc, dated, "relayed").await;
    reaches(&sc, plain, "relayed").await;
    let v = view(&cq, plain).await;
    assert_eq!(
        deadline(&v, "evidence.complete_or_explain")["dueAt"],
        ts(datetime!(2026-10-26 16:00 UTC))
    );
    // Acknowledge: Mon 28 Sep is the next working day (25 Sep was a Friday).
    assert_eq!(
        deadline(&v, "acknowledge")["dueAt"],
        ts(datetime!(2026-09-28 16:00 UTC))
    );
    let v = view(&sc, dated).await;
    assert_eq!(
        deadline(&v, "evidence.complete_or_explain")["dueAt"],
        ts(datetime!(2026-12-25 16:00 UTC))
    );

    // Acknowledged late (on 20 October), then a delay notice within the period: that meets
    // it (the law asks for completion or a letter explaining the delay).
    t.clock.set(datetime!(2026-10-20 01:00 UTC));
    cq.update(plain, &update("evidence.status", status("received")))
        .await
        .unwrap();
    reaches(&sc, plain, "acknowledged").await;
    let delay = json!({"type": "delay_notice",
        "reason": {"code": "witness_unavailable", "text": "the witness is abroad until November"},
        "expectedCompletion": "2026-11-20"});
    cq.update(plain, &update("evidence.result", delay))
        .await
        .unwrap();
    reaches(&sc, plain, "delayed").await;
    t.clock.set(datetime!(2026-10-27 00:00 UTC));
    let v = view(&sc, plain).await;
    assert_eq!(
        deadline(&v, "evidence.complete_or_explain")["status"],
        "met"
    );
    assert_eq!(deadline(&v, "acknowledge")["status"], "met_late");
    // The notice's expected completion date is what the work is owed by next.
    let next = deadline(&v, "evidence.expected_completion");
    assert_eq!(
        (next["dueAt"].as_str(), next["status"].as_str()),
        (Some("2026-11-20T16:00:00.000Z"), Some("pending"))
    );
    assert_eq!(
        deadline(&view(&cq, plain).await, "evidence.expected_completion")["dueAt"],
        next["dueAt"]
    );
    // A second notice moves it.
    let later = json!({"type": "delay_notice",
        "reason": {"code": "witness_unavailable", "text": "the witness's return was postponed"},
        "expectedCompletion": "2026-12-10"});
    cq.update(plain, &update("evidence.result", later))
        .await
        .unwrap();
    let moved = eventually("the new expected date at SC", || async {
        let v = view(&sc, plain).await;
        let due = deadline(&v, "evidence.expected_completion")["dueAt"].clone();
        (due == "2026-12-10T16:00:00.000Z").then_some(due)
    })
    .await;
    assert_eq!(
        deadline(&view(&cq, plain).await, "evidence.expected_completion")["dueAt"],
        moved
    );
    t.shutdown().await;
}

#[tokio::test]
async fn preservation_is_decided_in_48_hours_and_a_freeze_warns_before_it_expires() {
    let t = TestFed::start().await; // Wednesday 25 November 2026, 16:00 local
    let (sc, cq) = (t.court("SC0104"), t.court("CQ0103"));
    let id = submit(&sc, &submission("preservation.request", "CQ0103"))
        .await
        .request_id;
    reaches(&sc, id, "relayed").await;
    let v = view(&sc, id).await;
    assert_eq!(
        deadline(&v, "preservation.decide")["dueAt"],
        ts(datetime!(2026-11-27 08:00 UTC))
    );

    // A freeze longer than the law allows for a bank deposit (12 months) is refused.
    let mut too_long = valid("preservation-result");
    too_long["assets"][0]["expiresAt"] = json!("2027-12-31");
    let p = problem(
        cq.update(id, &update("preservation.result", too_long))
            .await,
    );
    assert!(p.is(Code::FreezePeriodExceeded), "{p}");
    assert!(p.detail.contains("2027-11-26"), "{p}");

    // The freeze (until 25 November 2027) warns the requesting court 30 days ahead.
    cq.update(
        id,
        &update("preservation.result", valid("preservation-result")),
    )
    .await
    .unwrap();
    reaches(&sc, id, "completed").await;
    let warn_at = datetime!(2027-10-25 16:00 UTC);
    let v = view(&sc, id).await;
    assert_eq!(deadline(&v, "preservation.decide")["status"], "met");
    assert_eq!(deadline(&v, "freeze.expiry_warning")["dueAt"], ts(warn_at));
    assert_eq!(deadline(&v, "freeze.expiry_warning")["status"], "pending");
    t.clock.set(warn_at - time::Duration::minutes(1));
    tokio::time::sleep(kuayu::watcher::INTERVAL * 3).await;
    assert!(
        notices(&sc, id).await.is_empty(),
        "no warning before its time"
    );
    t.clock.set(warn_at);
    let told = eventually("the freeze warning", || async {
        let n = notices(&sc, id).await;
        (!n.is_empty()).then_some(n)
    })
    .await;
    assert_eq!(told[0]["status"], "warning");
    assert_eq!(told[0]["deadline"]["deadline"], "freeze.expiry_warning");
    assert_eq!(
        deadline(&view(&sc, id).await, "freeze.expiry_warning")["status"],
        "due"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn an_urgent_lift_is_due_in_48_hours_an_ordinary_one_in_5_days() {
    // Friday 2 October 2026 (a holiday), 10:00 local.
    let t = TestFed::start_at(datetime!(2026-10-02 02:00 UTC)).await;
    let sc = t.court("SC0104");
    let mut lift = submission("preservation.request", "CQ0103");
    lift.payload = kuayu::demo::court::fixture("preservation-request", |f| {
        f["mode"] == "lift" && f["urgency"] == "NORMAL"
    })
    .unwrap();
    let ordinary = submit(&sc, &lift).await.request_id;
    lift.payload["urgency"] = json!("URGENT");
    let urgent = submit(&sc, &lift).await.request_id;
    reaches(&sc, ordinary, "relayed").await;
    reaches(&sc, urgent, "relayed").await;
    // 5 days from 2 October end on 7 October, a holiday: extended to Thursday 8 October.
    let v = view(&sc, ordinary).await;
    assert_eq!(
        deadline(&v, "preservation.lift")["dueAt"],
        ts(datetime!(2026-10-08 16:00 UTC))
    );
    let v = view(&sc, urgent).await;
    assert_eq!(
        deadline(&v, "preservation.lift_urgent")["dueAt"],
        ts(datetime!(2026-10-04 02:00 UTC))
    );
    t.shutdown().await;
}

#[tokio::test]
async fn a_lifted_freeze_no_longer_warns_before_its_expiry() {
    let t = TestFed::start().await;
    let (sc, cq) = (t.court("SC0104"), t.court("CQ0103"));
    let freeze = submit(&sc, &submission("preservation.request", "CQ0103"))
        .await
        .request_id;
    reaches(&sc, freeze, "relayed").await;
    cq.update(
        freeze,
        &update("preservation.result", valid("preservation-result")),
    )
    .await
    .unwrap();
    reaches(&sc, freeze, "completed").await;
    assert_eq!(
        deadline(&view(&sc, freeze).await, "freeze.expiry_warning")["status"],
        "pending"
    );

    // The same ruling lifted, by another court of the region (the lift fixture names it as
    // originalRuling).
    let sc01 = t.court("SC01");
    let mut lift = submission("preservation.request", "CQ0103");
    lift.payload =
        kuayu::demo::court::fixture("preservation-request", |f| f["mode"] == "lift").unwrap();
    assert_eq!(
        lift.payload["originalRuling"],
        valid("preservation-request")["rulingNumber"]
    );
    let lifting = submit(&sc01, &lift).await.request_id;
    reaches(&sc01, lifting, "relayed").await;
    let lifted =
        kuayu::demo::court::fixture("preservation-result", |f| f["status"] == "lifted").unwrap();
    cq.update(lifting, &update("preservation.result", lifted))
        .await
        .unwrap();
    reaches(&sc01, lifting, "completed").await;
    assert_eq!(
        deadline(&view(&sc, freeze).await, "freeze.expiry_warning")["status"],
        "closed"
    );

    t.clock.set(datetime!(2027-11-01 00:00 UTC));
    tokio::time::sleep(kuayu::watcher::INTERVAL * 3).await;
    assert!(
        notices(&sc, freeze).await.is_empty(),
        "no warning for a lifted freeze"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn a_print_job_is_owed_in_the_post_by_its_date_or_within_the_agreements_working_days() {
    // Friday 27 November 2026, 10:00 local.
    let t = TestFed::start_at(datetime!(2026-11-27 02:00 UTC)).await;
    let (sc, cq) = (t.court("SC0104"), t.court("CQ0103"));
    let mut job = submission("printing.request", "CQ0103");
    let dated = job.payload["deadline"].as_str().unwrap().to_owned();
    let with_date = submit(&sc, &job).await.request_id;
    job.payload.as_object_mut().unwrap().remove("deadline");
    let without = submit(&sc, &job).await.request_id;
    reaches(&sc, with_date, "relayed").await;
    reaches(&sc, without, "relayed").await;
    let by_date = kuayu::calendar::Calendar::default().end_of(
        time::Date::parse(
            &dated,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .unwrap(),
    );
    assert_eq!(
        deadline(&view(&cq, with_date).await, "printing.post")["dueAt"],
        ts(by_date)
    );
    // 2 working days after a Friday: Tuesday 1 December, 24:00.
    assert_eq!(
        deadline(&view(&sc, without).await, "printing.post")["dueAt"],
        ts(datetime!(2026-12-01 16:00 UTC))
    );

    // Printed is not posted; posted meets it.
    for (kind, e) in [
        (
            "printing.status",
            json!({"status": "accepted", "at": "2026-11-27T11:00:00+08:00"}),
        ),
        (
            "printing.event",
            kuayu::demo::court::fixture("printing-event", |f| f["event"] == "printed").unwrap(),
        ),
    ] {
        cq.update(without, &update(kind, e)).await.unwrap();
    }
    assert_eq!(
        deadline(&view(&cq, without).await, "printing.post")["status"],
        "pending"
    );
    let posted = kuayu::demo::court::fixture("printing-event", |f| f["event"] == "posted").unwrap();
    cq.update(without, &update("printing.event", posted))
        .await
        .unwrap();
    assert_eq!(
        deadline(&view(&cq, without).await, "printing.post")["status"],
        "met"
    );
    t.shutdown().await;
}
