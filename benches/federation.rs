//! Throughput and latency of the whole path: court → SC gateway → CQ gateway → CQ inbox.
//!
//! Run: `cargo bench --bench federation -- --requests 2000 --concurrency 16`
//! On PostgreSQL: `… -- --postgres postgres://user:pw@host/db --replicas 2`
//!
//! Starts the two-region dev federation in a temporary folder (real TLS, real SQLite,
//! real HTTP on loopback), drives `--requests` service requests from `--concurrency`
//! concurrent court clients at Sichuan's gateway, and watches Chongqing's court inbox.
//! With `--postgres URL`, Sichuan runs on a fresh database made on that server (the role
//! may create databases; the database is dropped at the end) as `--replicas` gateways,
//! the court clients spread over them in turn (SC0104 and SC01 alike).
//! Prints requests per second and p50/p99 latency of the submission (the 202, which
//! includes schema validation, signing and the durable commit) and end to end (until the
//! request is in the Chongqing court's inbox).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kuayu::api::Submission;
use kuayu::clock::SystemClock;
use kuayu::demo::court::fixture;
use kuayu::devnet::{DevFederation, DevOptions};
use kuayu::ids::{CourtId, MessageId, MessageKind, RegionId};
use tokio::sync::Mutex;

struct Args {
    requests: usize,
    concurrency: usize,
    postgres: Option<String>,
    replicas: usize,
}

fn args() -> Args {
    let mut a = Args {
        requests: 1000,
        concurrency: 16,
        postgres: None,
        replicas: 1,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = argv.get(i + 1).and_then(|v| v.parse::<usize>().ok());
        match (argv[i].as_str(), value) {
            ("--requests", Some(v)) => a.requests = v.max(1),
            ("--concurrency", Some(v)) => a.concurrency = v.max(1),
            ("--replicas", Some(v)) => a.replicas = v.max(1),
            ("--postgres", _) => a.postgres = argv.get(i + 1).cloned(),
            _ => {}
        }
        i += 1;
    }
    a
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() -> anyhow::Result<()> {
    let args = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // Two courts send everything: lift the sample agreement's per-court rate for the run.
    let mut options = DevOptions::new(Arc::new(SystemClock));
    options.amend = Some(Box::new(|terms| terms.limits.rate = None));
    let database = match &args.postgres {
        Some(server) => Some(fresh_database(server).await?),
        None if args.replicas > 1 => anyhow::bail!("--replicas needs --postgres URL"),
        None => None,
    };
    if let Some((_, url)) = &database {
        options.databases.insert(
            RegionId::parse("SC")?,
            kuayu::store::sql::Location::Postgres(url.clone()),
        );
    }
    let mut fed = DevFederation::start(dir.path(), options).await?;
    for _ in 1..args.replicas {
        fed.add_replica("SC").await?;
    }
    let payload = fixture("service-request", |_| true)
        .ok_or_else(|| anyhow::anyhow!("no service-request fixture"))?;
    let submission = Submission {
        kind: MessageKind::parse("service.request")?,
        recipient_court: CourtId::parse("CQ0103")?,
        schema_version: None,
        payload,
        attachments: vec![],
    };
    let started: Arc<Mutex<HashMap<MessageId, Instant>>> = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let begin = Instant::now();

    // Chongqing's court system, reading its inbox as fast as it fills.
    let watcher = {
        let client = fed.court_client("CQ0103")?;
        let started = Arc::clone(&started);
        let total = args.requests;
        tokio::spawn(async move {
            let (mut cursor, mut seen, mut e2e) = (0, 0, Vec::with_capacity(total));
            while seen < total {
                match client.inbox(cursor, 500).await {
                    Ok(page) => {
                        let now = Instant::now();
                        let map = started.lock().await;
                        for item in &page.items {
                            if let Some(t) = map.get(&item.request_id) {
                                e2e.push(now - *t);
                            }
                        }
                        seen += page.items.len();
                        cursor = page.next_cursor;
                        if page.items.is_empty() {
                            drop(map);
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                    }
                    Err(e) => eprintln!("inbox: {e}"),
                }
            }
            (e2e, Instant::now())
        })
    };

    let mut workers = Vec::new();
    for i in 0..args.concurrency {
        // Worker i: SC0104 or SC01 in turn, on each replica in turn.
        let court = ["SC0104", "SC01"][i % 2];
        let client = fed.court_client_of(court, (i / 2) % args.replicas)?;
        let (submission, started, next) =
            (submission.clone(), Arc::clone(&started), Arc::clone(&next));
        let total = args.requests;
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < total {
                let t = Instant::now();
                match client.submit(&submission, None).await {
                    Ok(a) => {
                        latencies.push(t.elapsed());
                        started.lock().await.insert(a.request_id, t);
                    }
                    Err(e) => eprintln!("submit: {e}"),
                }
            }
            latencies
        }));
    }
    let mut submit = Vec::new();
    for w in workers {
        submit.extend(w.await?);
    }
    let submitted_at = Instant::now();
    let (mut e2e, delivered_at) = tokio::time::timeout(Duration::from_secs(600), watcher).await??;
    submit.sort();
    e2e.sort();
    let secs = |t: Instant| (t - begin).as_secs_f64();
    let engine = match &args.postgres {
        Some(_) => format!("SC on PostgreSQL, {} replica(s)", args.replicas),
        None => "SC on SQLite".to_owned(),
    };
    println!(
        "kuayu federation benchmark: {} service requests, {} concurrent court clients, SC→CQ on loopback, {engine}",
        args.requests, args.concurrency
    );
    println!(
        "  submitted (202, committed at SC):   {:>8.1} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms",
        submit.len() as f64 / secs(submitted_at),
        ms(percentile(&submit, 0.50)),
        ms(percentile(&submit, 0.99))
    );
    println!(
        "  end to end (in the CQ court inbox): {:>8.1} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms",
        e2e.len() as f64 / secs(delivered_at),
        ms(percentile(&e2e, 0.50)),
        ms(percentile(&e2e, 0.99))
    );
    fed.shutdown().await;
    if let Some((server, url)) = database {
        drop_database(&server, &url).await?;
    }
    Ok(())
}

/// A fresh database on the PostgreSQL server `server` names: (server, its URL).
async fn fresh_database(server: &str) -> anyhow::Result<(String, String)> {
    use sqlx::{Connection as _, Executor as _};
    sqlx::any::install_default_drivers();
    let name = format!("kuayu_bench_{}", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::AnyConnection::connect(server).await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await?;
    admin.close().await?;
    let base = server.rsplit_once('/').map_or(server, |(b, _)| b);
    Ok((server.to_owned(), format!("{base}/{name}")))
}

async fn drop_database(server: &str, url: &str) -> anyhow::Result<()> {
    use sqlx::{Connection as _, Executor as _};
    let name = url.rsplit_once('/').map_or(url, |(_, n)| n);
    let mut admin = sqlx::AnyConnection::connect(server).await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {name} WITH (FORCE)"
        )))
        .await?;
    admin.close().await?;
    Ok(())
}
