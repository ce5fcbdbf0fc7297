//! What differs between the two engines' SQL, in one place: everything else is written
//! once, with `$1, $2, …` placeholders, which both SQLite and PostgreSQL read.
//!
//! One habit both engines accept and SQLite needs: a bound `LIMIT` is written `LIMIT $n
//! + 0`, never `LIMIT $n`. SQLite's query planner reads the value bound to a bare
//! `LIMIT $n` and marks the statement to be compiled again whenever that parameter is
//! bound anew, which is every time it runs: a statement kept prepared was re-parsed on
//! each use (about 5% of all CPU in the federation benchmark). A test keeps the habit
//! (`no_statement_binds_a_bare_limit` below).

use crate::workflow;

/// The engine a [`super::SqlStore`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Embedded SQLite: one writer at a time (the write pool's one connection, or the
    /// committer's own connection while it holds that one).
    Sqlite,
    /// PostgreSQL: many connections, possibly from several replicas.
    Postgres,
}

impl Dialect {
    /// Begins a transaction that will write, on `pool`. On SQLite it takes the write lock
    /// when it begins (`BEGIN IMMEDIATE`, waiting for it up to the busy timeout). A
    /// deferred `BEGIN` would take it only at the first write, and SQLite does not wait to
    /// turn a transaction that has read into one that writes: while another connection
    /// held the lock (the checkpoint thread's truncating checkpoint, for a moment), that
    /// write failed at once with "database is locked".
    pub(super) async fn begin_write(
        self,
        pool: &sqlx::AnyPool,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self {
            Dialect::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => pool.begin().await,
        }
    }

    /// Begins a transaction whose reads all see one snapshot, on `pool`: on SQLite (WAL) a
    /// deferred `BEGIN` takes it at the first read and keeps it; on PostgreSQL that needs
    /// `REPEATABLE READ` (under the default, each statement sees its own).
    pub(super) async fn begin_snapshot(
        self,
        pool: &sqlx::AnyPool,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self {
            Dialect::Sqlite => pool.begin().await,
            Dialect::Postgres => {
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await
            }
        }
    }

    /// The text at `path` (keys from the root) inside the JSON text in `column`.
    pub fn json_text(self, column: &str, path: &[&str]) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{}')", path.join(".")),
            Dialect::Postgres => format!("(({column})::jsonb #>> '{{{}}}')", path.join(",")),
        }
    }

    /// `table` read through `index` on SQLite (`table INDEXED BY index`), where the
    /// planner, which keeps no statistics here, would pick a worse one; just `table` on
    /// PostgreSQL, whose planner has them.
    pub fn through(self, table: &str, index: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{table} INDEXED BY {index}"),
            Dialect::Postgres => table.to_owned(),
        }
    }
}

/// `column NOT IN (…terminal states…)`: the states are this program's own constants,
/// written into the statement as literals.
pub fn not_terminal(column: &str) -> String {
    format!("{column} NOT IN ({})", terminal_states())
}

/// `column IN (…terminal states…)`: a finished request.
pub fn terminal(column: &str) -> String {
    format!("{column} IN ({})", terminal_states())
}

