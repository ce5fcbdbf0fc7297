//! Scratch PostgreSQL databases, for the tests and the benchmark: each made empty under a
//! fresh name on a server, and dropped when done.

use sqlx::{AnyConnection, AssertSqlSafe, Connection as _, Executor as _};

/// The variable naming the tests' PostgreSQL server (a URL whose role may create
/// databases; `.ci/run` sets it).
pub const TEST_SERVER_ENV: &str = "KUAYU_TEST_POSTGRES";

/// The tests' PostgreSQL server, from [`TEST_SERVER_ENV`]. Without it a test's PostgreSQL
/// half says it skipped and answers `None`, except under CI (`CI` set), where it panics:
/// CI must run them.
pub fn test_server() -> Option<String> {
    match std::env::var(TEST_SERVER_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the PostgreSQL tests: set {TEST_SERVER_ENV} (.ci/run does)"
            );
            eprintln!("skipped: no PostgreSQL ({TEST_SERVER_ENV} is not set)");
            None
        }
    }
}

/// Creates an empty database named `{prefix}_{a fresh UUIDv7}` on the PostgreSQL server
/// `server` (a URL whose role may create databases) and answers its URL: `server` with
/// the new name in place of its database.
pub async fn fresh_postgres(server: &str, prefix: &str) -> Result<String, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
    admin(server, &format!("CREATE DATABASE {name}")).await?;
    let base = server.rsplit_once('/').map_or(server, |(b, _)| b);
    Ok(format!("{base}/{name}"))
}

/// Drops the database at `url` that [`fresh_postgres`] made on `server`, closing its
/// connections.
pub async fn drop_postgres(server: &str, url: &str) -> Result<(), sqlx::Error> {
    let name = url.rsplit_once('/').map_or(url, |(_, n)| n);
    admin(server, &format!("DROP DATABASE {name} WITH (FORCE)")).await
}

/// Runs `statement` on its own connection to `server`.
async fn admin(server: &str, statement: &str) -> Result<(), sqlx::Error> {
    let mut conn = AnyConnection::connect(server).await?;
    conn.execute(AssertSqlSafe(statement.to_owned())).await?;
    conn.close().await
}
