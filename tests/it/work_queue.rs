//! The work queue under leases, on both engines: two pollers never get the same item,
//! an item is retrieved (and receipted) only when acknowledged, and an item whose
//! answer was lost comes back when its lease ends.

use std::collections::BTreeSet;

use kuayu::ids::RegionId;
use time::macros::datetime;

use crate::support::*;

async fn two_pollers_and_a_lost_answer(engine: &str) {
    let location = match engine {
        "sqlite" => None,
        _ => match crate::engines::fresh_postgres().await {
            Some(l) => Some(l),
            None => return,
        },
    };
    let t = TestFed::start_with(datetime!(2026-11-25 08:00 UTC), |o| {
        if let Some(l) = location {
            o.databases.insert(RegionId::parse("CQ").unwrap(), l);
        }
    })
    .await;
    let sc = t.court("SC0104");
    let mut ids = BTreeSet::new();
    for _ in 0..6 {
        ids.insert(
            submit(&sc, &submission("service.request", "CQ0103"))
                .await
                .request_id,
        );
    }
    for id in &ids {
        reaches(&sc, *id, "relayed").await;
    }
    // Two pollers of the court's case system ask at once.
    let (a, b) = (t.court("CQ0103"), t.court("CQ0103"));
    let (pa, pb) = tokio::join!(a.lease_work(4, None), b.lease_work(4, None));
    let (pa, pb) = (pa.unwrap(), pb.unwrap());
    let got_a: BTreeSet<i64> = pa.items.iter().map(|i| i.cursor).collect();
    let got_b: BTreeSet<i64> = pb.items.iter().map(|i| i.cursor).collect();
    assert!(
        got_a.is_disjoint(&got_b),
        "no item to both pollers: {got_a:?} {got_b:?}"
    );
    assert_eq!(got_a.len() + got_b.len(), 6, "all six handed out");
    assert!(
        pa.items.iter().all(|i| i.receipt.is_none()),
        "not retrieved before the ack"
    );
    let held: BTreeSet<_> = pa
        .items
        .iter()
        .chain(&pb.items)
        .map(|i| i.request_id)
        .collect();
    assert_eq!(held, ids);

    // A acknowledges; B's answer was lost on the way (it never acknowledges).
    let cursors: Vec<i64> = got_a.iter().copied().collect();
    let acked = a.acknowledge(&cursors).await.unwrap();
    assert!(
        acked.items.iter().all(|i| i.receipt.is_some()),
        "receipted at the ack"
    );
    let again = a.acknowledge(&cursors).await.unwrap();
    assert_eq!(
        serde_json::to_value(&again).unwrap(),
        serde_json::to_value(&acked).unwrap(),
        "acknowledging again answers with the receipts kept the first time"
    );
    for item in &pa.items {
        let view = a.request(item.request_id).await.unwrap();
        assert_eq!(view["state"], "retrieved", "{view}");
    }
    for item in &pb.items {
        let view = b.request(item.request_id).await.unwrap();
        assert_eq!(
            view["state"], "received",
            "unacknowledged is not retrieved: {view}"
        );
    }

    // While B's lease runs, nobody gets B's items.
    assert!(a.lease_work(10, None).await.unwrap().items.is_empty());
    // When it ends, they come back, to one poller.
    t.clock.advance(time::Duration::seconds(61));
    let (pa2, pb2) = tokio::join!(a.lease_work(10, None), b.lease_work(10, None));
    let (pa2, pb2) = (pa2.unwrap(), pb2.unwrap());
    let back: BTreeSet<i64> = pa2
        .items
        .iter()
        .chain(&pb2.items)
        .map(|i| i.cursor)
        .collect();
    assert_eq!(back, got_b, "the lost items came back, and only they");
    assert_eq!(
        pa2.items.len() + pb2.items.len(),
        got_b.len(),
        "each to one poller"
    );
    let cursors: Vec<i64> = back.iter().copied().collect();
    b.acknowledge(&cursors).await.unwrap();
    t.clock.advance(time::Duration::seconds(61));
    assert!(
        a.lease_work(10, None).await.unwrap().items.is_empty(),
        "nothing left"
    );
    // A cursor that is not the caller's: 404, nothing acknowledged.
    let p = problem(a.acknowledge(&[i64::MAX]).await);
    assert!(p.is(kuayu::problem::Code::NotFound), "{p}");
    t.shutdown().await;
}

#[tokio::test]
async fn two_pollers_and_a_lost_answer_on_sqlite() {
    two_pollers_and_a_lost_answer("sqlite").await;
}

#[tokio::test]
async fn two_pollers_and_a_lost_answer_on_postgres() {
    two_pollers_and_a_lost_answer("postgres").await;
}
