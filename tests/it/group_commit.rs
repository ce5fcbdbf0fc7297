//! Group commit (both engines): commits that arrive together share one transaction, and
//! a unit that fails inside it gets its own clear error while the others in the same
//! group commit and are answered.

use std::sync::Arc;

use kuayu::ids::MessageId;
use kuayu::store::sql::SqlStore;
use kuayu::store::{OutboundOutcome, StateChange, Store, StoreError, Supervision as _};

use crate::store::outbound;

/// Three units in one group, the middle one opening a request that already exists: it
/// fails alone (its message row rolled back with it), the other two are stored. On
/// SQLite the group first runs without savepoints: the first unit is written, the second
/// fails, that try is rolled back whole and the group runs again with a savepoint per
/// unit, so the audit count below also shows that nothing of the first try stayed.
async fn a_failing_unit_gets_its_own_error_and_its_group_commits(store: SqlStore) {
    let first = MessageId::new();
    store.commit_outbound(outbound(first)).await.unwrap();
    let audit_before = store.audit_entries(0, 100).await.unwrap().len();
    let (a, b) = (MessageId::new(), MessageId::new());
    let mut bad = outbound(MessageId::new());
    if let StateChange::Open(r) = &mut bad.change {
        r.id = first;
    }
    let bad_id = bad.sealed.envelope.id;
    let (groups_before, _) = store.group_commits();

    let answers = store
        .commit_outbound_together(vec![outbound(a), bad, outbound(b)])
        .await;

    assert_eq!(store.group_commits().0, groups_before + 1, "one group");
    assert!(
        matches!(answers[0], Ok(OutboundOutcome::Committed { .. })),
        "{:?}",
        answers[0]
    );
    assert!(
        matches!(answers[2], Ok(OutboundOutcome::Committed { .. })),
        "{:?}",
        answers[2]
    );
    match &answers[1] {
        Err(StoreError::Backend(why)) => assert!(
            why.to_lowercase().contains("unique") || why.contains("duplicate key"),
            "the unit's own error names what failed: {why}"
        ),
        other => panic!("the failing unit gets its own error, not {other:?}"),
    }
    for id in [a, b] {
        assert!(
            store.request(&id).await.unwrap().is_some(),
            "{id} is stored"
        );
    }
    assert!(
        store.sent_message(&bad_id).await.unwrap().is_none(),
        "nothing of the failed unit"
    );
    let due = store.due_outbox(i64::MAX, 10, &[]).await.unwrap();
    assert_eq!(
        due.len(),
        3,
        "the first request and the two good ones wait to be relayed"
    );
    let entries = store.audit_entries(0, 100).await.unwrap();
    assert_eq!(
        entries.len(),
        audit_before + 2,
        "an audit entry per good unit"
    );
    assert!(kuayu::audit::verify_chain(&entries).is_ok());
    store.close().await;
}

/// A group of one runs without a savepoint: when its unit fails after writing (its
/// message row went in before its request clashed), the whole transaction is rolled back,
/// the unit gets its own error, and the next group commits as usual.
async fn a_group_of_one_that_fails_leaves_nothing_and_the_next_commits(store: SqlStore) {
    let first = MessageId::new();
    store.commit_outbound(outbound(first)).await.unwrap();
    let audit_before = store.audit_entries(0, 100).await.unwrap().len();
    let mut bad = outbound(MessageId::new());
    if let StateChange::Open(r) = &mut bad.change {
        r.id = first;
    }
    let bad_id = bad.sealed.envelope.id;
    let (groups_before, units_before) = store.group_commits();

    let answer = store.commit_outbound(bad).await;

    assert_eq!(
        store.group_commits(),
        (groups_before + 1, units_before + 1),
        "a group of one"
    );
    match &answer {
        Err(StoreError::Backend(why)) => assert!(
            why.to_lowercase().contains("unique") || why.contains("duplicate key"),
            "the unit's own error names what failed: {why}"
        ),
        other => panic!("the failing unit gets its own error, not {other:?}"),
    }
    assert!(
        store.sent_message(&bad_id).await.unwrap().is_none(),
        "nothing of the failed unit"
    );
    let after = MessageId::new();
    store.commit_outbound(outbound(after)).await.unwrap();
    assert!(store.request(&after).await.unwrap().is_some());
    let entries = store.audit_entries(0, 100).await.unwrap();
    assert_eq!(
        entries.len(),
        audit_before + 1,
        "only the good unit's entry"
    );
    assert!(kuayu::audit::verify_chain(&entries).is_ok());
    store.close().await;
}

