//! The two store engines for tests: SQLite in a temporary folder, and PostgreSQL in a
//! fresh database on the server `KUAYU_TEST_POSTGRES` names (`.ci/run` starts the
//! machine's PostgreSQL and sets it). Without that variable the PostgreSQL half of a test
//! says it skipped, except under CI, where it fails.

use kuayu::store::sql::{Location, SqlStore};

/// The test server's URL, if one is configured (see `scratch::test_server`).
pub fn postgres_server() -> Option<String> {
    kuayu::store::sql::scratch::test_server()
}

/// A fresh, empty database on the test server: its URL.
pub async fn fresh_postgres() -> Option<Location> {
    let server = postgres_server()?;
    let url = kuayu::store::sql::scratch::fresh_postgres(&server, "kuayu_t")
        .await
        .unwrap();
    Some(Location::Postgres(url))
}

/// A store on `engine` ("sqlite" or "postgres"), or `None` when PostgreSQL is not
/// configured here; the folder holds the SQLite file.
pub async fn store(engine: &str, dir: &std::path::Path) -> Option<SqlStore> {
    let location = match engine {
        "sqlite" => Location::Sqlite(dir.join("k.db")),
        _ => fresh_postgres().await?,
    };
    Some(SqlStore::open_location(&location).await.unwrap())
}

/// Runs `$body` (an async fn taking a `SqlStore`) once per engine, as two tests.
macro_rules! on_both_engines {
    ($($name:ident => $body:path;)*) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = crate::engines::store("sqlite", dir.path()).await.unwrap();
                    $body(store).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let dir = tempfile::tempdir().unwrap();
                    if let Some(store) = crate::engines::store("postgres", dir.path()).await {
                        $body(store).await;
                    }
                }
            }
        )*
    };
}
pub(crate) use on_both_engines;
