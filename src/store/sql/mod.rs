//! The SQL store: one implementation of [`crate::store::Store`] for two engines, chosen
//! by the configuration's `database` URL.
//!
//! - **SQLite** (`sqlite://…` or a plain path; the embedded default): one file, WAL,
//!   `synchronous=FULL` (a commit is on disk before the gateway answers). Writes go
//!   through a pool of one connection, so this process's transactions never race for
//!   the write lock (the group committer writes on a connection of its own, `local`,
//!   while it holds that one); each takes the lock when it begins
//!   (`Dialect::begin_write`), so one that another connection holds for a moment (the
//!   checkpoint thread's, `kuayu purge` beside the gateway) is waited for. Reads use
//!   their own pool and never wait for writers (WAL).
//! - **PostgreSQL** (`postgres://…`): one pool for reads and writes, shared by any number
//!   of replicas of a region. Every state change is conditional on the state it read, and
//!   appends to the audit chain are serialised by a transaction-scoped advisory lock (see
//!   ARCHITECTURE.md, "Several replicas").
//!
//! The pipeline's commits (a court's message accepted, a peer's message received) are
//! grouped: those that arrive together share one transaction and one fsync, each under
//! its own savepoint (`group`).
//!
//! Statements are written once with `$1, $2, …` placeholders, which both engines read;
//! what differs lives in [`dialect`].

mod agreements;
mod answers;
mod attachments;
mod audit;
mod checkpoint;
mod deadlines;
pub mod dialect;
mod due;
mod exec;
mod group;
mod group_tx;
mod jobs;
mod local;
mod messages;
mod migrations;
mod outbox;
mod packed;
mod purge;
mod read;
mod readers;
mod receipt_rows;
mod receipts;
mod retrievals;
pub mod scratch;
mod slices;
mod supervision;
mod tx;
mod units;
mod work;
mod write;

use std::path::Path;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::Executor;
use sqlx::any::AnyPoolOptions;

pub use dialect::Dialect;

use super::StoreError;

/// The SQL store over either engine.
#[derive(Clone)]
pub struct SqlStore {
    pub(super) write: AnyPool,
    pub(super) read: AnyPool,
    pub(super) dialect: Dialect,
    /// This process's name in outbox leases (fresh at every open).
    pub(super) replica: std::sync::Arc<str>,
    /// How long this replica holds the outbox items it claims, in milliseconds.
    pub(super) outbox_lease_ms: i64,
    /// Where the pipeline's commits go to be grouped ([`group`]).
    pub(super) committer: group::Committer,
    /// The SQLite file (the committer opens its own connection to it); `None` on
    /// PostgreSQL.
    pub(super) file: Option<std::sync::Arc<Path>>,
    /// Idle SQLite connections for bounded reads ([`readers`]).
    pub(super) readers: std::sync::Arc<readers::Readers>,
}

/// What the configuration's `database` names: an engine and where it is. Written in the
/// configuration as `postgres://…` / `postgresql://…`, `sqlite://PATH`, or a plain file
/// path (SQLite).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(from = "String", into = "String")]
pub enum Location {
    /// A SQLite file.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

impl From<String> for Location {
    fn from(setting: String) -> Self {
        if setting.starts_with("postgres://") || setting.starts_with("postgresql://") {
            return Location::Postgres(setting);
        }
        let path = setting.strip_prefix("sqlite://").unwrap_or(&setting);
        Location::Sqlite(path.into())
    }
}

impl From<Location> for String {
    fn from(l: Location) -> String {
        match l {
            Location::Sqlite(p) => p.to_string_lossy().into_owned(),
            Location::Postgres(url) => url,
        }
    }
}

impl From<std::path::PathBuf> for Location {
    fn from(p: std::path::PathBuf) -> Self {
        Location::Sqlite(p)
    }
}

impl Location {
    /// The SQLite file, if this is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Location::Sqlite(p) => Some(p),
            Location::Postgres(_) => None,
        }
    }

    /// The location for logs and errors: a PostgreSQL URL without its password.
    pub fn display(&self) -> String {
        match self {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => {
                    let userinfo = &url[scheme + 3..at];
                    let user = userinfo.split(':').next().unwrap_or_default();
                    format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
                }
                _ => url.clone(),
            },
        }
    }
}

/// A fresh name for this process in outbox leases.
fn replica_name() -> std::sync::Arc<str> {
    uuid::Uuid::now_v7().simple().to_string().into()
}

/// A SQLite URL for sqlx: the path percent-encoded where it must be.
fn sqlite_url(path: &Path, mode: &str) -> String {
    let mut url = String::from("sqlite://");
    for b in path.to_string_lossy().bytes() {
        match b {
            b'%' | b'?' | b'#' | b' ' => url.push_str(&format!("%{b:02X}")),
            _ => url.push(char::from(b)),
        }
    }
    url.push_str("?mode=");
    url.push_str(mode);
    url
}