/// Forty commits at once, one of them a message id stored before: every caller is
/// answered (39 stored, one conflict naming the message), and they shared transactions.
async fn concurrent_commits_share_transactions_and_one_failure_stays_alone(store: SqlStore) {
    let stored = outbound(MessageId::new());
    store.commit_outbound(stored.clone()).await.unwrap();
    let (groups_before, units_before) = store.group_commits();
    let store = Arc::new(store);
    let writers: Vec<_> = (0..40)
        .map(|i| {
            let store = Arc::clone(&store);
            let m = if i == 20 {
                stored.clone()
            } else {
                outbound(MessageId::new())
            };
            tokio::spawn(async move { store.commit_outbound(m).await })
        })
        .collect();
    let mut committed = 0;
    for (i, w) in writers.into_iter().enumerate() {
        match w.await.unwrap() {
            Ok(OutboundOutcome::Committed { .. }) => committed += 1,
            Err(StoreError::Conflict(why)) if i == 20 => {
                assert!(why.contains("already stored"), "{why}")
            }
            other => panic!("writer {i}: {other:?}"),
        }
    }
    assert_eq!(committed, 39);
    let (groups, units) = store.group_commits();
    assert_eq!(
        units - units_before,
        40,
        "every commit went through the committer"
    );
    assert!(
        groups - groups_before < 40,
        "commits that arrived together shared a transaction ({} groups for 40)",
        groups - groups_before
    );
    let entries = store.audit_entries(0, 1000).await.unwrap();
    assert_eq!(entries.len(), 40, "the first commit and the 39");
    assert!(kuayu::audit::verify_chain(&entries).is_ok());
    store.close().await;
}

/// While commits keep coming, the SQLite committer keeps the write pool's connection
/// from one group to the next, but only for a few groups: a write through the pool (here
/// an outbox retry made due) gets in before the queue has drained.
#[tokio::test]
async fn other_writes_get_in_while_commits_keep_coming() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(crate::engines::store("sqlite", dir.path()).await.unwrap());
    let (_, units_before) = store.group_commits();
    const COMMITS: u64 = 400;
    let writers: Vec<_> = (0..COMMITS)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.commit_outbound(outbound(MessageId::new())).await })
        })
        .collect();
    // The writers (on this test's one thread) send their units when it yields.
    while store.group_commits().1 == units_before {
        tokio::task::yield_now().await;
    }
    let peer = kuayu::ids::RegionId::parse("CQ").unwrap();
    store.outbox_due_now(&peer, 0).await.unwrap();
    let committed = store.group_commits().1 - units_before;
    assert!(
        committed < COMMITS,
        "the write waited for all {committed} queued commits"
    );
    for w in writers {
        w.await.unwrap().unwrap();
    }
    store.close().await;
}

crate::engines::on_both_engines! {
    a_failing_unit_gets_its_own_error_and_its_group_commits => super::a_failing_unit_gets_its_own_error_and_its_group_commits;
    a_group_of_one_that_fails_leaves_nothing_and_the_next_commits => super::a_group_of_one_that_fails_leaves_nothing_and_the_next_commits;
    concurrent_commits_share_transactions_and_one_failure_stays_alone => super::concurrent_commits_share_transactions_and_one_failure_stays_alone;
}
