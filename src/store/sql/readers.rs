//! Reads on the hot path without a thread hop. sqlx runs each SQLite statement on a
//! worker thread of its connection, and pings it again when the connection goes back to
//! its pool: two wake-ups of another thread per read, on a machine whose cores the
//! pipeline keeps busy. On SQLite a [`Reader`] is instead one of a few read-only
//! connections of this store, used on the caller's thread straight into SQLite (a point
//! read of the pipeline takes microseconds). On PostgreSQL it is a connection of the read
//! pool. Both run the same statements through [`Exec`].
//!
//! Only bounded reads use it: statements that find rows by key, or read a page whose
//! size a limit caps (the relay's due items, the receipts due to go back, an inbox page
//! of at most 500 rows, found through an index). Long reads (dashboards, exports, audit
//! and message listings) stay on the read pool, whose worker threads keep them off the
//! runtime.

use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use sqlx::Any;
use sqlx::pool::PoolConnection;

use super::SqlStore;
use super::exec::{Arg, Exec, Row};
use super::local::Local;
use crate::store::StoreError;

/// Most SQLite read connections of a store's own. A read that finds them all in use goes
/// to the read pool: the number of open files stays bounded however many read at once.
const KEPT: usize = 4;

/// The read connections of a SQLite store: those idle, and how many there are in all.
#[derive(Default)]
pub(crate) struct Readers {
    inner: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    idle: Vec<Local>,
    open: usize,
}

impl Readers {
    /// Closes the idle connections (the store is closing).
    pub fn clear(&self) {
        let mut kept = self.lock();
        kept.open -= kept.idle.len();
        kept.idle.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        // A panic while it was held cannot leave it half-changed (a push or a pop and a
        // count).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle connection; `Ok(None)` if there is none and [`KEPT`] are open.
    fn take(&self, file: &Path) -> Result<Option<Local>, StoreError> {
        {
            let mut kept = self.lock();
            if let Some(conn) = kept.idle.pop() {
                return Ok(Some(conn));
            }
            if kept.open >= KEPT {
                return Ok(None);
            }
            kept.open += 1;
        }
        Local::open_reader(file)
            .map(Some)
            .inspect_err(|_| self.lock().open -= 1)
    }

    /// Gives `conn` back.
    fn give_back(&self, conn: Local) {
        self.lock().idle.push(conn);
    }
}

/// A connection to read from, given back when dropped.
pub(super) enum Reader<'a> {
    /// A SQLite connection of this store's own, used on the caller's thread.
    Local {
        conn: Option<Local>,
        home: &'a Readers,
    },
    /// A connection of the read pool.
    Pool(PoolConnection<Any>),
}

impl SqlStore {
    /// A connection for a bounded read (see the module's documentation).
    pub(super) async fn reader(&self) -> Result<Reader<'_>, StoreError> {
        if let Some(file) = &self.file
            && let Some(conn) = self.readers.take(file)?
        {
            return Ok(Reader::Local {
                conn: Some(conn),
                home: &self.readers,
            });
        }
        Ok(Reader::Pool(self.read.acquire().await?))
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Reader::Local { conn, home } = self
            && let Some(conn) = conn.take()
        {
            home.give_back(conn);
        }
    }
}

impl Reader<'_> {
    fn exec(&mut self) -> &mut (dyn Exec + '_) {
        match self {
            Reader::Local { conn, .. } => conn.as_mut().expect("taken only when dropped"),
            Reader::Pool(conn) => &mut **conn,
        }
    }
}

#[async_trait]
impl Exec for Reader<'_> {
    fn postgres(&self) -> bool {
        matches!(self, Reader::Pool(conn) if conn.backend_name() == "PostgreSQL")
    }

    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        self.exec().execute(sql, args).await
    }

    async fn optional(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>, StoreError> {
        self.exec().optional(sql, args).await
    }

    async fn rows(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, StoreError> {
        self.exec().rows(sql, args).await
    }
}

impl Local {
    /// Opens `path` (which the store has created and migrated) for reading only.
    pub fn open_reader(path: &Path) -> Result<Self, StoreError> {
        Local::open_with(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::exec::args;

    /// A reader given back after reading one row of many holds no snapshot: it sees what
    /// was committed since, and it is used again rather than opened anew.
    #[tokio::test]
    async fn a_reader_given_back_sees_later_commits_and_is_used_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kuayu.db");
        let store = SqlStore::open(&path).await.unwrap();
        let writer = rusqlite::Connection::open(&path).unwrap();
        writer
            .execute_batch("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1), (2);")
            .unwrap();
        let count = "SELECT count(*) FROM t";
        {
            let mut reader = store.reader().await.unwrap();
            let first = reader.optional("SELECT a FROM t ORDER BY a", &[]).await;
            assert_eq!(first.unwrap().unwrap().int(0).unwrap(), 1);
        }
        assert_eq!(store.readers.lock().idle.len(), 1, "given back");
        writer.execute("INSERT INTO t VALUES ($1)", [3]).unwrap();
        let mut reader = store.reader().await.unwrap();
        assert_eq!(store.readers.lock().idle.len(), 0, "the kept one is used");
        let row = reader.optional(count, args![]).await.unwrap().unwrap();
        assert_eq!(row.int(0).unwrap(), 3, "the later commit is seen");
        let refused = reader.execute("INSERT INTO t VALUES (4)", &[]).await;
        assert!(refused.is_err(), "a reader cannot write");
        drop(reader);
        store.close().await;
    }

    /// However many read at once, at most [`KEPT`] connections of the store's own are
    /// open; the reads beyond them go to the read pool.
    #[tokio::test]
    async fn readers_beyond_the_kept_number_read_through_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlStore::open(&dir.path().join("kuayu.db")).await.unwrap();
        let mut all = Vec::new();
        for _ in 0..KEPT + 2 {
            all.push(store.reader().await.unwrap());
        }
        let own = all
            .iter()
            .filter(|r| matches!(r, Reader::Local { .. }))
            .count();
        assert_eq!(own, KEPT);
        for reader in &mut all {
            let row = reader.optional("SELECT 1", &[]).await.unwrap().unwrap();
            assert_eq!(row.int(0).unwrap(), 1);
        }
        drop(all);
        assert_eq!(store.readers.lock().idle.len(), KEPT, "all given back");
        store.close().await;
        assert_eq!(store.readers.lock().open, 0, "closed");
    }
}
