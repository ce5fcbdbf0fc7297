//! The stores under the benchmark: bytes each request adds, a bulk fill to reach a
//! million stored requests quickly (`--fill N`), and the throwaway PostgreSQL database.

use std::path::Path;

use kuayu::store::sql::SqlStore;
use sqlx::{ConnectOptions as _, Connection as _, Executor as _};

/// A read-only connection to the SQLite store at `db`.
async fn read_only(db: &Path) -> anyhow::Result<sqlx::SqliteConnection> {
    Ok(sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .connect()
        .await?)
}

/// Bytes of data in `region`'s SQLite store in federation folder `dir`: its pages in use
/// (`page_count - freelist_count`, times `page_size`), as a reader sees them, so pages
/// still in the WAL count and the WAL file's own size (a reused buffer) does not.
pub async fn sqlite_bytes(dir: &Path, region: &str) -> anyhow::Result<u64> {
    let db = dir.join(region).join("kuayu.db");
    let mut conn = read_only(&db).await?;
    let mut pragma = async |name: &str| -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
                .fetch_one(&mut conn)
                .await?,
        )
    };
    let pages = pragma("page_count").await? - pragma("freelist_count").await?;
    let size = pragma("page_size").await?;
    conn.close().await?;
    Ok(u64::try_from(pages * size)?)
}

/// Waits until `region`'s SQLite store in `dir` has no retrieval receipt left to carry
/// back (up to 2 minutes), so that the stores hold equal content when measured; how long
/// that took.
pub async fn receipts_settled(dir: &Path, region: &str) -> anyhow::Result<std::time::Duration> {
    let db = dir.join(region).join("kuayu.db");
    let mut conn = read_only(&db).await?;
    let begin = std::time::Instant::now();
    loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM receipt_outbox WHERE state = 'pending'")
                .fetch_one(&mut conn)
                .await?;
        if pending == 0 {
            break;
        }
        if begin.elapsed() > std::time::Duration::from_secs(120) {
            anyhow::bail!("{pending} retrieval receipts still to carry back after 2 minutes");
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    conn.close().await?;
    Ok(begin.elapsed())
}

/// The last inbox position of `region`'s SQLite store in `dir` (0 if none): where a
/// reader of a grown store starts, rather than reading through everything before.
pub async fn inbox_end(dir: &Path, region: &str) -> anyhow::Result<i64> {
    let db = dir.join(region).join("kuayu.db");
    if !db.exists() {
        return Ok(0);
    }
    let mut conn = read_only(&db).await?;
    let n: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM inbox")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(n.unwrap_or(0))
}

/// Requests stored by `region` in federation folder `dir` (0 if it has no database yet).
pub async fn stored_requests(dir: &Path, region: &str) -> anyhow::Result<i64> {
    let db = dir.join(region).join("kuayu.db");
    if !db.exists() {
        return Ok(0);
    }
    let mut conn = read_only(&db).await?;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM requests")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(n)
}

/// Rows a request leaves at each side, written in bulk (`{N}` requests numbered from
/// `{FROM}`, `{ROLE}` requester at SC or executor at CQ), shaped as the store writes
/// them: the request, its message with 1.2 KB of stored envelope (what the benchmark's
/// 2.7 KB envelope compresses to; random, so never read back), two history entries (the
/// first naming the request's own message, kept as ''), a receipt (its body without what
/// its columns and its message say), and at CQ the retrieved inbox row (at SC the
/// delivered outbox row is gone, as after a delivery). The audit chain and the volume
/// table are left as they are.
const FILL: &[&str] = &[
    "CREATE TEMP TABLE fill AS
     WITH RECURSIVE n(i) AS (SELECT {FROM} UNION ALL SELECT i + 1 FROM n WHERE i < {FROM} + {N} - 1)
     SELECT printf('%08x-0000-7000-8000-%012x', i, i) AS id, i, {START} + i AS at FROM n",
    "INSERT INTO requests (id, family, role, requesting_court, requested_court, state, agreement_id,
                           agreement_sha256, priority, created_at, updated_at)
     SELECT id, 'service', '{ROLE}', 'SC0104', 'CQ0103', 'completed', 'SC-CQ-2026',
            zeroblob(32), 0, at, at FROM fill",
    "INSERT INTO messages (id, direction, kind, request_id, sender_court, recipient_court, agreement_id,
                           agreement_sha256, digest, envelope, envelope_z, test, created_at, committed_at)
     SELECT id, '{DIR}', 'service.request', '', '', '', '', '', randomblob(32),
            '', x'02' || randomblob(1220), 0, at, at FROM fill",
    "INSERT INTO history (request_id, seq, at, state, event, actor, message_id, detail)
     SELECT id, 1, at, 'received', 'submitted', 'court:SC0104', '', '{}' FROM fill
     UNION ALL SELECT id, 2, at + 1, '', 'completed', 'court:CQ0103', NULL, '{}' FROM fill",
    "INSERT INTO receipts (message_id, hop, issuer, body, at, signature)
     SELECT id, 'submission', 'SC', '{\"court\":\"SC0104\"}', at, randomblob(64) FROM fill",
    "DROP TABLE fill",
];

const INBOX: &str =
    "INSERT INTO inbox (court, message_id, request_id, kind, priority, received_at, retrieved_at)
     SELECT 'CQ0103', id, id, 'service.request', 0, at, at + 1 FROM fill";

/// Adds requests to `region`'s SQLite store in `dir` until it holds `target`.
pub async fn fill(dir: &Path, region: &str, target: i64) -> anyhow::Result<()> {
    let have = stored_requests(dir, region).await?;
    if have >= target {
        return Ok(());
    }
    let db = dir.join(region).join("kuayu.db");
    std::fs::create_dir_all(dir.join(region))?;
    SqlStore::open(&db).await?.close().await;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&db)
        .connect()
        .await?;
    conn.execute("PRAGMA synchronous = OFF").await?;
    let (role, direction, side) = match region {
        "SC" => ("requester", "out", None),
        _ => ("executor", "in", Some(INBOX)),
    };
    let start = time::OffsetDateTime::now_utc().unix_timestamp() * 1000 - 400 * 86_400_000;
    for statement in FILL
        .iter()
        .take(FILL.len() - 1)
        .chain(side.iter())
        .chain(FILL.last())
    {
        let sql = statement
            .replace("{N}", &(target - have).to_string())
            .replace("{FROM}", &have.to_string())
            .replace("{START}", &start.to_string())
            .replace("{ROLE}", role)
            .replace("{DIR}", direction);
        conn.execute(sqlx::AssertSqlSafe(sql)).await?;
    }
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    conn.close().await?;
    Ok(())
}

/// A fresh database on the PostgreSQL server `server` names: (server, its URL).
pub async fn fresh_database(server: &str) -> anyhow::Result<(String, String)> {
    let url = kuayu::store::sql::scratch::fresh_postgres(server, "kuayu_bench").await?;
    Ok((server.to_owned(), url))
}

/// Drops the database made by [`fresh_database`].
pub async fn drop_database(server: &str, url: &str) -> anyhow::Result<()> {
    Ok(kuayu::store::sql::scratch::drop_postgres(server, url).await?)
}
