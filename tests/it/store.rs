//! The store on its own, the same tests on both engines (SQLite and PostgreSQL): each
//! operation is one transaction, late steps never move a request backwards, and a step
//! checked against a state that another writer changed is refused whole.

use kuayu::clock::ManualClock;
use kuayu::crypto::SigningKey;
use kuayu::envelope::{Address, AgreementRef, Envelope, Priority, SchemaRef};
use kuayu::ids::{AgreementId, CourtId, Family, MessageId, MessageKind, RegionId, Sha256};
use kuayu::receipt::{Hop, Receipt};
use kuayu::store::sql::{Location, SqlStore};
use kuayu::store::{Event, Outbound, RequestRecord, Role, StateChange, Store};
use serde_json::json;
use time::macros::datetime;

/// A service request from SC0104 to CQ0103 opening request `id` (shared with group_commit).
pub(crate) fn outbound(id: MessageId) -> Outbound {
    let now = datetime!(2026-11-25 08:00 UTC);
    let key = SigningKey::generate();
    let sc = RegionId::parse("SC").unwrap();
    let envelope = Envelope {
        id,
        kind: MessageKind::parse("service.request").unwrap(),
        schema: SchemaRef {
            id: "service-request".into(),
            version: 1,
        },
        agreement: AgreementRef {
            id: AgreementId::parse("SC-CQ-2026").unwrap(),
            version: 1,
            sha256: Sha256::digest(b"t"),
        },
        sender: Address::of(&CourtId::parse("SC0104").unwrap()),
        recipient: Address::of(&CourtId::parse("CQ0103").unwrap()),
        in_reply_to: None,
        created_at: now,
        expires_at: now + time::Duration::days(7),
        priority: Priority::Normal,
        test: false,
        payload: json!({"case": {}}),
        attachments: vec![],
        signature: None,
    };
    let sealed = envelope.seal(&sc, &key).unwrap();
    let receipt = Receipt::issue(
        Hop::Submission,
        id,
        sealed.digest,
        sc.clone(),
        None,
        now,
        &key,
    );
    let record = RequestRecord {
        id,
        family: Family::Service,
        role: Role::Requester,
        requesting_court: CourtId::parse("SC0104").unwrap(),
        requested_court: CourtId::parse("CQ0103").unwrap(),
        state: "submitted".into(),
        agreement_id: AgreementId::parse("SC-CQ-2026").unwrap(),
        agreement_sha256: Sha256::digest(b"t"),
        priority: 0,
        created_at: now,
        updated_at: now,
        trace_id: Some(TRACE.into()),
    };
    Outbound {
        sealed,
        receipt,
        peer: RegionId::parse("CQ").unwrap(),
        change: StateChange::Open(record),
        event: Event::new("submitted", "court:SC0104"),
        idempotency: None,
        clocks: Default::default(),
        jobs: Vec::new(),
        holds: Default::default(),
        followups: Vec::new(),
        trace_id: TRACE.into(),
        now,
    }
}

/// The trace the test messages travel under.
pub(crate) const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

async fn a_failed_commit_leaves_nothing_behind(store: SqlStore) {
    let id = MessageId::new();
    store.commit_outbound(outbound(id)).await.unwrap();
    let audit_before = store.audit_entries(0, 100).await.unwrap().len();
    // The same request opened again fails inside the transaction (the request row exists)
    // after its message row would have gone in: nothing of it may remain.
    let mut again = outbound(MessageId::new());
    if let StateChange::Open(r) = &mut again.change {
        r.id = id;
    }
    let second_id = again.sealed.envelope.id;
    assert!(store.commit_outbound(again).await.is_err());
    assert_eq!(
        store.audit_entries(0, 100).await.unwrap().len(),
        audit_before
    );
    assert!(
        store
            .due_outbox(i64::MAX, 10, &[])
            .await
            .unwrap()
            .iter()
            .all(|o| o.message_id != second_id)
    );
    let view = store.request_view(&id).await.unwrap().unwrap();
    assert_eq!(view.messages.len(), 1, "only the first message");
    store.close().await;
}

