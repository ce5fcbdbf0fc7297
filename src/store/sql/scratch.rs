//! Scratch PostgreSQL databases, for the tests and the benchmark: each made empty under a
//! fresh name on a server, and dropped when done.

use sqlx::{AnyConnection, AssertSqlSafe, Connection as _, Executor as _};

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
