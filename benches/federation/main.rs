//! Throughput and latency of the whole path (court → SC gateway → CQ gateway → CQ inbox),
//! measured against the limit of the same stack in the same run.
//!
//! Run: `cargo bench --bench federation -- --requests 2000 --concurrency 16,64 --rounds 3`
//! On PostgreSQL: `… -- --postgres postgres://user:pw@host/db --replicas 2`
//!
//! Starts the two-region dev federation (real TLS, real SQLite or PostgreSQL, real HTTP
//! on loopback), a bare two-hop mutual-TLS echo on the same stack (see `echo.rs`), and
//! the floor: the least work any gateway pair with kuayu's signatures and durable commits
//! must do for a request, on the same stack (see `floor.rs`).
//! For each concurrency level, runs kuayu, the echo and the floor in turn (`--rounds`
//! times) with the same count, concurrency and body size (the service-request
//! envelope's), and prints each round and the medians: submitted and end-to-end req/s,
//! p50/p99, the kuayu/echo and kuayu/floor ratios, and the process's CPU time per request
//! of each (the floor's until its requests' receipts are committed; kuayu's
//! from the round's start until its retrieval receipts are back at SC: a steadier
//! figure than req/s on a noisy machine, and both gateways, the clients and the echo share
//! the process); at the first concurrency level it then offers half
//! the measured end-to-end throughput at a steady rate (open loop, ~10 s) and prints the
//! latencies at that load. Then times preservation orders end to end while
//! `--queued` ordinary requests are on their way (0 skips it), and prints the bytes each
//! request added to each SQLite store and the process's peak RSS.
//!
//! `--store DIR` runs the federation in DIR and keeps it (fresh PKI each run, same
//! databases), so a store grows from run to run; `--fill N` first bulk-fills both
//! SQLite stores in DIR to N requests (see `store.rs`), e.g. `--store /tmp/big --fill
//! 1000000`. With `--postgres URL`, Sichuan runs on a fresh database on that server
//! (dropped at the end) as `--replicas` gateways, the court clients spread over them.
//! `--peer-slots N` sets both gateways' `[relay] peer_slots` and `--quiet-slots N` their
//! `[relay] quiet_slots` (default: the product's).
#![allow(clippy::unwrap_used)]

/// The allocator of the `kuayu` binary (see `src/main.rs`), so that the gateways here run
/// as they do there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod echo;
mod floor;
mod load;
mod preserve;
mod stages;
mod stats;
mod store;

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use kuayu::api::Submission;
use kuayu::clock::SystemClock;
use kuayu::demo::court::fixture;
use kuayu::devnet::{DevFederation, DevOptions};
use kuayu::ids::{CourtId, MessageKind, RegionId};

use stats::Figures;

