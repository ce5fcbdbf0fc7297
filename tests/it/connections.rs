//! Connection discipline, tried as an attacker would: a client that sends its headers a
//! byte at a time, one that finishes TLS and goes silent, a flood of a thousand slow or
//! silent connections, and a connection kept open past the certificate's revocation.
//! These deadlines are network timeouts on real sockets, so the tests run them short
//! (hundreds of milliseconds) on the wall clock.

use std::time::{Duration, Instant};

use kuayu::ids::{CourtId, RegionId};
use kuayu::pki::DevCa;
use time::macros::datetime;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::*;

async fn with_limits(change: impl FnOnce(&mut kuayu::config::ConnectionsConfig)) -> TestFed {
    TestFed::start_with(datetime!(2026-11-25 08:00 UTC), |o| {
        change(&mut o.connections)
    })
    .await
}

/// Reads until the server closes the connection (or 10 s pass); returns when that was.
async fn closed_by_server<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Option<Instant> {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(Instant::now()),
            Ok(Ok(_)) | Err(_) => {}
        }
    }
    None
}

#[tokio::test]
async fn a_client_sending_its_headers_a_byte_at_a_time_is_disconnected_at_the_header_deadline() {
    let t = with_limits(|c| c.header_read_timeout_ms = 600).await;
    let stream = tls_as(&t, "SC0104", b"http/1.1").await;
    let (mut read, mut write) = tokio::io::split(stream);
    let opened = Instant::now();
    write
        .write_all(b"GET /v1/inbox HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    // One byte every 100 ms: the headers would take 10 s to finish.
    let dribble = tokio::spawn(async move {
        for _ in 0..100 {
            if write.write_all(b"a").await.is_err() || write.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let closed = closed_by_server(&mut read)
        .await
        .expect("the server closed it");
    let after = closed - opened;
    assert!(
        after >= Duration::from_millis(500) && after < Duration::from_millis(3000),
        "closed after {after:?}; the header deadline is 600 ms"
    );
    dribble.abort();
    t.shutdown().await;
}

#[tokio::test]
async fn a_connection_that_finishes_tls_and_goes_silent_is_closed() {
    let t = with_limits(|c| c.header_read_timeout_ms = 600).await;
    for alpn in [&b"h2"[..], b"http/1.1"] {
        let mut stream = tls_as(&t, "SC0104", alpn).await;
        let opened = Instant::now();
        let closed = closed_by_server(&mut stream)
            .await
            .expect("the server closed it");
        assert!(
            closed - opened < Duration::from_millis(3000),
            "{} silent connection closed after {:?}",
            String::from_utf8_lossy(alpn),
            closed - opened
        );
    }
    t.shutdown().await;
}

#[tokio::test]
async fn a_flood_of_a_thousand_slow_or_silent_connections_does_not_stop_a_good_request() {
    let t = TestFed::start().await;
    let addr = t.fed.gateway("SC").court_addr;
    let mut flood = Vec::new();
    // 600 plain TCP connections that never start TLS ...
    for _ in 0..600 {
        flood.push(TcpStream::connect(addr).await.unwrap());
    }
    // ... and 400 that finish TLS as a court of the region, then say nothing.
    let mut silent = Vec::new();
    for _ in 0..400 {
        silent.push(tls_as(&t, "SC01", b"h2").await);
    }
    assert_eq!(flood.len() + silent.len(), 1000);
    let started = Instant::now();
    let answer = tokio::time::timeout(
        Duration::from_secs(20),
        t.court("SC0104")
            .submit(&submission("service.request", "CQ0103"), None),
    )
    .await
    .expect("answered while the flood holds its connections")
    .expect("accepted");
    assert_eq!(answer.state, "submitted");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // The flood pushed itself out: beyond the caps (256 handshakes in progress, 64
    // connections per client), the oldest were closed to make room, long before their
    // deadlines.
    let plain_closed = count_closed(&mut flood).await;
    let silent_closed = count_closed(&mut silent).await;
    assert!(
        plain_closed >= 600 - 256 && silent_closed >= 400 - 64,
        "closed: {plain_closed} of 600 plain, {silent_closed} of 400 silent"
    );
    t.shutdown().await;
}

/// How many of `streams` the server has closed (a read ends at once).
async fn count_closed<S: tokio::io::AsyncRead + Unpin>(streams: &mut [S]) -> usize {
    let mut closed = 0;
    for s in streams.iter_mut() {
        let mut buf = [0u8; 64];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(5), s.read(&mut buf)).await
        {
            closed += 1;
        }
    }
    closed
}

#[tokio::test]
async fn a_connection_past_its_maximum_age_is_closed_so_a_revoked_certificate_stops_working() {
    let t = with_limits(|c| c.max_connection_age_ms = 800).await;
    let sc = RegionId::parse("SC").unwrap();
    let court = t.court("SC0104");
    court.inbox(0, 10).await.unwrap();
    let (cert, _) = t.fed.pki.court(&CourtId::parse("SC0104").unwrap());
    t.fed.pki.revoke(&sc, DevCa::Court, &[&cert]).unwrap();
    t.fed
        .admin("SC", "alice")
        .unwrap()
        .reload_tls()
        .await
        .unwrap();
    // The pooled connection was opened before the revocation: once it is older than the
    // maximum age, the gateway closes it and the next request needs a new handshake.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let err = court.inbox(0, 10).await.unwrap_err();
    assert!(err.to_string().contains("Revoked"), "{err}");
    t.shutdown().await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_answered_408_and_nothing_is_kept() {
    let t = with_limits(|c| c.request_timeout_ms = 500).await;
    let mut stream = tls_as(&t, "SC0104", b"http/1.1").await;
    let body = serde_json::to_string(&submission("service.request", "CQ0103")).unwrap();
    let head = format!(
        "POST /v1/requests HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Idempotency-Key: slow-1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
        .write_all(&body.as_bytes()[..body.len() / 2])
        .await
        .unwrap();
    stream.flush().await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408") && answer.contains("\"code\":\"request_timeout\""),
        "{answer}"
    );
    let listed = t.court("SC0104").requests(false).await.unwrap();
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );
    t.shutdown().await;
}
