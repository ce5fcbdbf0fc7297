//! The kill harness (issue 9): Sichuan's gateway as real `kuayu serve` processes behind a
//! TCP load balancer — two replicas on one PostgreSQL database, or one process on its
//! SQLite file — while one process is SIGKILLed every 2 s and started again. Court
//! clients send a stream of service requests to Chongqing through the balancer, each
//! retried under its Idempotency-Key until answered. At the end every answered request is
//! in Chongqing's inbox exactly once, has one `relayed` entry in Sichuan's history and
//! audit log, and every receipt verifies.
//!
//! The CI run sends a few hundred requests per engine; the long run is the same test with
//! `KUAYU_KILL_REQUESTS` (see README, "Killed every two seconds").

mod balancer;
mod checks;
mod load;
mod replicas;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kuayu::client::CourtClient;
use kuayu::clock::SystemClock;
use kuayu::devnet::{DevFederation, DevOptions};
use kuayu::ids::{CourtId, RegionId};
use kuayu::store::sql::Location;
use kuayu::tls::Identity;

use balancer::Balancer;
use checks::Findings;
use load::Killer;
use replicas::Replica;

/// Requests of the CI run, unless `KUAYU_KILL_REQUESTS` says otherwise.
const CI_REQUESTS: usize = 600;
/// Court clients sending at once.
const CLIENTS: usize = 12;
/// How often a process is killed, and how long it stays down.
const KILL_EVERY: Duration = Duration::from_secs(2);
const DOWN_FOR: Duration = Duration::from_millis(300);
/// The relay's request timeout here: outbox leases last twice this, so what a killed
/// replica had claimed passes on after 6 s (the default is 60 s).
const RELAY_TIMEOUT_MS: u64 = 3_000;
/// The longest the partner's inbox may take to fill after the last answer.
const SETTLE_LIMIT: Duration = Duration::from_secs(90);

fn requests() -> usize {
    std::env::var("KUAYU_KILL_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CI_REQUESTS)
}

/// A court client of `court` whose gateway is at `addr` (the balancer).
fn court_client(fed: &DevFederation, court: &str, addr: std::net::SocketAddr) -> CourtClient {
    let court = CourtId::parse(court).unwrap();
    let (cert, key) = fed.pki.court(&court);
    let ca = fed.pki.pem(&court.region(), "court-ca.crt").unwrap();
    CourtClient::new(
        &format!("https://{addr}"),
        &ca,
        &Identity::load(&cert, &key).unwrap(),
    )
    .unwrap()
}

/// Runs the harness with Sichuan on `database` (`None`: its SQLite file) as `replicas`
/// processes, and asserts that nothing was lost, duplicated or misrecorded.
async fn kill_harness(database: Option<Location>, replicas: usize) {
    let engine = if database.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let dir = tempfile::tempdir().unwrap();
    let sc = RegionId::parse("SC").unwrap();
    let mut options = DevOptions::new(Arc::new(SystemClock));
    // The stream is many requests from two courts: lift the agreement's per-court rate.
    options.amend = Some(Box::new(|terms| terms.limits.rate = None));
    options.relay.request_timeout_ms = RELAY_TIMEOUT_MS;
    if let Some(db) = &database {
        options.databases.insert(sc.clone(), db.clone());
    }
    let mut fed = DevFederation::start(dir.path(), options).await.unwrap();
    let config = kuayu::config::GatewayConfig::load(&fed.configs[&sc]).unwrap();
    // Sichuan's in-process gateway gives way to processes behind a balancer on its ports.
    let (front_court, front_federation) = (
        fed.gateway("SC").court_addr,
        fed.gateway("SC").federation_addr,
    );
    fed.stop("SC").await;
    let mut processes: Vec<Replica> = (0..replicas)
        .map(|n| Replica::new(&fed.configs[&sc], n))
        .collect();
    for p in &mut processes {
        p.start();
    }
    let _court_lb = Balancer::start(front_court, processes.iter().map(|p| p.court).collect()).await;
    let _federation_lb = Balancer::start(
        front_federation,
        processes.iter().map(|p| p.federation).collect(),
    )
    .await;

    let senders: Vec<(CourtId, CourtClient)> = ["SC0104", "SC01"]
        .iter()
        .map(|c| {
            (
                CourtId::parse(c).unwrap(),
                court_client(&fed, c, front_court),
            )
        })
        .collect();
    crate::support::eventually("the replicas answer", || async {
        senders[0].1.agreements().await.ok().map(|_| ())
    })
    .await;
    let clients = (0..CLIENTS)
        .map(|i| senders[i % senders.len()].clone())
        .collect();

    let total = requests();
    let began = Instant::now();
    let killer = Killer::start(processes, KILL_EVERY, DOWN_FOR);
    let sent = load::drive(clients, &["CQ0103", "CQ01"], total, killer.halt.clone()).await;
    let (mut processes, kills) = killer.stop().await;
    let duration = began.elapsed();

    let mut f = Findings::default();
    let settling = Instant::now();
    let partners: Vec<(CourtId, CourtClient)> = ["CQ0103", "CQ01"]
        .iter()
        .map(|c| (CourtId::parse(c).unwrap(), fed.court_client(c).unwrap()))
        .collect();
    let agreement = &fed.agreement;
    checks::partner_inboxes(&sent, &partners, agreement, SETTLE_LIMIT, &mut f).await;
    let by_court: BTreeMap<CourtId, CourtClient> = senders.into_iter().collect();
    let deadline = Instant::now() + SETTLE_LIMIT;
    checks::sender_histories(&sent, &by_court, agreement, deadline, &mut f).await;
    f.settle = settling.elapsed();
    for p in &mut processes {
        p.kill().await;
    }
    checks::sender_audit(&sent, &config.database, &mut f).await;

    let attempts: usize = sent.iter().map(|s| s.attempts).sum();
    let keys: std::collections::BTreeSet<&str> = sent.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys.len(), sent.len(), "one key per request");
    println!(
        "kill harness, {engine}, {replicas} process(es) of SC: {} requests answered of {total} \
         in {:.1} s ({} attempts), {kills} kills; lost {}, duplicated {}, unasked {}, unrelayed {}; \
         relayed per request {:?}, request.relayed per request {:?}; receipts verified {}/{}; \
         all relayed and in the inbox {:.1} s after the last answer",
        sent.len(),
        duration.as_secs_f64(),
        attempts,
        f.lost,
        f.duplicated,
        f.unasked,
        f.unrelayed,
        f.relayed,
        f.audited,
        f.receipts.0,
        f.receipts.1,
        f.settle.as_secs_f64(),
    );
    assert_eq!(sent.len(), total, "every request was answered");
    assert!(kills > 0, "the run lasted long enough to kill a process");
    assert!(f.clean(), "{f:?}");
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_postgres_replicas_of_a_region_killed_every_two_seconds_lose_and_repeat_nothing() {
    if let Some(db) = crate::engines::fresh_postgres().await {
        kill_harness(Some(db), 2).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sqlite_gateway_process_killed_every_two_seconds_loses_and_repeats_nothing() {
    kill_harness(None, 1).await;
}
