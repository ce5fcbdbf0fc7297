//! SQLite checkpoints on a thread of their own, so that no commit waits for one.
//!
//! In WAL mode each commit appends the pages it changed to the write-ahead log, and a
//! checkpoint copies them back into the database file (and fsyncs it) so that the log can
//! start over. By default SQLite runs that checkpoint inside the commit that takes the log
//! past 1,000 pages, on the committing connection: every fortieth group or so, the
//! committer (and every caller waiting on it) also waited for the copy and the fsync of
//! the database file. Here the committer's connection turns automatic checkpoints off and
//! nudges this thread every [`EVERY`] groups; the thread runs a passive checkpoint on its
//! own connection, which copies what no reader still needs without blocking the writer or
//! the readers. Crash safety is SQLite's: a checkpoint cut short is redone from the log.
//!
//! The log file keeps the size it reached (SQLite writes over it from the start when the
//! log starts over), and under sustained load the log seldom starts over (only after a
//! checkpoint copied all of it back, which readers on older snapshots prevent), so a
//! burst would leave the file at its high-water mark, hundreds of MB. So once the store
//! has been idle for [`IDLE`] (no group committed since the thread last woke), the thread
//! runs a truncating checkpoint instead: it copies the whole log back and, if no reader
//! still uses it, cuts the file to nothing. It never waits for a lock to do so (no busy
//! handler: if a reader or the writer is in the way, it does what a passive checkpoint
//! does and tries again at the next idle wake), and a commit that arrives meanwhile waits
//! for that one checkpoint at most. The file is never cut inside a commit: SQLite's
//! `journal_size_limit` (set here before) cuts it in the commit that starts the log over,
//! which under load is whenever a checkpoint has caught up, and in the benchmark those
//! cuts of a file of hundreds of MB took preservation p99 from about 27 to about 86 ms
//! and p99 at half load from about 21 to about 32 ms (medians of three alternating
//! pairs, `--requests 2000 --concurrency 16 --queued 10000`). During a burst the file
//! grows as before.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::store::StoreError;

/// How long without a nudge before the thread checkpoints anyway; with no group committed
/// meanwhile either, the checkpoint also cuts the log file.
pub(super) const IDLE: Duration = Duration::from_secs(1);

/// Groups committed between two nudges. A group writes about 25 pages under load, so this
/// checkpoints about as often as SQLite's own default of 1,000 pages.
const EVERY: u32 = 40;

/// The committer's side of the checkpoint thread.
pub(super) struct Checkpointer {
    nudge: SyncSender<()>,
    since: u32,
    /// Groups committed so far: the thread cuts the log only when this did not move for
    /// a whole [`IDLE`].
    groups: Arc<AtomicU64>,
    /// Checkpoints run so far (read by the tests).
    #[cfg(test)]
    done: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Opens a connection to `path` (created and migrated) and starts the thread, which
    /// also checkpoints after `idle` without a nudge. The thread ends when the
    /// checkpointer is dropped. `None` (logged) if either fails: the committer then keeps
    /// SQLite's automatic checkpoints.
    pub fn start(path: &Path, idle: Duration) -> Option<Checkpointer> {
        let opened = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|conn| {
            conn.execute_batch(super::SQLITE_PRAGMAS)?;
            // Never wait for a lock: a passive checkpoint takes none it would wait for,
            // and a truncating one gives way (see `truncate`).
            conn.busy_timeout(Duration::ZERO)?;
            Ok(conn)
        });
        let conn = match opened {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "no checkpoint connection; the committer checkpoints");
                return None;
            }
        };
        // One nudge waits at most: nudges that arrive during a checkpoint fold into one.
        let (nudge, nudges) = sync_channel::<()>(1);
        let done = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&done);
        let groups = Arc::new(AtomicU64::new(0));
        let committed = Arc::clone(&groups);
        let spawned = std::thread::Builder::new()
            .name("kuayu-checkpoint".into())
            .spawn(move || {
                let mut idle_cut = IdleCut::default();
                // A nudge, or `idle` without one; the checkpointer gone ends it.
                loop {
                    let woke = nudges.recv_timeout(idle);
                    if woke == Err(RecvTimeoutError::Disconnected) {
                        break;
                    }
                    let now = committed.load(Ordering::Relaxed);
                    let ran = if idle_cut.wake(woke.is_err(), now) {
                        truncate(&conn).map(|whole| {
                            if whole {
                                idle_cut.cut(now);
                            }
                        })
                    } else {
                        passive(&conn)
                    };
                    match ran {
                        Ok(()) => counted.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            tracing::warn!(error = %e, "checkpoint failed; the next nudge retries");
                            continue;
                        }
                    };
                }
            });
        match spawned {
            Ok(_) => Some(Checkpointer {
                nudge,
                since: 0,
                groups,
                #[cfg(test)]
                done,
            }),
            Err(e) => {
                tracing::warn!(error = %e, "no checkpoint thread; the committer checkpoints");
                None
            }
        }
    }

    /// Turns automatic checkpoints off on `conn` (the committer's connection): from now on
    /// this thread does them.
    pub fn take_over(conn: &super::local::Local) -> Result<(), StoreError> {
        conn.batch("PRAGMA wal_autocheckpoint = 0")
    }

    /// Called after each group committed: every [`EVERY`] groups, nudges the thread (a
    /// nudge already waiting is enough).
    pub fn committed(&mut self) {
        self.groups.fetch_add(1, Ordering::Relaxed);
        self.since += 1;
        if self.since >= EVERY {
            self.since = 0;
            match self.nudge.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) => {}
                Err(TrySendError::Disconnected(())) => {
                    tracing::warn!("the checkpoint thread has stopped");
                }
            }
        }
    }

    /// Checkpoints run so far.
    #[cfg(test)]
    fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
}

/// One passive checkpoint: copies the log's frames that no reader still needs into the
/// database file, without waiting for any lock.
fn passive(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

/// When the thread cuts the log file: at a wake without a nudge, with no group committed
/// since the previous wake, unless it cut it at that count of groups already (an idle
/// store is cut once, not at every wake).
#[derive(Debug, Default)]
struct IdleCut {
    /// Groups committed at the previous wake.
    seen: u64,
    /// Groups committed when the file was last cut.
    cut: Option<u64>,
}

impl IdleCut {
    /// A wake, by `idle` passing (`timed_out`) or by a nudge, with `groups` committed so
    /// far: whether to cut the log file now.
    fn wake(&mut self, timed_out: bool, groups: u64) -> bool {
        let quiet = timed_out && groups == self.seen && self.cut != Some(groups);
        self.seen = groups;
        quiet
    }

    /// The file was cut with `groups` committed.
    fn cut(&mut self, groups: u64) {
        self.cut = Some(groups);
    }
}

/// One truncating checkpoint (on the thread's connection, which has no busy handler):
/// copies the whole log back and cuts the file to nothing, or, with a reader or the
/// writer in the way, does what [`passive`] does. Whether it cut the file.
fn truncate(conn: &Connection) -> rusqlite::Result<bool> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
    Ok(busy == 0)
}

#[cfg(test)]
mod tests {
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
}