struct Args {
    requests: usize,
    concurrency: Vec<usize>,
    rounds: usize,
    queued: usize,
    store: Option<PathBuf>,
    fill: i64,
    postgres: Option<String>,
    replicas: usize,
    peer_slots: Option<usize>,
    quiet_slots: Option<usize>,
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let get = |name: &str| {
        argv.iter()
            .position(|a| a == name)
            .and_then(|i| argv.get(i + 1))
            .cloned()
    };
    let num =
        |name: &str, default: usize| get(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    Args {
        requests: num("--requests", 2000).max(1),
        concurrency: get("--concurrency")
            .map(|v| v.split(',').filter_map(|c| c.trim().parse().ok()).collect())
            .filter(|v: &Vec<usize>| !v.is_empty())
            .unwrap_or_else(|| vec![16, 64]),
        rounds: num("--rounds", 3).max(1),
        queued: num("--queued", 10_000),
        store: get("--store").map(PathBuf::from),
        fill: num("--fill", 0) as i64,
        postgres: get("--postgres"),
        replicas: num("--replicas", 1).max(1),
        peer_slots: get("--peer-slots").and_then(|v| v.parse().ok()),
        quiet_slots: get("--quiet-slots").and_then(|v| v.parse().ok()),
    }
}

/// `cpu_seconds` spread over `requests`, in ms each.
fn per_request_ms(cpu_seconds: f64, requests: usize) -> f64 {
    cpu_seconds * 1e3 / requests as f64
}

/// Each region's group commits so far and the units in them (with replicas, SC's first).
fn group_commits(fed: &DevFederation) -> [(u64, u64); 2] {
    ["SC", "CQ"].map(|r| fed.gateway(r).gateway.store.group_commits())
}

/// What each region's committer did between two readings, for `requests` requests:
/// transactions (each with its fsync) a request, and commits of the pipeline in each.
fn groups_line(before: [(u64, u64); 2], after: [(u64, u64); 2], requests: usize) -> String {
    let line = |region: &str, (g0, u0): (u64, u64), (g1, u1): (u64, u64)| {
        let (groups, units) = ((g1 - g0) as f64, (u1 - u0) as f64);
        format!(
            "{region} {:.2} transactions a request, {:.2} commits in each",
            groups / requests as f64,
            units / groups.max(1.0)
        )
    };
    format!(
        "{}; {}",
        line("SC", before[0], after[0]),
        line("CQ", before[1], after[1])
    )
}

fn submission(kind: &str, schema: &str) -> anyhow::Result<Submission> {
    Ok(Submission {
        kind: MessageKind::parse(kind)?,
        recipient_court: CourtId::parse("CQ0103")?,
        schema_version: None,
        payload: fixture(schema, |_| true).ok_or_else(|| anyhow::anyhow!("no {schema} fixture"))?,
        attachments: vec![],
    })
}

fn main() -> anyhow::Result<()> {
    let args = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let dir = args
        .store
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    if args.fill > 0 {
        anyhow::ensure!(args.postgres.is_none(), "--fill fills SQLite stores only");
        let t = std::time::Instant::now();
        for region in ["SC", "CQ"] {
            store::fill(&dir, region, args.fill).await?;
        }
        println!(
            "filled both stores to {} requests in {:.1} s",
            args.fill,
            t.elapsed().as_secs_f64()
        );
    }
    let stored_before = store::stored_requests(&dir, "SC").await?;
    let inbox_end = store::inbox_end(&dir, "CQ").await?;
    // Two courts send everything: lift the sample agreement's per-court rate for the run.
    let mut options = DevOptions::new(Arc::new(SystemClock));
    options.amend = Some(Box::new(|terms| terms.limits.rate = None));
    if let Some(slots) = args.peer_slots {
        options.relay.peer_slots = slots;
    }
    if let Some(quiet) = args.quiet_slots {
        options.relay.quiet_slots = quiet;
    }
    let database = match &args.postgres {
        Some(server) => Some(store::fresh_database(server).await?),
        None if args.replicas > 1 => anyhow::bail!("--replicas needs --postgres URL"),
        None => None,
    };
    if let Some((_, url)) = &database {
        options.databases.insert(
            RegionId::parse("SC")?,
            kuayu::store::sql::Location::Postgres(url.clone()),
        );
    }
    let mut fed = DevFederation::start(&dir, options).await?;
    for _ in 1..args.replicas {
        fed.add_replica("SC").await?;
    }
    let echo = echo::Echo::start(&fed.pki).await?;
    let floor = floor::Floor::start(&fed.pki, temp.path()).await?;
    let ordinary = submission("service.request", "service-request")?;
    let arrivals = load::Arrivals::watch(fed.court_client("CQ0103")?, inbox_end);
    let engine = match &args.postgres {
        Some(_) => format!("SC on PostgreSQL, {} replica(s)", args.replicas),
        None => "SC on SQLite".to_owned(),
    };
    println!(
        "kuayu federation benchmark: {} service requests per round, {} rounds (kuayu, echo, floor), SC→CQ on loopback, {engine}, {stored_before} requests stored at SC before",
        args.requests, args.rounds
    );
    let (sign, verify) = floor::ed25519_costs(2700);
    println!(
        "Ed25519 here (kuayu::crypto, one core, 2,700-byte message): {sign:.0} µs to sign, {verify:.0} µs to check (strict); a request's evidence (four signatures, three checks): {:.2} ms",
        (4.0 * sign + 3.0 * verify) / 1e3
    );
    let bytes_before = match &args.postgres {
        None => Some((
            store::sqlite_bytes(&dir, "SC").await?,
            store::sqlite_bytes(&dir, "CQ").await?,
        )),
        Some(_) => None,
    };
    let mut kuayu_requests = 0;
    for &concurrency in &args.concurrency {
        // Worker i: SC0104 or SC01 in turn, on each replica in turn.
        let courts = (0..concurrency)
            .map(|i| fed.court_client_of(["SC0104", "SC01"][i % 2], (i / 2) % args.replicas))
            .collect::<Result<Vec<_>, _>>()?;
        let echoes = (0..concurrency)
            .map(|i| echo.client(["SC0104", "SC01"][i % 2]))
            .collect::<Result<Vec<_>, _>>()?;
        let (mut ks, mut es, mut fs) = (Vec::new(), Vec::new(), Vec::new());
        println!("{concurrency} concurrent clients:");
        for r in 1..=args.rounds {
            // CPU from the round's start until its retrieval receipts are back at SC
            // (the last work its requests cause), so none of it falls in the echo's.
            let cpu = stats::cpu_seconds();
            let groups = group_commits(&fed);
            let mut k = load::round(&courts, &arrivals, &ordinary, args.requests).await?;
            store::receipts_settled(&dir, "CQ").await?;
            k.cpu_ms = per_request_ms(stats::cpu_seconds() - cpu, args.requests);
            let groups = groups_line(groups, group_commits(&fed), args.requests);
            kuayu_requests += args.requests;
            let size = arrivals
                .envelope_bytes
                .load(std::sync::atomic::Ordering::Relaxed);
            let body = Bytes::from(vec![b'x'; size]);
            let cpu = stats::cpu_seconds();
            let mut e = echo.round(&echoes, &body, args.requests).await?;
            e.cpu_ms = per_request_ms(stats::cpu_seconds() - cpu, args.requests);
            let cpu = stats::cpu_seconds();
            let mut f = floor.round(&echoes, &body, args.requests).await?;
            floor.settled().await;
            f.cpu_ms = per_request_ms(stats::cpu_seconds() - cpu, args.requests);
            println!("  {}", k.line(&format!("round {r} kuayu")));
            println!("  {}", e.line(&format!("round {r} echo")));
            println!("  {}", f.line(&format!("round {r} floor")));
            println!(
                "  round {r} ratio    kuayu/echo end to end {:.3}, kuayu/floor {:.3}; CPU per request kuayu {:.2} ms, echo {:.2} ms, floor {:.2} ms",
                k.e2e_rps / e.e2e_rps,
                k.e2e_rps / f.e2e_rps,
                k.cpu_ms,
                e.cpu_ms,
                f.cpu_ms
            );
            println!("  round {r} commits  {groups}");
            ks.push(k);
            es.push(e);
            fs.push(f);
        }
        let ratios: Vec<f64> = ks
            .iter()
            .zip(&es)
            .map(|(k, e)| k.e2e_rps / e.e2e_rps)
            .collect();
        let floor_ratios: Vec<f64> = ks
            .iter()
            .zip(&fs)
            .map(|(k, f)| k.e2e_rps / f.e2e_rps)
            .collect();
        let (k, e, f) = (
            Figures::median(&ks),
            Figures::median(&es),
            Figures::median(&fs),
        );
        println!("  {}", k.line("median kuayu"));
        println!("  {}", e.line("median echo"));
        println!("  {}", f.line("median floor"));
        println!(
            "  median ratio     kuayu/echo end to end {:.3}, kuayu/floor {:.3} (body {} bytes); CPU per request kuayu {:.2} ms, echo {:.2} ms, floor {:.2} ms",
            stats::median(ratios),
            stats::median(floor_ratios),
            arrivals
                .envelope_bytes
                .load(std::sync::atomic::Ordering::Relaxed),
            k.cpu_ms,
            e.cpu_ms,
            f.cpu_ms
        );
        if concurrency == args.concurrency[0] {
            // Half the throughput just measured, offered at a steady rate: the latency a
            // court sees when the gateway is not saturated.
            let rate = k.e2e_rps / 2.0;
            let count = ((rate * 10.0) as usize).max(200);
            let h = load::paced(&courts, &arrivals, &ordinary, rate, count).await?;
            kuayu_requests += count;
            println!("  {}", h.line(&format!("at 50%: {rate:.0}/s")));
        }
    }
    floor.stop().await;
    if let Some((sc, cq)) = bytes_before {
        // The retrieval receipts go back after the requests arrived: count them in.
        let settled = store::receipts_settled(&dir, "CQ").await?;
        println!(
            "retrieval receipts all carried back to SC {:.0} ms after the last request arrived",
            settled.as_secs_f64() * 1e3
        );
        let (sc2, cq2) = (
            store::sqlite_bytes(&dir, "SC").await?,
            store::sqlite_bytes(&dir, "CQ").await?,
        );
        let per = |a: u64, b: u64| b.saturating_sub(a) as f64 / kuayu_requests as f64;
        println!(
            "bytes stored per request (database pages in use, growth / {kuayu_requests} requests): SC {:.0}, CQ {:.0}",
            per(sc, sc2),
            per(cq, cq2)
        );
    }
    if args.queued > 0 {
        let concurrency = args.concurrency[0];
        let courts = (0..concurrency)
            .map(|i| fed.court_client_of(["SC0104", "SC01"][i % 2], (i / 2) % args.replicas))
            .collect::<Result<Vec<_>, _>>()?;
        let urgent = fed.court_client("SC0104")?;
        let cq = fed.court_client("CQ0103")?;
        let freeze = submission("preservation.request", "preservation-request")?;
        let p = preserve::run(
            &mut fed,
            &courts,
            preserve::Courts {
                urgent: &urgent,
                cq: &cq,
            },
            &arrivals,
            &ordinary,
            &freeze,
            args.queued,
        )
        .await?;
        println!(
            "preservation orders past {} queued ordinary requests (queued behind a stopped CQ, then drained in {:.1} s): {} orders, end to end (first seen by the CQ court) p50 {:.2} ms, p99 {:.2} ms, {} seen first by its preservation desk (stamped received at CQ: p50 {:.2} ms, p99 {:.2} ms; submission answered by SC: p50 {:.2} ms, p99 {:.2} ms); ordinary requests waiting when each was sent: median {:.0}, most {}",
            args.queued,
            p.drained_secs,
            p.orders,
            p.p50,
            p.p99,
            p.by_desk,
            p.stamped_p50,
            p.stamped_p99,
            p.submitted_p50,
            p.submitted_p99,
            p.waiting_median,
            p.waiting_max
        );
        println!(
            "  meanwhile, Sichuan's stages for the orders: {}\n  Chongqing's for all it took in: {}",
            p.sc_stages, p.cq_stages
        );
    }
    println!(
        "peak RSS of the process (both gateways, the echo and the clients): {:.0} MB",
        stats::peak_rss_mb()
    );
    arrivals.stop();
    fed.shutdown().await;
    if let Some((server, url)) = database {
        store::drop_database(&server, &url).await?;
    }
    Ok(())
}
