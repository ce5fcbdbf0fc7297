//! No double freeze: a freeze on an asset already frozen queues behind the first (轮候),
//! the executing gateway holds the court to saying so, and a lift moves the queue up.

use kuayu::ids::MessageId;
use kuayu::problem::Code;
use serde_json::{Value, json};

use crate::support::*;

/// A freeze of the fixture's bank account under `ruling`.
fn freeze(ruling: &str) -> kuayu::api::Submission {
    let mut s = submission("preservation.request", "CQ01");
    s.payload["rulingNumber"] = json!(ruling);
    s
}

/// The executing court's result for a freeze under `ruling` at `position`.
fn result(ruling: &str, position: &str, rank: Option<u64>) -> Value {
    let mut r = valid("preservation-result");
    r["rulingNumber"] = json!(ruling);
    r["assets"][0]["queuePosition"] = json!(position);
    match rank {
        Some(n) => r["assets"][0]["queueRank"] = json!(n),
        None => {
            r["assets"][0].as_object_mut().unwrap().remove("queueRank");
        }
    }
    r
}

async fn answer(t: &TestFed, id: MessageId, payload: Value) -> Result<(), Problem> {
    let cq = t.court("CQ01");
    match cq.update(id, &update("preservation.result", payload)).await {
        Ok(_) => Ok(()),
        Err(kuayu::client::ClientError::Problem(p)) => Err(p),
        Err(e) => panic!("{e}"),
    }
}

use kuayu::problem::Problem;

async fn open(t: &TestFed, s: &kuayu::api::Submission) -> MessageId {
    let sc = t.court("SC01");
    let id = submit(&sc, s).await.request_id;
    reaches(&sc, id, "relayed").await;
    accept(&t.court("CQ01"), id, "preservation").await;
    id
}

#[tokio::test]
async fn a_second_freeze_of_a_frozen_account_queues_behind_the_first_until_it_is_lifted() {
    let t = TestFed::start().await;
    let (r1, r2, r3) = (
        "(2026)川01民初312号",
        "(2026)川0104民初999号",
        "(2026)川01执77号",
    );

    let first = open(&t, &freeze(r1)).await;
    let p = answer(&t, first, result(r1, "waiting", Some(1)))
        .await
        .unwrap_err();
    assert!(
        p.is(Code::QueuePositionMismatch),
        "nothing holds the account yet: {p}"
    );
    answer(&t, first, result(r1, "first", None)).await.unwrap();

    // A second order on the same account: the court must report it waiting, rank 1.
    let second = open(&t, &freeze(r2)).await;
    let p = answer(&t, second, result(r2, "first", None))
        .await
        .unwrap_err();
    assert!(p.is(Code::QueuePositionMismatch), "{p}");
    // Ruling numbers are named as kuayu compares them: ASCII brackets read as full-width.
    assert!(
        p.detail.contains("（2026）川01民初312号") && p.detail.contains("queueRank 1"),
        "{p}"
    );
    answer(&t, second, result(r2, "waiting", Some(1)))
        .await
        .unwrap();
    let view = reaches(&t.court("SC01"), second, "completed").await;
    let last = view["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(
        last["envelope"]["payload"]["assets"][0]["queuePosition"], "waiting",
        "the result says so"
    );

    // The first is lifted: the second takes effect, and a third order waits behind it alone.
    let mut lift = submission("preservation.request", "CQ01");
    lift.payload =
        kuayu::demo::court::fixture("preservation-request", |d| d["mode"] == "lift").unwrap();
    // The freeze was written with ASCII brackets, the lift as case systems print it.
    lift.payload["originalRuling"] = json!("（2026）川01民初312号");
    let lifting = open(&t, &lift).await;
    let lifted =
        kuayu::demo::court::fixture("preservation-result", |d| d["status"] == "lifted").unwrap();
    answer(&t, lifting, lifted).await.unwrap();
    let third = open(&t, &freeze(r3)).await;
    let p = answer(&t, third, result(r3, "waiting", Some(2)))
        .await
        .unwrap_err();
    assert!(
        p.detail.contains("（2026）川0104民初999号") && !p.detail.contains("川01民初312号"),
        "{p}"
    );
    answer(&t, third, result(r3, "waiting", Some(1)))
        .await
        .unwrap();
    t.shutdown().await;
}
