//! HTTPS serving: one accept loop for every listener, TLS handshakes in per-connection
//! tasks, the peer's certificate chain handed to handlers as a request extension, and the
//! connection discipline of [`connections`] and [`deadline`]: handshake, header, idle,
//! request and age deadlines, caps in total and per client identity; connections close
//! lingering ([`linger`]), so that an early refusal reaches a client still sending.
//!
//! - [`court`]: the court-facing API (`/v1/...`).
//! - [`federation`]: the gateway-to-gateway API (`/federation/v1/...`).
//! - [`attachments`]: attachment routes of both, streamed and verified.
//! - [`admin`]: the admin API, over TLS or a Unix domain socket.
//! - [`problem`]: RFC 9457 responses and the JSON body extractor.
//! - [`openapi`]: the court and federation APIs as OpenAPI 3.1 documents; [`reference`](mod@reference)
//!   serves them.

pub mod access;
pub mod admin;
pub mod attachments;
pub mod bundle;
pub mod caller;
pub mod connections;
pub mod court;
pub mod deadline;
pub mod federation;
pub mod health;
pub mod inbox;
pub mod linger;
pub mod listening;
pub mod openapi;
pub mod print_jobs;
pub mod problem;
pub mod reference;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::time::{Duration, Instant};
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use connections::{ConnSlot, Limits, Table};
use deadline::{DeadlineBody, RequestDeadline};
pub use listening::Watch;

/// The client certificate chain of the connection a request came on (end entity first).
/// The server configs require a client certificate, so it is never empty in practice.
#[derive(Debug, Clone)]
pub struct PeerCertificates(pub Arc<Vec<CertificateDer<'static>>>);

/// The operating-system user that connected to the admin socket (from `SO_PEERCRED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalUser {
    /// Its user id.
    pub uid: u32,
}

/// Where a TLS listener takes its configuration from at each handshake: the current one,
/// which a reload swaps (certificates, CA files, revocation lists).
pub type TlsSource = Arc<dyn Fn() -> Arc<rustls::ServerConfig> + Send + Sync>;

/// The HTTP/1.1 and HTTP/2 settings every listener shares.
fn builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .max_headers(100);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_max_streams)
        .keep_alive_interval(limits.http2_keepalive.0)
        .keep_alive_timeout(limits.http2_keepalive.1)
        .max_pending_accept_reset_streams(Some(20))
        .max_header_list_size(64 * 1024);
    builder
}

/// Serves `app` over TLS on `listener` until `shutdown` turns true, then drains open
/// connections for up to the drain deadline. Each connection gets `limits`; handshakes,
/// connections and whether it is accepting are reported to `watch`.
pub async fn serve(
    listener: TcpListener,
    tls: TlsSource,
    app: Router,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
    watch: Watch,
) {
    let table = Table::new(limits);
    let tasks = TaskTracker::new();
    watch.accepting(true);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let handshake = table.handshake();
        let (acceptor, app, table, mut shutdown, watch) = (
            TlsAcceptor::from(tls()),
            app.clone(),
            Arc::clone(&table),
            shutdown.clone(),
            watch.clone(),
        );
        tasks.spawn(async move {
            let limit = table.limits().handshake;
            let tls = tokio::select! {
                _ = shutdown.changed() => return,
                done = tokio::time::timeout(limit, acceptor.accept(stream)) => match done {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        let reason = listening::handshake_failure(&e);
                        watch.handshake_failed(reason);
                        tracing::info!(%remote, reason, error = %e, "TLS handshake refused");
                        return;
                    }
                    Err(_) => {
                        watch.handshake_failed("timeout");
                        tracing::info!(%remote, "TLS handshake timed out");
                        return;
                    }
                },
                () = handshake.evicted() => {
                    watch.handshake_failed("evicted");
                    tracing::info!(%remote, "TLS handshake dropped to make room for newer ones");
                    return;
                }
            };
            drop(handshake);
            let chain: Vec<CertificateDer<'static>> = tls
                .get_ref()
                .1
                .peer_certificates()
                .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
                .unwrap_or_default();
            let identity = chain
                .first()
                .and_then(crate::tls::participant)
                .map_or_else(|| "unnamed".to_owned(), |p| p.uri());
            let Some(slot) = table.admit(identity.clone()) else {
                watch.refused("busy");
                tracing::warn!(%remote, %identity, "connection refused: every connection of this client is busy");
                return;
            };
            let _open = watch.open();
            let mut extensions = http::Extensions::new();
            extensions.insert(PeerCertificates(Arc::new(chain)));
            connection(TokioIo::new(linger::Linger::new(tls)), slot, &table, app, extensions, shutdown).await;
        });
    }
    drop(listener);
    watch.accepting(false);
    drain(tasks, &table).await;
}

