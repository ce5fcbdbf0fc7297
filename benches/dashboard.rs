//! How fast the supervision dashboard's main page answers with a million requests stored.
//!
//! Run: `cargo bench --bench dashboard -- --requests 1000000 --rounds 21`
//!
//! Fills Sichuan's SQLite store (through the gateway's own migrations, then bulk
//! `INSERT … SELECT` in a few statements) with `--requests` requests spread over the two
//! years before the clock, as a busy gateway would hold them: a third received, two thirds
//! sent, the latest 5,000 in flight, 2% refused (their deadlines left unmet), two
//! deadlines each (met for finished work, some late), a freeze-expiry warning on each
//! finished freeze, an outbox row per request the peer refused (a delivered one's row is gone;
//! the peer's last delivery is kept), print jobs for a tenth of the service
//! work received, and the daily volume table filled as the migration does. Then starts
//! both gateways on it (real TLS, real HTTP) and times `GET /admin/dashboard` over the
//! admin socket `--rounds` times, printing the median, the 90th percentile and the least;
//! then the same for `GET /metrics`, whose store gauges (backlog, open and overdue work)
//! are read at each scrape.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use kuayu::clock::ManualClock;
use kuayu::devnet::{DevFederation, DevOptions};
use kuayu::store::sql::SqlStore;
use sqlx::ConnectOptions as _;
use sqlx::Executor as _;
use time::macros::datetime;

const DAY: i64 = 86_400_000;

fn arg(name: &str, default: i64) -> i64 {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter()
        .position(|a| a == name)
        .and_then(|i| argv.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The statements that fill the store; `{N}`, `{START}`, `{STEP}` and `{NOW}` are replaced.
const FILL: &[&str] = &[
    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {N} - 1)
     INSERT INTO requests (id, family, role, requesting_court, requested_court, state, agreement_id,
                           agreement_sha256, priority, created_at, updated_at)
     SELECT printf('%08x-0000-7000-8000-%012x', i, i),
            CASE i % 5 WHEN 0 THEN 'service' WHEN 1 THEN 'printing' WHEN 2 THEN 'evidence'
                       WHEN 3 THEN 'preservation' ELSE 'filing' END,
            CASE WHEN i % 3 = 0 THEN 'executor' ELSE 'requester' END,
            CASE WHEN i % 3 = 0 THEN printf('CQ%04d', 100 + i % 40) ELSE printf('SC%04d', 100 + i % 40) END,
            CASE WHEN i % 3 = 0 THEN printf('SC%04d', 100 + i % 37) ELSE printf('CQ%04d', 100 + i % 37) END,
            CASE WHEN i >= {N} - 5000 THEN
                     CASE i % 4 WHEN 0 THEN 'relayed' WHEN 1 THEN 'accepted' WHEN 2 THEN 'in_progress' ELSE 'received' END
                 WHEN i % 50 = 0 THEN 'refused' ELSE 'completed' END,
            'SC-CQ-2026', zeroblob(32),
            CASE WHEN i % 5 = 3 THEN 1 ELSE 0 END,
            {START} + i * {STEP}, {START} + i * {STEP}
     FROM n",
    "INSERT INTO deadlines (request_id, name, kind, due_at, met_at, passed_at)
     SELECT id, 'acknowledge', 'deadline', created_at + 86400000,
            CASE WHEN state = 'completed' THEN created_at + 7200000 END, NULL
     FROM requests",
    "INSERT INTO deadlines (request_id, name, kind, due_at, met_at, passed_at)
     SELECT id, CASE family WHEN 'service' THEN 'service.serve' WHEN 'printing' THEN 'printing.post'
                            WHEN 'evidence' THEN 'evidence.complete_or_explain'
                            WHEN 'preservation' THEN 'preservation.decide' ELSE 'filing.docket_or_rule' END,
            'deadline', created_at + 10 * 86400000,
            CASE WHEN state = 'completed' THEN created_at + (2 + rowid % 10) * 86400000 END, NULL
     FROM requests",
    "INSERT INTO deadlines (request_id, name, kind, due_at, met_at, passed_at)
     SELECT id, 'freeze.expiry_warning', 'warning', created_at + 335 * 86400000, NULL, NULL
     FROM requests WHERE family = 'preservation' AND state = 'completed'",
    "INSERT INTO outbox (message_id, request_id, peer, priority, state, attempts, next_attempt_at,
                         last_error, created_at, done_at)
     SELECT id, id, 'CQ', priority, 'dead', 1, created_at,
            '{\"code\":\"schema_violation\",\"detail\":\"/payload/case: missing\"}',
            created_at, created_at + 1000
     FROM requests WHERE role = 'requester' AND state = 'refused'",
    "INSERT INTO peer_deliveries (peer, last_at)
     SELECT 'CQ', MAX(created_at) + 1000 FROM requests WHERE role = 'requester' AND state <> 'refused'
     ON CONFLICT (peer) DO UPDATE SET last_at = excluded.last_at",
    "INSERT INTO print_jobs (id, request_id, print_centre, state, job, created_at, updated_at)
     SELECT id, id, 'SC01-PC1', CASE WHEN rowid % 7 = 0 THEN 'mail_returned' ELSE 'delivered' END,
            '{}', created_at + 86400000, created_at + 3 * 86400000
     FROM requests WHERE family = 'service' AND role = 'executor' AND rowid % 10 = 0",
    // What the deadline watcher has done by now on a live gateway.
    "UPDATE deadlines SET passed_at = due_at WHERE met_at IS NULL AND due_at <= {NOW}",
    "DELETE FROM request_volume",
];

