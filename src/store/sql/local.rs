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
        Local::open_with(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
    }

    /// Opens `path` with `flags` (read-write or read-only) and the store's settings.
    pub(super) fn open_with(path: &Path, flags: OpenFlags) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        conn.execute_batch(super::SQLITE_PRAGMAS).map_err(backend)?;
        conn.set_prepared_statement_cache_capacity(PREPARED);
        Ok(Local { conn })
    }

    /// Runs `sql`, one statement with no arguments (any rows it yields are passed over):
    /// `BEGIN IMMEDIATE`, `COMMIT`, `ROLLBACK`, a `PRAGMA`. Kept prepared like the others:
    /// the committer runs two of these a group.
    pub fn batch(&self, sql: &str) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(backend)?;
        let mut rows = stmt.raw_query();
        while rows.next().map_err(backend)?.is_some() {}
        Ok(())
    }

    /// The connection itself.
    pub(super) fn connection(&self) -> &Connection {
        &self.conn
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
            Arg::Blob(v) => stmt.raw_bind_parameter(index, v),
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

    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        let mut stmt = self.prepared(sql, args)?;
        let changed = stmt.raw_execute().map_err(backend)?;
        Ok(changed as u64)
    }

    async fn optional(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>, StoreError> {
        let mut stmt = self.prepared(sql, args)?;
        let columns = stmt.column_count();
        let mut rows = stmt.raw_query();
        match rows.next().map_err(backend)? {
            Some(row) => row_of(row, columns).map(Some),
            None => Ok(None),
        }
    }

    async fn rows(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self.prepared(sql, args)?;
        let columns = stmt.column_count();
        let mut rows = stmt.raw_query();
        let mut all = Vec::new();
        while let Some(row) = rows.next().map_err(backend)? {
            all.push(row_of(row, columns)?);
        }
        Ok(all)
    }
}

/// The first `columns` columns of `row`, as a [`Row`].
fn row_of(row: &rusqlite::Row<'_>, columns: usize) -> Result<Row, StoreError> {
    let mut cells = Vec::with_capacity(columns);
    for i in 0..columns {
        cells.push(match row.get_ref(i).map_err(backend)? {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(v) => Cell::Int(v),
            ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
            ValueRef::Real(_) => {
                return Err(StoreError::Backend(format!(
                    "column {i} holds a real number, which the store never writes"
                )));
            }
        });
    }
    Ok(Row(cells))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::exec::args;

    fn local() -> (tempfile::TempDir, Local) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (a TEXT, b INTEGER, c TEXT)")
            .unwrap();
        let local = Local::open(&path).unwrap();
        (dir, local)
    }

    #[tokio::test]
    async fn placeholders_bind_by_their_numbers_in_any_order_and_repeated() {
        let (_dir, mut db) = local();
        let changed = db
            .execute("INSERT INTO t (c, b, a) VALUES ($2, $1, $2)", args![7, "x"])
            .await
            .unwrap();
        assert_eq!(changed, 1);
        let row = db
            .optional("SELECT a, b, c FROM t WHERE b = $1", args![7])
            .await
            .unwrap()
            .expect("the row");
        assert_eq!(row.text(0).unwrap(), "x");
        assert_eq!(row.int(1).unwrap(), 7);
        assert_eq!(row.text(2).unwrap(), "x");
        assert!(
            db.optional("SELECT a FROM t WHERE b = $1", args![8])
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_placeholder_without_its_argument_is_a_clear_error() {
        let (_dir, mut db) = local();
        let err = db
            .execute("INSERT INTO t (a, b) VALUES ($1, $2)", args!["only one"])
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("parameter 2 has no argument"),
            "{err}"
        );
    }

    /// Why the store writes `LIMIT $n + 0` (see `dialect.rs`): with a bare `LIMIT $n`
    /// this SQLite compiles the statement again after each new binding.
    #[test]
    fn a_bound_limit_plus_zero_is_not_compiled_again_at_each_binding() {
        let (_dir, db) = local();
        let recompiled = |sql: &str| {
            let mut stmt = db.conn.prepare(sql).unwrap();
            for limit in [1_i64, 2, 3] {
                stmt.raw_bind_parameter(1, limit).unwrap();
                let mut rows = stmt.raw_query();
                while rows.next().unwrap().is_some() {}
            }
            stmt.get_status(rusqlite::StatementStatus::RePrepare)
        };
        assert_eq!(recompiled("SELECT a FROM t ORDER BY b LIMIT $1 + 0"), 0);
        assert!(
            recompiled("SELECT a FROM t ORDER BY b LIMIT $1") > 0,
            "if this SQLite no longer recompiles, `+ 0` may go (dialect.rs)"
        );
    }

    #[tokio::test]
    async fn a_null_keeps_its_column_and_reads_back_as_null() {
        let (_dir, mut db) = local();
        db.execute(
            "INSERT INTO t (a, b, c) VALUES ($1, $2, $3)",
            args![None::<&str>, None::<i64>, "z"],
        )
        .await
        .unwrap();
        let row = db
            .optional("SELECT a, b, c FROM t", &[])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.0[0], Cell::Null);
        assert_eq!(row.0[1], Cell::Null);
        assert!(row.int(0).is_err(), "a NULL is not read as a number");
    }
}
