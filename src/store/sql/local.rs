//! The SQLite committer's own connection: the group commit's statements run on the
//! committer's thread, straight into SQLite, each prepared once and kept (one hand-off
//! per group instead of a round trip to a worker thread per statement).
//!
//! It writes to the same file as the store's write pool. The two never write at once:
//! the committer holds the write pool's only connection for the whole group (see
//! [`super::group`]), so SQLite's write lock is never contended between them.

use std::path::Path;

use async_trait::async_trait;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Statement};

use super::exec::{Arg, Cell, Exec, Row};
use crate::store::StoreError;

/// Statements kept prepared (the pipeline's writes are fewer).
const PREPARED: usize = 64;

/// A read-write connection to the store's SQLite file.
pub(super) struct Local {
    conn: Connection,
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl Local {
    /// Opens `path` (which the store has created and migrated) with the store's settings.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        conn.execute_batch(super::SQLITE_PRAGMAS).map_err(backend)?;
        conn.set_prepared_statement_cache_capacity(PREPARED);
        Ok(Local { conn })
    }

    /// Runs `sql` (no arguments, no rows): `BEGIN IMMEDIATE`, `COMMIT`, `ROLLBACK`.
    pub fn batch(&self, sql: &str) -> Result<(), StoreError> {
        self.conn.execute_batch(sql).map_err(backend)
    }

    /// `sql`, prepared (or taken from the kept ones) with `args` bound by their numbers.
    fn prepared(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<rusqlite::CachedStatement<'_>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(backend)?;
        bind(&mut stmt, args)?;
        Ok(stmt)
    }
}

/// Binds each `$n` of `stmt` to `args[n - 1]`.
fn bind(stmt: &mut Statement<'_>, args: &[Arg<'_>]) -> Result<(), StoreError> {
    for index in 1..=stmt.parameter_count() {
        let arg = stmt
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| args.get(n.wrapping_sub(1)))
            .copied()
            .ok_or_else(|| {
                StoreError::Backend(format!("statement parameter {index} has no argument"))
            })?;
        match arg {
            Arg::Int(v) => stmt.raw_bind_parameter(index, v),
            Arg::Text(v) => stmt.raw_bind_parameter(index, v),
        }
        .map_err(backend)?;
    }
    Ok(())
}

#[async_trait]
impl Exec for Local {
    fn postgres(&self) -> bool {
        false
    }

    async fn execute(&mut self, sql: &'static str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        let mut stmt = self.prepared(sql, args)?;
        let changed = stmt.raw_execute().map_err(backend)?;
        Ok(changed as u64)
    }

    async fn optional(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> Result<Option<Row>, StoreError> {
        let mut stmt = self.prepared(sql, args)?;
        let columns = stmt.column_count();
        let mut rows = stmt.raw_query();
        let Some(row) = rows.next().map_err(backend)? else {
            return Ok(None);
        };
        let mut cells = Vec::with_capacity(columns);
        for i in 0..columns {
            cells.push(match row.get_ref(i).map_err(backend)? {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(v) => Cell::Int(v),
                ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                other => {
                    return Err(StoreError::Backend(format!(
                        "column {i} holds {:?}, which the store never writes",
                        other.data_type()
                    )));
                }
            });
        }
        Ok(Some(Row(cells)))
    }
}