async fn a_late_delivery_does_not_move_a_finished_request_back(store: SqlStore) {
    let clock = ManualClock::new(datetime!(2026-11-25 08:00 UTC));
    let id = MessageId::new();
    store.commit_outbound(outbound(id)).await.unwrap();
    let item = store.due_outbox(i64::MAX, 10, &[]).await.unwrap().remove(0);
    // The peer's answer overtook our record of the delivery: the request is completed.
    let mut completed = outbound(MessageId::new());
    completed.change = StateChange::Advance {
        request_id: id,
        from: "submitted".into(),
        state: "completed".into(),
    };
    completed.event = Event::new("received service.result", "gateway:CQ");
    store.commit_outbound(completed).await.unwrap();
    let receipt = relay_receipt(&item, kuayu::clock::Clock::now(&*clock));
    let change = StateChange::AdvanceFrom {
        request_id: id,
        from: "submitted".into(),
        state: "relayed".into(),
    };
    store
        .outbox_delivered(
            &item,
            receipt,
            Some(change),
            Event::new("relayed", "gateway:CQ"),
            Default::default(),
            kuayu::clock::Clock::now(&*clock),
        )
        .await
        .unwrap();
    let view = store.request_view(&id).await.unwrap().unwrap();
    assert_eq!(view.record.state, "completed");
    assert_eq!(
        view.history.last().unwrap().event,
        "relayed",
        "the delivery is still recorded"
    );
    store.close().await;
}