/// Serves `app` over plain HTTP on a Unix domain socket (the admin API), with the
/// connecting user's id (from the kernel) as the [`LocalUser`] extension.
pub async fn serve_unix(
    listener: UnixListener,
    app: Router,
    limits: Limits,
    shutdown: watch::Receiver<bool>,
    watch: Watch,
) {
    let listener = &listener;
    let accept = move || async move {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed (admin socket)");
                tokio::time::sleep(Duration::from_millis(50)).await;
                return None;
            }
        };
        let Ok(cred) = stream.peer_cred() else {
            tracing::warn!("admin socket: the caller's credentials are unknown; refused");
            return None;
        };
        let user = LocalUser { uid: cred.uid() };
        let mut extensions = http::Extensions::new();
        extensions.insert(user);
        Some((stream, format!("uid:{}", user.uid), extensions))
    };
    serve_accepted(accept, app, limits, shutdown, watch).await;
}

/// Serves `app` over plain HTTP (no TLS) on what `accept` yields: a stream, the key the
/// connection table counts it under (a user, an address), and what its requests carry
/// as extensions; `None` when a connection was refused or accepting failed. Until
/// `shutdown` turns true, then drains.
async fn serve_accepted<S, F, Fut>(
    mut accept: F,
    app: Router,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
    watch: Watch,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<(S, String, http::Extensions)>>,
{
    let table = Table::new(limits);
    let tasks = TaskTracker::new();
    watch.accepting(true);
    loop {
        let accepted = tokio::select! {
            accepted = accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let Some((stream, key, extensions)) = accepted else {
            continue;
        };
        let Some(slot) = table.admit(key) else {
            watch.refused("busy");
            continue;
        };
        let (app, table, shutdown) = (app.clone(), Arc::clone(&table), shutdown.clone());
        let open = watch.open();
        tasks.spawn(async move {
            let _open = open;
            let io = TokioIo::new(linger::Linger::new(stream));
            connection(io, slot, &table, app, extensions, shutdown).await;
        });
    }
    watch.accepting(false);
    drain(tasks, &table).await;
}

async fn drain(tasks: TaskTracker, table: &Table) {
    tasks.close();
    // Each connection drains within its own deadline after the shutdown signal; this is
    // the backstop.
    let limit = table.limits().drain + Duration::from_secs(1);
    if tokio::time::timeout(limit, tasks.wait()).await.is_err() {
        tracing::warn!("connections still open after the drain deadline; closing them");
    }
}

/// Serves one connection and supervises it: closes it when it idles past its deadline
/// (nothing in flight), when the table needs its place, and gracefully when it reaches
/// its maximum age or the listener shuts down (requests in flight get the drain deadline).
async fn connection<I>(
    io: TokioIo<I>,
    slot: ConnSlot,
    table: &Table,
    app: Router,
    extensions: http::Extensions,
    mut shutdown: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = table.limits().clone();
    let conn = Arc::clone(&slot.conn);
    let service = {
        let (conn, limits) = (Arc::clone(&conn), limits.clone());
        tower::service_fn(move |mut req: http::Request<Incoming>| {
            let guard = conn.begin();
            let timeout = if deadline::is_transfer(req.uri().path()) {
                limits.transfer
            } else {
                limits.request
            };
            let until = Instant::now() + timeout;
            req.extensions_mut().extend(extensions.clone());
            req.extensions_mut().insert(RequestDeadline(until));
            let req = req.map(|b| Body::new(DeadlineBody::new(b, until, None)));
            let app = app.clone();
            async move {
                let response = app.oneshot(req).await?;
                let until = Instant::now() + timeout;
                Ok::<_, std::convert::Infallible>(
                    response.map(|b| Body::new(DeadlineBody::new(b, until, Some(guard)))),
                )
            }
        })
    };
    let builder = builder(&limits);
    let serving = builder.serve_connection(io, TowerToHyperService::new(service));
    tokio::pin!(serving);
    let age_limit = conn.opened() + limits.max_age;
    let mut draining: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let wake = match draining {
            Some(until) => until,
            None => conn
                .idle_deadline(&limits)
                .unwrap_or(now + limits.idle)
                .min(age_limit),
        };
        tokio::select! {
            done = serving.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = conn.evicted(), if draining.is_none() => {
                if conn.in_flight() == 0 {
                    return;
                }
                serving.as_mut().graceful_shutdown();
                draining = Some(Instant::now() + limits.drain);
            }
            _ = shutdown.changed(), if draining.is_none() => {
                serving.as_mut().graceful_shutdown();
                draining = Some(Instant::now() + limits.drain);
            }
            () = tokio::time::sleep_until(wake) => {
                let now = Instant::now();
                match draining {
                    Some(until) if now >= until => return,
                    Some(_) => {}
                    None if now >= age_limit => {
                        serving.as_mut().graceful_shutdown();
                        draining = Some(now + limits.drain);
                    }
                    None => {
                        if conn.idle_deadline(&limits).is_some_and(|d| now >= d) {
                            return;
                        }
                    }
                }
            }
        }
    }
}
