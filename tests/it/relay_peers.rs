//! The relay per peer: a hung peer holds back no other peer and ordinary work never
//! takes its last slot (kept for preservation orders); a peer back from a long outage is
//! noticed within seconds whatever the backoff; and under concurrent load every request
//! is recorded `relayed` exactly once (on both engines).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kuayu::config::RelayConfig;
use kuayu::ids::{CourtId, MessageId, RegionId};
use kuayu::pki::RegionSpec;
use time::macros::datetime;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::support::*;

const START: time::OffsetDateTime = datetime!(2026-11-25 08:00 UTC);

/// Tibet: a partner whose gateway is not part of the dev federation.
fn tibet() -> RegionSpec {
    RegionSpec {
        region: RegionId::parse("XZ").unwrap(),
        courts: vec![CourtId::parse("XZ0101").unwrap()],
    }
}

/// A peer that completes the TLS handshake (with `XZ`'s gateway certificate), reads each
/// request and then never answers; counts the messages it holds (one for the single
/// route, each of a batch). Aborting the task closes its connections.
fn hung_peer(t: &TestFed, listener: TcpListener) -> (JoinHandle<()>, Arc<AtomicUsize>) {
    let xz = RegionId::parse("XZ").unwrap();
    let identity = kuayu::tls::Identity::load(
        &t.fed.pki.file(&xz, "gateway.crt"),
        &t.fed.pki.file(&xz, "gateway.key"),
    )
    .unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(kuayu::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(identity.chain, identity.key)
        .unwrap();
    // HTTP/1.1: one connection per request in flight, each read as it comes.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let held = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&held);
    let task = tokio::spawn(async move {
        let mut open = tokio::task::JoinSet::new();
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, count) = (acceptor.clone(), Arc::clone(&count));
            open.spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Some(messages) = read_request(&mut tls).await {
                    count.fetch_add(messages, Ordering::SeqCst);
                }
                // Holds the connection, answering nothing.
                std::future::pending::<()>().await;
                drop(tls);
            });
        }
    });
    (task, held)
}

/// Reads one HTTP/1.1 request: the messages it carries (the batch route's, or one).
async fn read_request(tls: &mut (impl tokio::io::AsyncRead + Unpin)) -> Option<usize> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0_u8; 16 * 1024];
    let head_end = loop {
        let n = tls.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())?;
    while buf.len() < head_end + length {
        let n = tls.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
    if !head.starts_with("post /federation/v1/messages/batch ") {
        return Some(1);
    }
    let body: serde_json::Value = serde_json::from_slice(&buf[head_end..]).ok()?;
    body["messages"].as_array().map(Vec::len)
}

#[tokio::test]
async fn a_hung_peer_holds_back_no_other_peer_and_ordinary_work_leaves_it_a_slot_for_preservation()
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("https://{}", listener.local_addr().unwrap());
    let t = TestFed::start_with(START, |o| {
        o.amend = Some(Box::new(|terms| terms.limits.rate = None));
        o.absent = vec![(tibet(), endpoint)];
    })
    .await;
    let (server, held) = hung_peer(&t, listener);
    let slots = RelayConfig::default().peer_slots;
    let sc = t.court("SC0104");

    for _ in 0..3 * slots {
        submit(&sc, &submission("service.request", "XZ0101")).await;
    }
    eventually("ordinary messages hanging at XZ", || async {
        (held.load(Ordering::SeqCst) == slots - 1).then_some(())
    })
    .await;

    // Deliveries to Chongqing do not wait for Tibet's 30 s timeouts.
    let started = Instant::now();
    let other = submit(&sc, &submission("service.request", "CQ0103"))
        .await
        .request_id;
    reaches(&sc, other, "relayed").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "relayed to CQ after {:?}",
        started.elapsed()
    );
    assert_eq!(
        held.load(Ordering::SeqCst),
        slots - 1,
        "ordinary work never takes the last slot"
    );

    // A preservation order to the hung peer still gets the slot kept for it.
    submit(&sc, &submission("preservation.request", "XZ0101")).await;
    eventually("the preservation order in flight to XZ", || async {
        (held.load(Ordering::SeqCst) == slots).then_some(())
    })
    .await;
    server.abort();
    t.shutdown().await;
}

/// The relay attempts on `id` so far, at Sichuan.
async fn attempts(t: &TestFed, id: MessageId) -> i64 {
    let store = &t.fed.gateway("SC").gateway.store;
    let due = store.due_outbox(i64::MAX, 100, &[]).await.unwrap();
    due.iter().find(|o| o.message_id == id).unwrap().attempts
}