async fn a_delivery_recorded_twice_is_recorded_once(store: SqlStore) {
    let now = datetime!(2026-11-25 08:00 UTC);
    let id = MessageId::new();
    store.commit_outbound(outbound(id)).await.unwrap();
    let item = store.due_outbox(i64::MAX, 10, &[]).await.unwrap().remove(0);
    let audit_before = store.audit_entries(0, 100).await.unwrap().len();
    // Two deliveries of one outbox item (say, by a relay that read it before the first
    // was recorded) report it: the second changes nothing.
    for round in 0..2 {
        let receipt = relay_receipt(&item, now);
        let change = StateChange::AdvanceFrom {
            request_id: id,
            from: "submitted".into(),
            state: "relayed".into(),
        };
        let read_again = store
            .outbox_delivered(
                &item,
                receipt,
                Some(change),
                Event::new("relayed", "gateway:CQ"),
                Default::default(),
                now,
            )
            .await
            .unwrap();
        // Nothing else of the request waits; a second record writes nothing and asks
        // the relay to read the outbox again, to be safe.
        assert_eq!(read_again, round == 1, "record {}", round + 1);
    }
    // Nor does a late refusal of the same item.
    store
        .outbox_dead(&item, None, Event::new("rejected", "gateway:SC"), now)
        .await
        .unwrap();
    let view = store.request_view(&id).await.unwrap().unwrap();
    let relayed = view.history.iter().filter(|h| h.event == "relayed").count();
    assert_eq!(relayed, 1, "one relayed entry: {:?}", view.history);
    assert!(view.history.iter().all(|h| h.event != "rejected"));
    let relay_receipts = view.receipts.iter().filter(|r| r.hop == Hop::Relay).count();
    assert_eq!(relay_receipts, 1);
    assert_eq!(
        store.audit_entries(0, 100).await.unwrap().len(),
        audit_before + 1,
        "one audit entry for the delivery"
    );
    // The delivered item left the outbox; the peer's last delivery is its time.
    use kuayu::store::Supervision as _;
    assert!(
        store
            .due_outbox(i64::MAX, 10, &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.backlog().await.unwrap().is_empty(), "nothing pending");
    assert_eq!(
        store.last_delivery(item.peer.as_str()).await.unwrap(),
        Some(kuayu::clock::unix_millis(now))
    );
    assert_eq!(store.last_delivery("GZ").await.unwrap(), None);
    assert!(
        store
            .due_outbox(i64::MAX, 10, &[])
            .await
            .unwrap()
            .is_empty()
    );
    store.close().await;
}

/// A fresh store's location on `engine` (a file in `dir`, or a fresh PostgreSQL
/// database); `None` if PostgreSQL is not here.
pub(crate) async fn location(engine: &str, dir: &std::path::Path) -> Option<Location> {
    match engine {
        "sqlite" => Some(Location::Sqlite(dir.join("k.db"))),
        _ => crate::engines::fresh_postgres().await,
    }
}

/// A plain connection to the database at `location`, beside the store.
pub(crate) async fn connect(location: &Location) -> sqlx::AnyConnection {
    use sqlx::Connection;
    let url = match location {
        Location::Sqlite(path) => format!("sqlite://{}", path.display()),
        Location::Postgres(url) => url.clone(),
    };
    sqlx::AnyConnection::connect(&url).await.unwrap()
}

async fn the_audit_log_refuses_rewrites(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let Some(location) = location(engine, dir.path()).await else {
        return;
    };
    let store = SqlStore::open_location(&location).await.unwrap();
    store
        .commit_outbound(outbound(MessageId::new()))
        .await
        .unwrap();
    store.close().await;
    let mut conn = connect(&location).await;
    let err = sqlx::query("UPDATE audit SET actor = 'someone else'")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = sqlx::query("DELETE FROM audit")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}

#[tokio::test]
async fn the_audit_log_refuses_rewrites_on_sqlite() {
    the_audit_log_refuses_rewrites("sqlite").await;
}

#[tokio::test]
async fn the_audit_log_refuses_rewrites_on_postgres() {
    the_audit_log_refuses_rewrites("postgres").await;
}

/// A message's envelope is stored compressed, and read back byte for byte; a row stored
/// before compression (its text in `envelope`) still reads the same.
async fn envelopes_are_stored_compressed_and_read_back_exactly(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let Some(location) = location(engine, dir.path()).await else {
        return;
    };
    let id = MessageId::new();
    let mut m = outbound(id);
    // A payload big enough to be worth compressing, repetitive as real envelopes are.
    let payload = json!({"documents": (0..20).map(|i| json!({"docId": format!("doc-{i}"), "title": "民事起诉状副本"})).collect::<Vec<_>>()});
    let mut envelope = (*m.sealed.envelope).clone();
    envelope.payload = payload;
    m.sealed = envelope
        .seal(&RegionId::parse("SC").unwrap(), &SigningKey::generate())
        .unwrap();
    let store = SqlStore::open_location(&location).await.unwrap();
    store.commit_outbound(m).await.unwrap();
    let text = store.envelope_text(&id).await.unwrap().unwrap();
    let view = store.request_view(&id).await.unwrap().unwrap();
    assert_eq!(
        view.messages[0].envelope["payload"]["documents"][19]["docId"],
        "doc-19"
    );
    store.close().await;

    use sqlx::{Connection, Row};
    let mut conn = connect(&location).await;
    let row = sqlx::query("SELECT envelope, envelope_z FROM messages WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let plain: String = row.try_get("envelope").unwrap();
    let packed: Vec<u8> = row.try_get("envelope_z").unwrap();
    assert_eq!(plain, "", "no second copy in the text column");
    assert!(
        packed.len() * 2 < text.len(),
        "{} bytes stored for {} of JSON",
        packed.len(),
        text.len()
    );
    // As a row stored before envelopes were compressed.
    sqlx::query("UPDATE messages SET envelope = $1, envelope_z = NULL WHERE id = $2")
        .bind(&text)
        .bind(id.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let store = SqlStore::open_location(&location).await.unwrap();
    assert_eq!(store.envelope_text(&id).await.unwrap().unwrap(), text);
    assert_eq!(
        store.request_view(&id).await.unwrap().unwrap().messages[0].envelope,
        view.messages[0].envelope
    );
    store.close().await;
}

#[tokio::test]
async fn envelopes_are_stored_compressed_and_read_back_exactly_on_sqlite() {
    envelopes_are_stored_compressed_and_read_back_exactly("sqlite").await;
}

#[tokio::test]
async fn envelopes_are_stored_compressed_and_read_back_exactly_on_postgres() {
    envelopes_are_stored_compressed_and_read_back_exactly("postgres").await;
}

async fn one_requests_messages_leave_the_outbox_in_commit_order(store: SqlStore) {
    let request = MessageId::new();
    store.commit_outbound(outbound(request)).await.unwrap();
    let mut updates = Vec::new();
    let steps = [
        ("submitted", "accepted"),
        ("accepted", "in_progress"),
        ("in_progress", "completed"),
    ];
    for (from, state) in steps {
        let mut u = outbound(MessageId::new());
        u.change = StateChange::Advance {
            request_id: request,
            from: from.into(),
            state: state.into(),
        };
        updates.push(u.sealed.envelope.id);
        store.commit_outbound(u).await.unwrap();
    }
    // Another request's message is not held back by this one's.
    let other = MessageId::new();
    store.commit_outbound(outbound(other)).await.unwrap();
    let mut sent = Vec::new();
    loop {
        let due = store.due_outbox(i64::MAX, 10, &[]).await.unwrap();
        let ours: Vec<_> = due.iter().filter(|o| o.request_id == request).collect();
        assert!(
            ours.len() <= 1,
            "at most one of a request's messages is due at a time"
        );
        assert!(due.iter().any(|o| o.message_id == other) || !sent.is_empty());
        let Some(item) = ours.first() else { break };
        sent.push(item.message_id);
        let last = sent.len() == steps.len() + 1;
        let receipt = relay_receipt(item, datetime!(2026-11-25 08:00 UTC));
        let event = Event::new("relayed", "gateway:CQ");
        let followed = store
            .outbox_delivered(
                item,
                receipt,
                Some(StateChange::Note {
                    request_id: request,
                }),
                event,
                Default::default(),
                datetime!(2026-11-25 08:00 UTC),
            )
            .await
            .unwrap();
        // The relay reads the outbox again after a delivery only if this says so.
        assert_eq!(
            followed,
            !last,
            "recording delivery {} of {} says whether another of the request's messages waits behind it",
            sent.len(),
            steps.len() + 1
        );
    }
    let mut expected = vec![request];
    expected.extend(updates);
    assert_eq!(sent, expected);
    store.close().await;
}

async fn an_answer_that_overtakes_the_relay_receipt_still_meets_the_deadlines(store: SqlStore) {
    use kuayu::workflow::deadlines::{Clocks, DEADLINE, Due};
    let now = datetime!(2026-11-25 08:00 UTC);
    let id = MessageId::new();
    store.commit_outbound(outbound(id)).await.unwrap();
    let item = store.due_outbox(i64::MAX, 10, &[]).await.unwrap().remove(0);
    // The certificate arrives first and meets both deadlines…
    let mut completed = outbound(MessageId::new());
    completed.change = StateChange::Advance {
        request_id: id,
        from: "submitted".into(),
        state: "completed".into(),
    };
    completed.clocks.meet = vec!["acknowledge", "service.serve"];
    store.commit_outbound(completed).await.unwrap();
    // …then the relay receipt that starts them is filed.
    let due = |name: &str| Due {
        name: name.into(),
        kind: DEADLINE,
        due_at: now + time::Duration::days(2),
    };
    let clocks = Clocks {
        start: vec![due("acknowledge"), due("service.serve")],
        ..Clocks::default()
    };
    let receipt = relay_receipt(&item, now);
    store
        .outbox_delivered(
            &item,
            receipt,
            None,
            Event::new("relayed", "gateway:CQ"),
            clocks,
            now,
        )
        .await
        .unwrap();
    let view = store.request_view(&id).await.unwrap().unwrap().as_of(now);
    let statuses: Vec<(String, String)> = view
        .deadlines
        .iter()
        .map(|d| (d.name.clone(), d.status.clone()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("acknowledge".to_owned(), "met".to_owned()),
            ("service.serve".to_owned(), "met".to_owned())
        ]
    );
    store.close().await;
}

/// Two steps checked against the same state and committed at once (a court's two
/// updates, or `result` and `refused`): exactly one is stored, the other is refused whole.
async fn two_racing_steps_store_exactly_one(store: SqlStore) {
    let id = MessageId::new();
    store.commit_outbound(outbound(id)).await.unwrap();
    let store = std::sync::Arc::new(store);
    let audit_before = store.audit_entries(0, 1000).await.unwrap().len();
    let racers = ["accepted", "refused"].map(|state| {
        let store = std::sync::Arc::clone(&store);
        tokio::spawn(async move {
            let mut step = outbound(MessageId::new());
            step.change = StateChange::Advance {
                request_id: id,
                from: "submitted".into(),
                state: state.into(),
            };
            store.commit_outbound(step).await
        })
    });
    let mut won = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(_) => won += 1,
            Err(kuayu::store::StoreError::Raced(why)) => {
                assert!(why.contains("submitted"), "{why}")
            }
            Err(e) => panic!("a lost race is Raced, not {e}"),
        }
    }
    assert_eq!(won, 1, "exactly one of two racing steps is stored");
    let view = store.request_view(&id).await.unwrap().unwrap();
    assert_eq!(view.history.len(), 2, "opened, then the one step that won");
    assert!(["accepted", "refused"].contains(&view.record.state.as_str()));
    assert_eq!(
        store.audit_entries(0, 1000).await.unwrap().len(),
        audit_before + 1,
        "the loser left no audit entry"
    );
    store.close().await;
}

/// A write through the write pool that reads before it writes (here an administrator's
/// audited action: the last audit entry, then the new one) waits while another
/// connection holds SQLite's write lock, as the checkpoint thread's truncating checkpoint
/// does for a moment, instead of failing with "database is locked": the pool's
/// transactions take the write lock when they begin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_write_waits_for_another_connections_write_lock_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("k.db");
    let store = SqlStore::open(&file).await.unwrap();
    let now = datetime!(2026-11-25 08:00 UTC);
    let detail = json!({"n": 1});
    store
        .record_admin_action("admin", "test.first", "lock", &detail, now)
        .await
        .unwrap();
    let other = rusqlite::Connection::open(&file).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (started, begun) = tokio::sync::oneshot::channel();
    let write = tokio::spawn(async move {
        let _ = started.send(());
        let detail = json!({"n": 2});
        let done = store
            .record_admin_action("admin", "test.second", "lock", &detail, now)
            .await;
        (store, done)
    });
    // The lock is held while the write starts, and given back a little later.
    begun.await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!write.is_finished(), "the write waits for the lock");
    other.execute_batch("COMMIT").unwrap();
    let (store, done) = write.await.unwrap();
    done.expect("the write went in once the lock was given back");
    let entries = store.audit_entries(0, 10).await.unwrap();
    assert_eq!(entries.len(), 2);
    assert!(kuayu::audit::verify_chain(&entries).is_ok());
    store.close().await;
}