/// The volume table filled as migration 0013 fills it.
fn volume_backfill() -> String {
    let migration = include_str!("../migrations/sqlite/0013_dashboard.sql");
    let start = migration.find("INSERT INTO request_volume").unwrap();
    let end = start + migration[start..].find(';').unwrap();
    migration[start..end].to_owned()
}

#[tokio::main]
async fn main() {
    let n = arg("--requests", 1_000_000);
    let rounds = arg("--rounds", 21).max(1) as usize;
    let now = datetime!(2026-11-25 08:00 UTC);
    let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("SC").join("kuayu.db");

    let filling = Instant::now();
    SqlStore::open(&db).await.unwrap().close().await;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&db)
        .connect()
        .await
        .unwrap();
    conn.execute("PRAGMA synchronous = OFF").await.unwrap();
    let span = 730 * DAY;
    let step = span / n.max(1);
    for statement in FILL
        .iter()
        .map(|s| s.to_string())
        .chain([volume_backfill()])
    {
        let sql = statement
            .replace("{N}", &n.to_string())
            .replace("{START}", &(now_ms - span).to_string())
            .replace("{STEP}", &step.to_string())
            .replace("{NOW}", &now_ms.to_string());
        conn.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
    }
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        .await
        .unwrap();
    drop(conn);
    println!(
        "filled {n} requests in {:.1} s ({} MB)",
        filling.elapsed().as_secs_f64(),
        std::fs::metadata(&db)
            .map(|m| m.len() / 1_000_000)
            .unwrap_or(0)
    );

    let clock = ManualClock::new(now);
    let fed = DevFederation::start(dir.path(), DevOptions::new(clock))
        .await
        .unwrap();
    let admin = fed.admin_socket("SC").unwrap();
    let (status, body) = admin.health("/admin/dashboard").await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("id=\"open-total\">5000<"),
        "the in-flight work is counted"
    );
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let (status, _) = admin.health("/admin/dashboard").await.unwrap();
        times.push(t.elapsed());
        assert_eq!(status, 200);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "GET /admin/dashboard with {n} requests stored, {rounds} rounds: median {:.1} ms, p90 {:.1} ms, least {:.1} ms ({} KB)",
        ms(times[times.len() / 2]),
        ms(times[(times.len() * 9 / 10).min(times.len() - 1)]),
        ms(times[0]),
        body.len() / 1024
    );
    let (status, body) = admin.health("/metrics").await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("kuayu_requests_open{"),
        "the open work is read: {body}"
    );
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let (status, _) = admin.health("/metrics").await.unwrap();
        times.push(t.elapsed());
        assert_eq!(status, 200);
    }
    times.sort();
    println!(
        "GET /metrics with {n} requests stored, {rounds} rounds: median {:.1} ms, p90 {:.1} ms, least {:.1} ms",
        ms(times[times.len() / 2]),
        ms(times[(times.len() * 9 / 10).min(times.len() - 1)]),
        ms(times[0]),
    );
    fed.shutdown().await;
}
