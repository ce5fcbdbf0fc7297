//! The limit to measure kuayu against: a bare two-hop mutual-TLS echo on the same stack
//! (axum, rustls, reqwest, HTTP/2 by ALPN) with the dev PKI's certificates. A court
//! client posts to echo gateway A (Sichuan's court-API certificate, court clients
//! verified), A posts the body to echo gateway B (Chongqing's gateway certificate,
//! Sichuan's gateway verified) with Sichuan's gateway certificate, B answers with the
//! body, and A passes the answer back. No validation, signing or storage.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use kuayu::ids::{CourtId, RegionId};
use kuayu::pki::DevPki;
use kuayu::tls::{self, Identity};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::stats::Figures;

/// The two echo gateways, listening on loopback.
pub struct Echo {
    /// Gateway A's address (clients post to `https://{a}/echo`).
    pub a: SocketAddr,
    pki_dir: std::path::PathBuf,
}

fn region(r: &str) -> RegionId {
    RegionId::parse(r).unwrap()
}

/// Serves `router` over TLS with `identity`, requiring client certificates under `anchors`.
/// Aborting the task returned stops the server and closes its connections.
pub async fn serve(
    identity: &Identity,
    anchors: &str,
    router: Router,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let verifier = tls::client_verifier(&tls::parse_certs(anchors)?, &[])?;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls::server_config(identity, verifier)?);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        // The connections' tasks live in this set, dropped (and so aborted) with the task.
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((tcp, _)) = accepted else { break };
                    let (acceptor, router) = (acceptor.clone(), router.clone());
                    connections.spawn(async move {
                        let Ok(stream) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let service = TowerToHyperService::new(router);
                        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                Some(_) = connections.join_next() => {}
            }
        }
    });
    Ok((addr, server))
}

impl Echo {
    /// Starts B, then A forwarding to B, with the certificates of `pki`.
    pub async fn start(pki: &DevPki) -> anyhow::Result<Self> {
        let (sc, cq) = (region("SC"), region("CQ"));
        let b_identity =
            Identity::load(&pki.file(&cq, "gateway.crt"), &pki.file(&cq, "gateway.key"))?;
        let (b, _) = serve(
            &b_identity,
            &pki.pem(&sc, "federation-ca.crt")?,
            Router::new().route("/echo", post(|body: Bytes| async move { body })),
        )
        .await?;
        let hop = tls::http_client(
            &tls::parse_certs(&pki.pem(&cq, "federation-ca.crt")?)?,
            &Identity::load(&pki.file(&sc, "gateway.crt"), &pki.file(&sc, "gateway.key"))?,
            Duration::from_secs(30),
        )?;
        let forward = Arc::new((hop, format!("https://{b}/echo")));
        let a_identity = Identity::load(
            &pki.file(&sc, "court-api.crt"),
            &pki.file(&sc, "court-api.key"),
        )?;
        let (a, _) = serve(
            &a_identity,
            &pki.pem(&sc, "court-ca.crt")?,
            Router::new()
                .route(
                    "/echo",
                    post(
                        |State(f): State<Arc<(reqwest::Client, String)>>, body: Bytes| async move {
                            match f.0.post(&f.1).body(body).send().await {
                                Ok(r) => r.bytes().await.unwrap_or_default(),
                                Err(_) => Bytes::new(),
                            }
                        },
                    ),
                )
                .with_state(forward),
        )
        .await?;
        Ok(Echo {
            a,
            pki_dir: pki.dir.clone(),
        })
    }

    /// A court client of A: court `court`'s certificate, trusting Sichuan's court CA.
    pub fn client(&self, court: &str) -> anyhow::Result<reqwest::Client> {
        let pki = DevPki {
            dir: self.pki_dir.clone(),
        };
        let court = CourtId::parse(court)?;
        let (cert, key) = pki.court(&court);
        Ok(tls::http_client(
            &tls::parse_certs(&pki.pem(&court.region(), "court-ca.crt")?)?,
            &Identity::load(&cert, &key)?,
            Duration::from_secs(30),
        )?)
    }

    /// One timed echo run: `count` posts of `body` from `clients.len()` concurrent clients.
    pub async fn round(
        &self,
        clients: &[reqwest::Client],
        body: &Bytes,
        count: usize,
    ) -> anyhow::Result<Figures> {
        let url = format!("https://{}/echo", self.a);
        post_round(clients, &url, body, count, body.len()).await
    }
}

/// One timed run against `url`: `count` posts of `body` from `clients.len()` concurrent
/// clients; an answer counts when it is a success of `answer_len` bytes (else why not is
/// printed).
pub async fn post_round(
    clients: &[reqwest::Client],
    url: &str,
    body: &Bytes,
    count: usize,
    answer_len: usize,
) -> anyhow::Result<Figures> {
    let next = Arc::new(AtomicUsize::new(0));
    let begin = Instant::now();
    let mut workers = Vec::new();
    for client in clients {
        let (client, url, body, next) = (
            client.clone(),
            url.to_owned(),
            body.clone(),
            Arc::clone(&next),
        );
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let t = Instant::now();
                let answer = match client.post(&url).body(body.clone()).send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.map_err(|e| e.to_string()),
                    Ok(r) => Err(format!("status {}", r.status())),
                    Err(e) => Err(e.to_string()),
                };
                match answer {
                    Ok(b) if b.len() == answer_len => latencies.push(t.elapsed()),
                    Ok(b) => eprintln!("{url}: {} bytes back, {answer_len} expected", b.len()),
                    Err(e) => eprintln!("{url}: {e}"),
                }
            }
            latencies
        }));
    }
    let mut all = Vec::with_capacity(count);
    for w in workers {
        all.extend(w.await?);
    }
    let elapsed = begin.elapsed();
    Ok(Figures::of(all.clone(), all, elapsed, elapsed))
}