fn terminal_states() -> String {
    workflow::TERMINAL
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$first, $first+1, …` for `count` values bound in that order.
pub fn marks(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The messages `m` of the requests bound to `count` placeholders from `$first`:
/// `messages.request_id` is `''` for the message that starts its request (migration
/// 0026), found by its id; the others through `messages_by_request`, which leaves out `''`
/// (the term `m.request_id <> ''` lets SQLite's planner use that partial index).
pub fn of_requests(first: usize, count: usize) -> String {
    let list = marks(first, count);
    format!("(m.id IN ({list}) OR (m.request_id IN ({list}) AND m.request_id <> ''))")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_read_the_same_key_on_both_engines() {
        assert_eq!(
            Dialect::Sqlite.json_text("m.envelope", &["payload", "mode"]),
            "json_extract(m.envelope, '$.payload.mode')"
        );
        assert_eq!(
            Dialect::Postgres.json_text("m.envelope", &["payload", "mode"]),
            "((m.envelope)::jsonb #>> '{payload,mode}')"
        );
    }

    #[test]
    fn marks_count_from_the_first_free_number() {
        assert_eq!(marks(3, 2), "$3, $4");
        assert_eq!(marks(1, 0), "");
    }

    /// The habit in this module's documentation: every `LIMIT` of the store's SQL that
    /// takes a parameter takes it as `$n + 0`.
    #[test]
    fn no_statement_binds_a_bare_limit() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/sql");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            // The modules' files (a folder holds only a module's tests).
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // The code, not its comments or its tests (one shows the bare form on purpose).
            let code: String = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or_default()
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            for (at, _) in code.match_indices("LIMIT $") {
                let rest = &code[at + "LIMIT $".len()..];
                let param = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "{}_".contains(c)))
                    .unwrap_or(rest.len());
                assert!(
                    rest[param..].starts_with(" + 0"),
                    "{}: a bare bound LIMIT near {:?}",
                    path.display(),
                    &rest[..param.min(rest.len())]
                );
                checked += 1;
            }
        }
        assert!(checked >= 10, "only {checked} bound LIMITs found in {dir}");
    }

    /// A store on `engine`: SQLite in `dir`, or PostgreSQL in a fresh database on the
    /// server `KUAYU_TEST_POSTGRES` names (`None` without one, except under CI).
    async fn store(engine: &str, dir: &std::path::Path) -> Option<super::super::SqlStore> {
        use super::super::SqlStore;
        if engine == "sqlite" {
            return Some(SqlStore::open(&dir.join("k.db")).await.unwrap());
        }
        let server = super::super::scratch::test_server()?;
        let url = super::super::scratch::fresh_postgres(&server, "kuayu_t")
            .await
            .unwrap();
        Some(SqlStore::open_postgres(&url).await.unwrap())
    }

    /// What a request's view relies on (`read_request_view`): every read of a snapshot
    /// transaction sees the database as its first read did, though another connection
    /// commits meanwhile; a read after it sees that commit.
    async fn a_snapshot_does_not_see_a_commit_made_after_its_first_read(engine: &str) {
        let dir = tempfile::tempdir().unwrap();
        let Some(store) = store(engine, dir.path()).await else {
            return;
        };
        let (write, read) = (&store.write, &store.read);
        let count = "SELECT COUNT(*) FROM snapshot_probe";
        let insert = "INSERT INTO snapshot_probe (n) VALUES (1)";
        sqlx::query("CREATE TABLE snapshot_probe (n BIGINT)")
            .execute(write)
            .await
            .unwrap();
        sqlx::query(insert).execute(write).await.unwrap();
        let mut snapshot = store.dialect.begin_snapshot(read).await.unwrap();
        let first: i64 = sqlx::query_scalar(count)
            .fetch_one(&mut *snapshot)
            .await
            .unwrap();
        sqlx::query(insert).execute(write).await.unwrap();
        let again: i64 = sqlx::query_scalar(count)
            .fetch_one(&mut *snapshot)
            .await
            .unwrap();
        snapshot.rollback().await.unwrap();
        let after: i64 = sqlx::query_scalar(count).fetch_one(read).await.unwrap();
        assert_eq!((first, again, after), (1, 1, 2), "{engine}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_snapshot_does_not_see_a_later_commit_on_sqlite() {
        a_snapshot_does_not_see_a_commit_made_after_its_first_read("sqlite").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_snapshot_does_not_see_a_later_commit_on_postgres() {
        a_snapshot_does_not_see_a_commit_made_after_its_first_read("postgres").await;
    }

    #[test]
    fn terminal_states_are_quoted_literals() {
        let sql = not_terminal("r.state");
        for state in workflow::TERMINAL {
            assert!(sql.contains(&format!("'{state}'")), "{sql}");
        }
    }
}
