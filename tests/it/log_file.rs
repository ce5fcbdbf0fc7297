//! A running gateway's SQLite log file (`kuayu.db-wal`): grown by a burst of work, cut to
//! nothing by the checkpoint thread once nothing has been committed for a second, with no
//! commit after the burst, while the gateway keeps serving (its relay still reading).

use crate::support::*;

/// The size of SC's log file, or `None` while there is none.
fn sc_log_bytes(t: &TestFed) -> Option<u64> {
    let wal = t.fed.dir.join("SC").join("kuayu.db-wal");
    std::fs::metadata(wal).ok().map(|m| m.len())
}

#[tokio::test]
async fn a_running_gateways_log_file_is_cut_once_its_store_is_idle() {
    let t = TestFed::start().await;
    let sc = t.court("SC0104");
    let mut burst = Vec::new();
    for _ in 0..20 {
        let id = submit(&sc, &submission("service.request", "CQ0103"))
            .await
            .request_id;
        burst.push(id);
    }
    for id in &burst {
        reaches(&sc, *id, "relayed").await;
    }
    let grown = sc_log_bytes(&t).unwrap_or(0);
    assert!(grown > 0, "the burst went through SC's log");
    eventually("SC's log file cut once its store is idle", || async {
        (sc_log_bytes(&t) == Some(0)).then_some(())
    })
    .await;
    // The store still takes work: a new request is committed and relayed.
    let id = submit(&sc, &submission("service.request", "CQ0103"))
        .await
        .request_id;
    reaches(&sc, id, "relayed").await;
    assert!(sc_log_bytes(&t).unwrap_or(0) > 0, "the log started again");
    t.shutdown().await;
}