/// Many writers at once keep one unbroken audit chain: every entry links to the one
/// before it and its hash is what its content gives. Half of them commit through the
/// group committer (a message sealed), half through the write pool (an administrator's
/// action); on SQLite these are two connections.
async fn concurrent_writers_keep_one_audit_chain(store: SqlStore) {
    let store = std::sync::Arc::new(store);
    let writers: Vec<_> = (0..48)
        .map(|i| {
            let store = std::sync::Arc::clone(&store);
            tokio::spawn(async move {
                if i % 2 == 0 {
                    let m = outbound(MessageId::new());
                    store.commit_outbound(m).await.map(drop)
                } else {
                    let detail = json!({"writer": i});
                    let now = datetime!(2026-11-25 08:00 UTC);
                    store
                        .record_admin_action("admin", "test.action", "chain", &detail, now)
                        .await
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap().unwrap();
    }
    let entries = store.audit_entries(0, 1000).await.unwrap();
    assert_eq!(entries.len(), 48);
    let mut prev = kuayu::audit::GENESIS.to_owned();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, i as i64 + 1, "no gap and no duplicate");
        assert_eq!(e.prev_hash, prev, "entry {} links to the one before", e.seq);
        prev = e.hash.clone();
    }
    assert!(kuayu::audit::verify_chain(&entries).is_ok());
    store.close().await;
}

/// The relay sleeps until the first retry that falls due later: items due already (waiting
/// for a slot or a peer) do not count, nor do the items of the peers it skips.
async fn the_next_due_retry_is_the_earliest_later_one_of_the_peers_not_skipped(store: SqlStore) {
    let cq = RegionId::parse("CQ").unwrap();
    assert_eq!(
        store.next_due(0, &[]).await.unwrap(),
        None,
        "an empty outbox"
    );
    for _ in 0..3 {
        store
            .commit_outbound(outbound(MessageId::new()))
            .await
            .unwrap();
    }
    let items = store.due_outbox(i64::MAX, 10, &[]).await.unwrap();
    // Later than any item's first attempt (each was due when committed, in 2026).
    let now = 1_900_000_000_000;
    assert_eq!(
        store.next_due(now, &[]).await.unwrap(),
        None,
        "every item is due already"
    );
    store
        .outbox_retry(&items[0], now + 9_000, "refused")
        .await
        .unwrap();
    store
        .outbox_retry(&items[1], now + 4_000, "refused")
        .await
        .unwrap();
    assert_eq!(store.next_due(now, &[]).await.unwrap(), Some(now + 4_000));
    assert_eq!(
        store.next_due(now + 4_000, &[]).await.unwrap(),
        Some(now + 9_000),
        "strictly later than asked"
    );
    assert_eq!(
        store.next_due(now, &[cq]).await.unwrap(),
        None,
        "CQ skipped"
    );
    store.close().await;
}

/// The relay's read of what is due leaves out the peers it skips, whatever their queues,
/// and keeps the order (priority, then position) and the limit for the others.
async fn the_due_items_of_skipped_peers_are_left_out(store: SqlStore) {
    let (cq, gz) = (
        RegionId::parse("CQ").unwrap(),
        RegionId::parse("GZ").unwrap(),
    );
    let mut to_gz = Vec::new();
    for i in 0..5 {
        let mut m = outbound(MessageId::new());
        if i % 2 == 1 {
            m.peer = gz.clone();
            to_gz.push(m.sealed.envelope.id);
        }
        store.commit_outbound(m).await.unwrap();
    }
    let all = store.due_outbox(i64::MAX, 10, &[]).await.unwrap();
    assert_eq!(all.len(), 5);
    let ids =
        |items: &[kuayu::store::OutboxItem]| items.iter().map(|i| i.message_id).collect::<Vec<_>>();
    let gz_only = store
        .due_outbox(i64::MAX, 10, std::slice::from_ref(&cq))
        .await
        .unwrap();
    assert_eq!(ids(&gz_only), to_gz, "GZ's items, in order");
    let first = store
        .due_outbox(i64::MAX, 1, std::slice::from_ref(&cq))
        .await
        .unwrap();
    assert_eq!(ids(&first), to_gz[..1], "the limit holds");
    assert!(
        store
            .due_outbox(i64::MAX, 10, &[cq, gz])
            .await
            .unwrap()
            .is_empty()
    );
    store.close().await;
}

async fn the_stored_receipts_are_paged_through_once_each_in_the_order_of_their_keys(
    store: SqlStore,
) {
    let mut ids: Vec<MessageId> = (0..5).map(|_| MessageId::new()).collect();
    for id in &ids {
        store.commit_outbound(outbound(*id)).await.unwrap();
    }
    // Pages of two, each after the last key of the one before (as `ops verify` reads).
    let mut after = kuayu::store::ReceiptKey::default();
    let mut seen = Vec::new();
    loop {
        let page = store.receipts_after(&after, 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = last.key.clone();
        for stored in &page {
            assert_eq!(stored.key.message_id, stored.receipt.message_id.to_string());
            assert_eq!(stored.key.hop, "submission");
            assert_eq!(stored.message_digest, Some(stored.receipt.envelope_sha256));
            seen.push(stored.receipt.message_id);
        }
        assert!(seen.len() <= ids.len(), "a receipt came twice: {seen:?}");
    }
    ids.sort_by_key(ToString::to_string);
    assert_eq!(seen, ids);
    store.close().await;
}

/// CQ's relay receipt of outbox item `item`, issued at `at` (with a key of its own).
fn relay_receipt(item: &kuayu::store::OutboxItem, at: time::OffsetDateTime) -> Receipt {
    Receipt::issue(
        Hop::Relay,
        item.message_id,
        item.digest,
        RegionId::parse("CQ").unwrap(),
        None,
        at,
        &SigningKey::generate(),
    )
}

/// Delivers `id`'s outbox item at `at`.
async fn deliver_at(store: &SqlStore, id: MessageId, at: time::OffsetDateTime) {
    let item = store
        .due_outbox(i64::MAX, 10, &[])
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.message_id == id)
        .unwrap();
    let receipt = relay_receipt(&item, at);
    store
        .outbox_delivered(
            &item,
            receipt,
            None,
            Event::new("relayed", "gateway:CQ"),
            Default::default(),
            at,
        )
        .await
        .unwrap();
}

async fn a_peers_last_delivery_moves_by_a_second_or_more(store: SqlStore) {
    use kuayu::store::Supervision as _;
    let first = datetime!(2026-11-25 08:00 UTC);
    let ids: Vec<MessageId> = (0..4).map(|_| MessageId::new()).collect();
    for id in &ids {
        store.commit_outbound(outbound(*id)).await.unwrap();
    }
    let soon = first + time::Duration::milliseconds(999);
    let later = first + time::Duration::milliseconds(1_000);
    // Each delivery (its time), and the peer's last delivery after it.
    let steps = [
        (first, first, "the first delivery is kept as it is"),
        (soon, first, "999 ms later: the row is not written"),
        (later, later, "a second later: it moves"),
        (first, later, "an earlier time never moves it back"),
    ];
    for (id, (at, want, why)) in ids.iter().zip(steps) {
        deliver_at(&store, *id, at).await;
        let last = store.last_delivery("CQ").await.unwrap();
        assert_eq!(last, Some(kuayu::clock::unix_millis(want)), "{why}");
    }
    store.close().await;
}

crate::engines::on_both_engines! {
    the_stored_receipts_are_paged_through_once_each_in_the_order_of_their_keys => super::the_stored_receipts_are_paged_through_once_each_in_the_order_of_their_keys;
    a_failed_commit_leaves_nothing_behind => super::a_failed_commit_leaves_nothing_behind;
    a_late_delivery_does_not_move_a_finished_request_back => super::a_late_delivery_does_not_move_a_finished_request_back;
    one_requests_messages_leave_the_outbox_in_commit_order => super::one_requests_messages_leave_the_outbox_in_commit_order;
    an_answer_that_overtakes_the_relay_receipt_still_meets_the_deadlines => super::an_answer_that_overtakes_the_relay_receipt_still_meets_the_deadlines;
    two_racing_steps_store_exactly_one => super::two_racing_steps_store_exactly_one;
    concurrent_writers_keep_one_audit_chain => super::concurrent_writers_keep_one_audit_chain;
    a_delivery_recorded_twice_is_recorded_once => super::a_delivery_recorded_twice_is_recorded_once;
    a_peers_last_delivery_moves_by_a_second_or_more => super::a_peers_last_delivery_moves_by_a_second_or_more;
    the_next_due_retry_is_the_earliest_later_one_of_the_peers_not_skipped => super::the_next_due_retry_is_the_earliest_later_one_of_the_peers_not_skipped;
    the_due_items_of_skipped_peers_are_left_out => super::the_due_items_of_skipped_peers_are_left_out;
}