/// The settings every SQLite connection takes when it opens.
pub(super) const SQLITE_PRAGMAS: &str = "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA temp_store = MEMORY;";

/// What the writer sets besides: 4 KB pages, and write-ahead logging (kept in the file,
/// so readers see it too; a read-only connection cannot set it on a file that does not
/// have it yet). The page size takes effect only on a new, empty file (before WAL is
/// set); a database made before keeps its pages (8 KB for those made from `2d087c7` on,
/// 4 KB before). Why 4 KB: each B-tree a commit changes is at least one whole page in the
/// write-ahead log, and most change one or two rows; a compressed envelope (about 1.2 KB
/// with its row) packs about as tightly into 4 KB pages as into 8 KB ones (3,489 against
/// 3,478 bytes stored a request at SC), while the log takes half the bytes a page (see
/// the README's benchmark section).
const SQLITE_WRITER_PRAGMAS: &str = "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL;";

/// A pool of SQLite connections. They are not pinged before each use (a round trip to
/// the connection's worker thread per statement, for a file that cannot go away) and
/// are kept open (with their prepared statements) as long as the store is.
fn sqlite_pool(max: u32, writer: bool) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .test_before_acquire(false)
        .idle_timeout(None)
        .max_lifetime(None)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if writer {
                    conn.execute(SQLITE_WRITER_PRAGMAS).await?;
                }
                conn.execute(SQLITE_PRAGMAS).await?;
                Ok(())
            })
        })
}

impl SqlStore {
    /// Opens the database `location` names and brings its schema up to date.
    pub async fn open_location(location: &Location) -> Result<Self, StoreError> {
        match location {
            Location::Sqlite(path) => Self::open(path).await,
            Location::Postgres(url) => Self::open_postgres(url).await,
        }
    }

    /// Opens (creating if needed) the SQLite file at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Backend(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let write = sqlite_pool(1, true)
            .connect(&sqlite_url(path, "rwc"))
            .await?;
        migrations::sqlite().run(&write).await?;
        let read = sqlite_pool(4, false)
            .connect(&sqlite_url(path, "ro"))
            .await?;
        Ok(SqlStore {
            write,
            read,
            dialect: Dialect::Sqlite,
            replica: replica_name(),
            outbox_lease_ms: outbox::OUTBOX_LEASE_MS,
            committer: Default::default(),
            readers: Default::default(),
            file: Some(std::sync::Arc::from(path)),
        })
    }

    /// Connects to PostgreSQL at `url` and brings its schema up to date. Replicas of one
    /// region share the database; the migrations take PostgreSQL's migration lock, so
    /// replicas starting together apply them once.
    pub async fn open_postgres(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        migrations::postgres().run(&pool).await?;
        Ok(SqlStore {
            write: pool.clone(),
            read: pool,
            dialect: Dialect::Postgres,
            replica: replica_name(),
            outbox_lease_ms: outbox::OUTBOX_LEASE_MS,
            committer: Default::default(),
            readers: Default::default(),
            file: None,
        })
    }

    /// Connects to PostgreSQL at `url` for reading only: no migrations, and every
    /// transaction is read-only (`default_transaction_read_only`).
    pub async fn open_postgres_read_only(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET default_transaction_read_only = on")
                        .await?;
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        Ok(SqlStore {
            write: pool.clone(),
            read: pool,
            dialect: Dialect::Postgres,
            replica: replica_name(),
            outbox_lease_ms: outbox::OUTBOX_LEASE_MS,
            committer: Default::default(),
            readers: Default::default(),
            file: None,
        })
    }

    /// Opens an existing database for reading only (a dry run against a live gateway's
    /// file): no migrations, and every write fails.
    pub async fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        if !path.is_file() {
            return Err(StoreError::Backend(format!(
                "{} does not exist",
                path.display()
            )));
        }
        let read = sqlite_pool(2, false)
            .connect(&sqlite_url(path, "ro"))
            .await?;
        Ok(SqlStore {
            write: read.clone(),
            read,
            dialect: Dialect::Sqlite,
            replica: replica_name(),
            outbox_lease_ms: outbox::OUTBOX_LEASE_MS,
            committer: Default::default(),
            readers: Default::default(),
            file: None,
        })
    }

    /// This store with outbox leases of `ms` milliseconds (the gateway makes them twice
    /// its relay's request timeout: longer than any attempt, so a live replica keeps what
    /// it is sending, and a killed replica's work passes on soon).
    pub fn with_outbox_lease(mut self, ms: i64) -> Self {
        self.outbox_lease_ms = ms.max(1);
        self
    }

    /// The engine this store talks to.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Closes both pools, waiting for open transactions.
    pub async fn close(&self) {
        self.readers.clear();
        self.write.close().await;
        self.read.close().await;
    }
}
