//! Tests of the checkpoint thread and of the committer's catch-up.

use std::sync::atomic::AtomicBool;

use super::*;
use crate::store::sql::exec::{Exec, args};
use crate::store::sql::local::Local;

/// The size of the write-ahead log next to `db`.
fn wal_bytes(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

/// A store file in WAL mode with one table, and the committer's connection to it with
/// automatic checkpoints handed over.
fn store() -> (tempfile::TempDir, std::path::PathBuf, Local) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sqlite");
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (a BLOB)")
        .unwrap();
    let writer = Local::open(&path).unwrap();
    Checkpointer::take_over(&writer).unwrap();
    (dir, path, writer)
}

/// One group of one row of 16 KB.
async fn commit(writer: &mut Local) {
    let blob = vec![7u8; 16 * 1024];
    writer.batch("BEGIN IMMEDIATE").unwrap();
    writer
        .execute("INSERT INTO t (a) VALUES ($1)", args![&blob])
        .await
        .unwrap();
    writer.batch("COMMIT").unwrap();
}

#[tokio::test]
async fn the_committer_handed_over_never_checkpoints_itself() {
    let (_dir, path, mut writer) = store();
    // 300 commits of 16 KB (about 5 MB, past SQLite's own 1,000 pages of 4 KB): all
    // of it is still in the log.
    for _ in 0..300 {
        commit(&mut writer).await;
    }
    assert!(
        wal_bytes(&path) > 300 * 16 * 1024,
        "the log holds {} bytes",
        wal_bytes(&path)
    );
}

#[tokio::test]
async fn the_log_starts_over_while_the_committer_never_checkpoints() {
    let (_dir, path, mut writer) = store();
    let mut checkpoints = Checkpointer::start(&path, IDLE).expect("the checkpoint thread");
    // 600 commits of 16 KB each (about 10 MB), one group each. Without checkpoints
    // the log holds all of it; with them it starts over and stays a fraction of it.
    let mut largest = 0;
    for _ in 0..600 {
        commit(&mut writer).await;
        checkpoints.committed();
        largest = largest.max(wal_bytes(&path));
        // The log only starts over at a commit after a checkpoint has finished: give
        // the thread its turn at each nudge (no clock decides).
        if checkpoints.since == 0 {
            await_checkpoint(&checkpoints, checkpoints.done());
        }
    }
    assert!(
        checkpoints.done() >= 10,
        "{} checkpoints",
        checkpoints.done()
    );
    assert!(
        largest < 4 * 1024 * 1024,
        "the log reached {largest} bytes for 10 MB written"
    );
}

/// A checkpointer with no thread behind it: its nudges wait, unread, in the channel
/// returned with it.
fn without_thread() -> (Checkpointer, std::sync::mpsc::Receiver<()>) {
    let (nudge, nudges) = sync_channel(1);
    let checkpointer = Checkpointer {
        nudge,
        since: 0,
        owed: 0,
        groups: Arc::default(),
        done: Arc::default(),
    };
    (checkpointer, nudges)
}

#[tokio::test]
async fn the_committers_catch_up_starts_the_log_over_with_no_thread_to_help() {
    let (_dir, path, mut writer) = store();
    let (mut checkpoints, _unread) = without_thread();
    // 800 commits of 16 KB (about 13 MB), no other checkpoint: without the catch-ups
    // the log would hold all of it (the test above); with them it starts over after
    // each stretch of CATCH_UP groups (about 4 MB).
    let commits = 4 * CATCH_UP as u64;
    let mut largest = 0;
    for _ in 0..commits {
        commit(&mut writer).await;
        checkpoints.committed();
        checkpoints.catch_up(writer.connection(), false);
        largest = largest.max(wal_bytes(&path));
    }
    assert!(
        largest < commits * 16 * 1024 / 2,
        "the log reached {largest} bytes for {} written",
        commits * 16 * 1024
    );
}

#[tokio::test]
async fn under_unbroken_load_the_committer_catches_up_four_times_less_often() {
    let (_dir, _path, writer) = store();
    let (mut checkpoints, _unread) = without_thread();
    let mut caught_up = Vec::new();
    for group in 1..=8 * CATCH_UP {
        checkpoints.committed();
        checkpoints.catch_up(writer.connection(), true);
        if checkpoints.owed == 0 {
            caught_up.push(group);
        }
    }
    assert_eq!(caught_up, [4 * CATCH_UP, 8 * CATCH_UP]);
}

/// Set while the test below holds another connection's checkpoint (in its busy handler).
static HOLD: AtomicBool = AtomicBool::new(false);
/// Set once that checkpoint is in its busy handler, holding the checkpoint lock.
static HOLDING: AtomicBool = AtomicBool::new(false);

