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
//! burst would leave the file at its high-water mark, hundreds of MB. The committer's
//! connection sets `journal_size_limit` ([`WAL_LIMIT`]): each time the log starts over, a
//! larger file is cut back to that size. And the thread also checkpoints when no nudge
//! came for [`IDLE`], so that once a burst is over the log is copied back in full and the
//! next commit starts it over (and cuts it). During the burst the file grows as before.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::store::StoreError;

/// The size the log file is cut back to when the log starts over (SQLite's
/// `journal_size_limit`): 64 MB, a few thousand commits.
pub(super) const WAL_LIMIT: i64 = 64 * 1024 * 1024;

/// How long without a nudge before the thread checkpoints anyway.
pub(super) const IDLE: Duration = Duration::from_secs(1);

/// Groups committed between two nudges. A group writes about 25 pages under load, so this
/// checkpoints about as often as SQLite's own default of 1,000 pages.
const EVERY: u32 = 40;

/// The committer's side of the checkpoint thread.
pub(super) struct Checkpointer {
    nudge: SyncSender<()>,
    since: u32,
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
        let spawned = std::thread::Builder::new()
            .name("kuayu-checkpoint".into())
            .spawn(move || {
                // A nudge, or `idle` without one; the checkpointer gone ends it.
                while nudges.recv_timeout(idle) != Err(RecvTimeoutError::Disconnected) {
                    match passive(&conn) {
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
    /// this thread does them. When the log starts over, `conn` cuts its file back to
    /// `wal_limit` bytes ([`WAL_LIMIT`]).
    pub fn take_over(conn: &super::local::Local, wal_limit: i64) -> Result<(), StoreError> {
        conn.batch(&format!(
            "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {wal_limit}"
        ))
    }

    /// Called after each group committed: every [`EVERY`] groups, nudges the thread (a
    /// nudge already waiting is enough).
    pub fn committed(&mut self) {
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
        Checkpointer::take_over(&writer, WAL_LIMIT).unwrap();
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
    async fn after_a_burst_the_log_is_checkpointed_when_idle_and_cut_back_at_the_next_commit() {
        let (_dir, path, mut writer) = store();
        let limit = 1024 * 1024;
        Checkpointer::take_over(&writer, limit).unwrap();
        // A burst of 300 commits of 16 KB (about 5 MB) with no checkpoint between.
        for _ in 0..300 {
            commit(&mut writer).await;
        }
        let burst = wal_bytes(&path);
        assert!(burst > 300 * 16 * 1024, "the log holds {burst} bytes");
        // Then nothing: with no nudge at all, the thread checkpoints once idle.
        let checkpoints =
            Checkpointer::start(&path, Duration::from_millis(10)).expect("the checkpoint thread");
        await_checkpoint(&checkpoints, 0);
        // The next commit starts the log over and cuts its file back to the limit.
        commit(&mut writer).await;
        let after = wal_bytes(&path);
        assert!(
            after <= limit as u64,
            "the log file is {after} bytes after the burst's {burst}, over the {limit} limit"
        );
    }
}
