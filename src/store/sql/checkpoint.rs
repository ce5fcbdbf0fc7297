//! SQLite checkpoints on a thread of their own, so that commits seldom wait for one.
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
//! The log starts over (SQLite writes over the file from its start) only at a commit that
//! finds all of it copied back and no reader on an older snapshot. Under sustained load
//! the thread's checkpoint is always behind the newest commit, so the log never started
//! over: in a benchmark run of 4,000 requests one gateway's log grew to 303 MB, and each
//! commit appended to the file, which costs the file system more than writing over it
//! (each `fdatasync` also writes the file's new size). So every [`CATCH_UP`] groups (four
//! times that while work keeps waiting), the committer itself runs a passive checkpoint
//! between two groups, once their answers have gone ([`Checkpointer::catch_up`]): no
//! group commits meanwhile (the only other writer, the write pool's one connection, is
//! seldom used), so it copies back all that no reader still needs, and the next commit
//! starts the log over. The thread has copied most of it already; the catch-up
//! took 4 to 17 ms in the benchmark (mostly the database file's `fsync`), and the same
//! run's logs stayed within 43 and 34 MB. A reader in the way at that commit only puts
//! the start over off to the next catch-up; the thread in the way (mid-checkpoint), only
//! for a few groups ([`RETRY`]).
//!
//! The file keeps the size it reached, so a burst leaves it at its high-water mark. So
//! once the store has been idle for [`IDLE`] (no group committed since the thread last woke), the thread
//! runs a truncating checkpoint instead: it copies the whole log back and, if no reader
//! still uses it, cuts the file to nothing. It never waits for a lock to do so (no busy
//! handler: if a reader or the writer is in the way, it does what a passive checkpoint
//! does and tries again at the next idle wake), and a commit that arrives meanwhile waits
//! for that one checkpoint at most. The file is never cut inside a commit: SQLite's
//! `journal_size_limit` (set here before) cuts it in the commit that starts the log over,
//! which under load is whenever a checkpoint has caught up, and in the benchmark those
//! cuts of a file of hundreds of MB took preservation p99 from about 27 to about 86 ms
//! and p99 at half load from about 21 to about 32 ms (medians of three alternating
//! pairs, `--requests 2000 --concurrency 16 --queued 10000`).

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

/// Groups committed between two catch-ups on the committer's own connection (see
/// [`Checkpointer::catch_up`]).
const CATCH_UP: u32 = 200;

/// Groups after which a catch-up that found the thread mid-checkpoint tries again (at
/// the next group while nothing else waits).
const RETRY: u32 = 4;

/// The committer's side of the checkpoint thread.
pub(super) struct Checkpointer {
    nudge: SyncSender<()>,
    since: u32,
    /// Groups committed since the committer last caught up.
    owed: u32,
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
                owed: 0,
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
        self.owed += 1;
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

    /// Called by the committer between groups, once their answers have gone, with
    /// whether more work waits. Once [`CATCH_UP`] groups were committed since the last
    /// catch-up (four times that while more keeps waiting), runs a passive
    /// checkpoint on `conn`, the committer's own connection: no group commits during it,
    /// so it copies back everything no reader still needs (the thread has already copied
    /// most of it), and the next commit starts the log over.
    ///
    /// If the thread is mid-checkpoint, SQLite answers busy at once and nothing is
    /// copied; the catch-up is then tried again after [`RETRY`] groups (at the next one
    /// while nothing else waits), not after a whole stretch: in the benchmark about a
    /// third of the catch-ups met the thread so.
    pub fn catch_up(&mut self, conn: &Connection, more: bool) {
        if self.owed < CATCH_UP || (more && self.owed < 4 * CATCH_UP) {
            return;
        }
        let started = std::time::Instant::now();
        let ran = checkpoint(conn, "PASSIVE");
        let took_us = started.elapsed().as_micros() as u64;
        match ran {
            Ok(c) if c.busy => {
                self.owed = 4 * CATCH_UP - RETRY;
                tracing::debug!(
                    took_us,
                    "the committer's catch-up met the thread's checkpoint"
                );
            }
            Ok(c) => {
                self.owed = 0;
                tracing::debug!(
                    took_us,
                    log = c.log,
                    copied = c.copied,
                    "the committer caught up"
                );
            }
            Err(e) => {
                self.owed = 0;
                tracing::warn!(error = %e, "the committer's checkpoint failed");
            }
        }
    }

    /// Checkpoints run so far.
    #[cfg(test)]
    fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
}

/// What `PRAGMA wal_checkpoint` answered.
struct Checkpoint {
    /// Whether it could not run (or not finish) for a lock another connection held.
    busy: bool,
    /// Frames in the log (-1 if it could not run).
    log: i64,
    /// Frames of it copied back to the database file (-1 if it could not run).
    copied: i64,
}

/// One checkpoint in `mode` (`PASSIVE`, `TRUNCATE`) on `conn`.
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<Checkpoint> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok(Checkpoint {
            busy: row.get::<_, i64>(0)? != 0,
            log: row.get(1)?,
            copied: row.get(2)?,
        })
    })
}

/// One passive checkpoint: copies the log's frames that no reader still needs into the
/// database file, without waiting for any lock.
fn passive(conn: &Connection) -> rusqlite::Result<()> {
    checkpoint(conn, "PASSIVE").map(|_| ())
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
    checkpoint(conn, "TRUNCATE").map(|c| !c.busy)
}

#[cfg(test)]
mod tests;