/// A busy handler that waits (1 ms at a time) while [`HOLD`] is set.
fn hold(_count: i32) -> bool {
    HOLDING.store(true, Ordering::SeqCst);
    if HOLD.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    HOLD.load(Ordering::SeqCst)
}

#[tokio::test]
async fn a_catch_up_that_meets_the_threads_checkpoint_tries_again_a_few_groups_later() {
    let (_dir, path, mut writer) = store();
    for _ in 0..8 {
        commit(&mut writer).await;
    }
    // The thread's checkpoint, mid-way: another connection's full checkpoint holds the
    // checkpoint lock while it waits (in its busy handler) for a writer to finish.
    let open = || Connection::open(&path).unwrap();
    let writing = open();
    writing.execute_batch("BEGIN IMMEDIATE").unwrap();
    HOLD.store(true, Ordering::SeqCst);
    let thread = std::thread::spawn({
        let conn = open();
        move || {
            conn.busy_handler(Some(hold)).unwrap();
            checkpoint(&conn, "FULL").unwrap().busy
        }
    });
    while !HOLDING.load(Ordering::SeqCst) && !thread.is_finished() {
        std::thread::yield_now();
    }
    assert!(
        HOLDING.load(Ordering::SeqCst),
        "the full checkpoint never waited"
    );

    let (mut checkpoints, _unread) = without_thread();
    for _ in 0..CATCH_UP {
        checkpoints.committed();
    }
    checkpoints.catch_up(writer.connection(), false);
    assert_eq!(
        checkpoints.owed,
        4 * CATCH_UP - RETRY,
        "the catch-up that met the checkpoint is owed again soon"
    );

    HOLD.store(false, Ordering::SeqCst);
    assert!(thread.join().unwrap(), "the held checkpoint gave way");
    writing.execute_batch("ROLLBACK").unwrap();
    // Under unbroken load it runs again RETRY groups later, and this time copies it all.
    for group in 1..=RETRY {
        checkpoints.committed();
        checkpoints.catch_up(writer.connection(), true);
        assert_eq!(checkpoints.owed == 0, group == RETRY, "at group {group}");
    }
    let c = checkpoint(writer.connection(), "PASSIVE").unwrap();
    assert!(
        !c.busy && c.copied == c.log,
        "{} of {} frames copied",
        c.copied,
        c.log
    );
}

/// Waits (on the checkpoint thread, not a clock) until it ran more than `before`.
fn await_checkpoint(checkpoints: &Checkpointer, before: u64) {
    let stuck = std::time::Instant::now() + Duration::from_secs(60);
    while checkpoints.done() <= before {
        assert!(std::time::Instant::now() < stuck, "no checkpoint ran");
        std::thread::yield_now();
    }
}

#[tokio::test]
async fn after_a_burst_the_log_file_is_cut_once_the_store_is_idle() {
    let (_dir, path, mut writer) = store();
    // A burst of 300 commits of 16 KB (about 5 MB) with no checkpoint between.
    for _ in 0..300 {
        commit(&mut writer).await;
    }
    let burst = wal_bytes(&path);
    assert!(burst > 300 * 16 * 1024, "the log holds {burst} bytes");
    // Then nothing: with no nudge and no group committed, the thread's first wake
    // copies the log back and cuts the file, with no commit after it.
    let checkpoints =
        Checkpointer::start(&path, Duration::from_millis(10)).expect("the checkpoint thread");
    await_checkpoint(&checkpoints, 0);
    assert_eq!(
        wal_bytes(&path),
        0,
        "the log file after the burst's {burst} bytes"
    );
    // The store still takes commits, and has all of them.
    commit(&mut writer).await;
    let rows = writer
        .optional("SELECT COUNT(*) FROM t", &[])
        .await
        .unwrap()
        .unwrap()
        .int(0)
        .unwrap();
    assert_eq!(rows, 301);
}

#[test]
fn the_log_file_is_cut_only_at_a_quiet_wake_and_once_for_each_quiet_spell() {
    let mut idle = IdleCut::default();
    // Groups came since the last wake: a passive checkpoint.
    assert!(!idle.wake(true, 5));
    // A nudge, though nothing came since: passive.
    assert!(!idle.wake(false, 5));
    // A whole idle spell with no group: cut.
    assert!(idle.wake(true, 5));
    idle.cut(5);
    // Still quiet: cut already.
    assert!(!idle.wake(true, 5));
    // Groups came again: passive until a spell passes without any.
    assert!(!idle.wake(true, 9));
    assert!(idle.wake(true, 9));
    // A cut that gave way (a reader in the way) is tried again at the next quiet wake.
    assert!(idle.wake(true, 9));
}