#[tokio::test]
async fn a_peer_back_after_a_minute_away_gets_its_first_message_within_five_seconds() {
    let mut t = TestFed::start_with(START, |o| o.relay = RelayConfig::default()).await;
    t.fed.stop("CQ").await;
    let sc = t.court("SC0104");
    let id = submit(&sc, &submission("service.request", "CQ0103"))
        .await
        .request_id;

    // A minute away: the relay retries on its default backoff (doubling from 500 ms, up
    // to a fifth more spread), each retry failing, until the next is more than 5 s off.
    let away = Duration::from_secs(60);
    let backoff = RelayConfig::default().backoff_initial_ms;
    let mut passed = Duration::ZERO;
    let mut failures = 1;
    eventually("the first attempt to fail", || async {
        (attempts(&t, id).await >= 1).then_some(())
    })
    .await;
    loop {
        let step = Duration::from_millis(backoff << (failures - 1)) * 5 / 4;
        if passed + step > away {
            break;
        }
        t.clock.advance(step.try_into().unwrap());
        passed += step;
        failures += 1;
        eventually("the next retry to fail", || async {
            (attempts(&t, id).await >= failures).then_some(())
        })
        .await;
    }
    assert!(failures >= 6, "{failures} attempts in a minute");
    t.clock.advance((away - passed).try_into().unwrap());

    t.fed.restart("CQ").await.unwrap();
    let cq = t.court("CQ0103");
    let arrived = || async {
        let inbox = cq.inbox(0, 10).await.ok()?;
        inbox.items.iter().any(|i| i.request_id == id).then_some(())
    };
    let mut back_for = Duration::ZERO;
    loop {
        // Give the relay a moment of real time to act on the clock as it stands.
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && arrived().await.is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if arrived().await.is_some() {
            break;
        }
        assert!(
            back_for < Duration::from_secs(5),
            "not delivered {back_for:?} after the peer came back"
        );
        t.clock.advance(time::Duration::milliseconds(500));
        back_for += Duration::from_millis(500);
    }
    reaches(&sc, id, "relayed").await;
    t.shutdown().await;
}

/// 300 requests from 16 court systems at once; the sending gateway (Sichuan) on `engine`.
async fn every_request_is_relayed_exactly_once_under_concurrent_load(engine: &str) {
    const REQUESTS: usize = 300;
    const SUBMITTERS: usize = 16;
    let location = match engine {
        "sqlite" => None,
        _ => match crate::engines::fresh_postgres().await {
            Some(l) => Some(l),
            None => return,
        },
    };
    let t = TestFed::start_with(START, |o| {
        o.health = true;
        o.amend = Some(Box::new(|terms| terms.limits.rate = None));
        if let Some(l) = location {
            o.databases.insert(RegionId::parse("SC").unwrap(), l);
        }
    })
    .await;
    let work = ("service.request", "SC0104", "CQ0103");
    let ids = submit_concurrently(&t, REQUESTS, SUBMITTERS, work).await;
    assert_eq!(ids.len(), REQUESTS);
    let sc = t.court("SC0104");
    for id in &ids {
        reaches(&sc, *id, "relayed").await;
    }
    let store = &t.fed.gateway("SC").gateway.store;
    eventually("the outbox to empty", || async {
        store
            .due_outbox(i64::MAX, 10, &[])
            .await
            .ok()?
            .is_empty()
            .then_some(())
    })
    .await;

    for id in &ids {
        let view = sc.request(*id).await.unwrap();
        let relayed = view["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["event"] == "relayed")
            .count();
        assert_eq!(relayed, 1, "request {id}: {}", view["history"]);
    }
    let mut audited: HashMap<String, usize> = HashMap::new();
    for e in t.audit_log("SC").await {
        if e.action == "request.relayed" {
            *audited.entry(e.subject).or_default() += 1;
        }
    }
    assert_eq!(audited.len(), REQUESTS);
    assert!(
        audited.values().all(|n| *n == 1),
        "audited twice: {:?}",
        audited.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    // With 16 court systems at once, the relay sent messages started together in batches.
    let (_, metrics) = crate::health::health(&t, "CQ", "/metrics").await;
    let batches = crate::health::sample(
        &metrics,
        r#"kuayu_http_requests_total{listener="federation",method="POST",route="/federation/v1/messages/batch",status="200"}"#,
    );
    assert!(batches.is_some_and(|n| n >= 1.0), "{metrics}");
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_concurrent_load_every_request_is_relayed_exactly_once_on_sqlite() {
    every_request_is_relayed_exactly_once_under_concurrent_load("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_concurrent_load_every_request_is_relayed_exactly_once_on_postgres() {
    every_request_is_relayed_exactly_once_under_concurrent_load("postgres").await;
}
