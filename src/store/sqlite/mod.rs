//! The embedded SQLite engine: one file, WAL, `synchronous=FULL` (a commit is on disk
//! before the gateway answers).
//!
//! Writes go through a pool of one connection, so transactions never race for the
//! write lock; reads use their own pool and never wait for writers (WAL).

mod agreements;
mod attachments;
mod deadlines;
mod jobs;
mod read;
mod tx;
mod write;

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::StoreError;

/// The SQLite engine.
#[derive(Clone)]
pub struct SqliteStore {
    pub(super) write: SqlitePool,
    pub(super) read: SqlitePool,
}

/// The migrations, embedded at build time, applied in order at open.
fn migrator() -> Migrator {
    let migration = |version: i64, name: &'static str, sql: &'static str| {
        Migration::new(
            version,
            Cow::Borrowed(name),
            MigrationType::Simple,
            sqlx::SqlSafeStr::into_sql_str(sql),
            false,
        )
    };
    Migrator::with_migrations(vec![
        migration(
            1,
            "init",
            include_str!("../../../migrations/sqlite/0001_init.sql"),
        ),
        migration(
            2,
            "agreements",
            include_str!("../../../migrations/sqlite/0002_agreements.sql"),
        ),
        migration(
            3,
            "deadlines",
            include_str!("../../../migrations/sqlite/0003_deadlines.sql"),
        ),
        migration(
            4,
            "inbox_priority",
            include_str!("../../../migrations/sqlite/0004_inbox_priority.sql"),
        ),
        migration(
            5,
            "attachments",
            include_str!("../../../migrations/sqlite/0005_attachments.sql"),
        ),
        migration(
            6,
            "print_jobs",
            include_str!("../../../migrations/sqlite/0006_print_jobs.sql"),
        ),
        migration(
            7,
            "frozen_assets",
            include_str!("../../../migrations/sqlite/0007_frozen_assets.sql"),
        ),
        migration(
            8,
            "deadline_meets",
            include_str!("../../../migrations/sqlite/0008_deadline_meets.sql"),
        ),
        migration(
            10,
            "attachment_bounds",
            include_str!("../../../migrations/sqlite/0010_attachment_bounds.sql"),
        ),
    ])
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Backend(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        migrator().run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore { write, read })
    }

    /// Opens an existing database for reading only (a dry run against a live gateway's
    /// file): no migrations, and every write fails.
    pub async fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Backend(format!(
                "{} does not exist",
                path.display()
            )));
        }
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .read_only(true)
            .busy_timeout(Duration::from_secs(10));
        let read = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        Ok(SqliteStore {
            write: read.clone(),
            read,
        })
    }

    /// Closes both pools, waiting for open transactions.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}
