//! Starting and stopping a gateway: prepare everything, bind, serve the listeners and
//! run the relay; on SIGHUP, reload the TLS files; on shutdown, stop accepting, drain
//! connections and the relay, close the database.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::SharedClock;
use crate::config::GatewayConfig;
use crate::gateway::{Gateway, StartError};
use crate::http::Watch;
use crate::http::connections::Limits;
use crate::{http, relay, watcher};

/// The listening sockets of a gateway.
pub struct Listeners {
    /// For peer gateways.
    pub federation: TcpListener,
    /// For this region's courts.
    pub court: TcpListener,
    /// For administrators over TLS, if configured.
    pub admin: Option<TcpListener>,
    /// For administrators on this machine (a Unix domain socket), if configured.
    pub admin_socket: Option<(UnixListener, PathBuf)>,
    /// For load balancers and Prometheus (plain HTTP), if configured.
    pub health: Option<TcpListener>,
}

impl Listeners {
    /// Binds the addresses in `config`.
    pub async fn bind(config: &GatewayConfig) -> Result<Self, StartError> {
        let bind = |addr: SocketAddr, what: &'static str| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|e| StartError(format!("cannot listen on {addr} ({what}): {e}")))
        };
        let admin = config.admin.as_ref();
        Ok(Listeners {
            federation: bind(config.federation.listen, "federation").await?,
            court: bind(config.court_api.listen, "court API").await?,
            admin: match admin.and_then(|a| a.listen) {
                Some(addr) => Some(bind(addr, "admin").await?),
                None => None,
            },
            admin_socket: Self::admin_socket(config)?,
            health: match &config.health {
                Some(h) => Some(bind(h.listen, "health").await?),
                None => None,
            },
        })
    }

    /// Binds the admin API's Unix domain socket, if `config` has one.
    pub fn admin_socket(
        config: &GatewayConfig,
    ) -> Result<Option<(UnixListener, PathBuf)>, StartError> {
        let admin = config.admin.as_ref();
        match admin.and_then(|a| a.socket.as_ref().map(|s| (a, s))) {
            Some((a, path)) => {
                let mode = a.socket_mode().map_err(StartError)?;
                Ok(Some((bind_socket(path, mode)?, path.clone())))
            }
            None => Ok(None),
        }
    }
}

/// Binds a Unix domain socket at `path` with file mode `mode`: made under a temporary
/// name, restricted, then renamed into place, so it is never reachable with a wider mode.
/// A stale socket at `path` (left by a gateway that was killed) is replaced; any other
/// file there is an error.
fn bind_socket(path: &Path, mode: u32) -> Result<UnixListener, StartError> {
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
    let fail = |why: String| StartError(format!("admin socket {}: {why}", path.display()));
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(fail("a file that is not a socket is in the way".into()));
        }
        std::fs::remove_file(path)
            .map_err(|e| fail(format!("cannot replace the old socket: {e}")))?;
    }
    let staging = path.with_extension(format!("{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&staging);
    let listener = UnixListener::bind(&staging).map_err(|e| fail(e.to_string()))?;
    std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(mode))
        .and_then(|()| std::fs::rename(&staging, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&staging);
            fail(e.to_string())
        })?;
    Ok(listener)
}

/// A gateway that is serving.
pub struct RunningGateway {
    /// Its core.
    pub gateway: Arc<Gateway>,
    /// Where the federation API listens.
    pub federation_addr: SocketAddr,
    /// Where the court API listens.
    pub court_addr: SocketAddr,
    /// Where the admin API listens over TLS, if it does.
    pub admin_addr: Option<SocketAddr>,
    /// The admin API's Unix domain socket, if it has one.
    pub admin_socket: Option<PathBuf>,
    /// Where the plain-HTTP health listener listens, if it does.
    pub health_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Serves the listeners and runs the relay and the deadline watcher.
pub fn start(gateway: Arc<Gateway>, listeners: Listeners) -> Result<RunningGateway, StartError> {
    let addr = |l: &TcpListener| {
        l.local_addr()
            .map_err(|e| StartError(format!("listener address: {e}")))
    };
    let (federation_addr, court_addr) = (addr(&listeners.federation)?, addr(&listeners.court)?);
    let admin_addr = listeners.admin.as_ref().map(addr).transpose()?;
    let health_addr = listeners.health.as_ref().map(addr).transpose()?;
    let limits = Limits::from(&gateway.config.connections);
    let (shutdown, signal) = watch::channel(false);
    let tls = &gateway.tls;
    // Each listener is bound already: it counts as accepting from here (readiness), until
    // its loop stops.
    let watch = |name| {
        let watch = Watch::new(name, &gateway.observer);
        watch.accepting(true);
        watch
    };
    let tracked = |app, name| http::access::track(app, &watch(name));
    let mut tasks = vec![
        tokio::spawn(http::serve(
            listeners.federation,
            tls.federation(),
            tracked(http::federation::router(Arc::clone(&gateway)), "federation"),
            limits.clone(),
            signal.clone(),
            watch("federation"),
        )),
        tokio::spawn(http::serve(
            listeners.court,
            tls.court(),
            tracked(http::court::router(Arc::clone(&gateway)), "court"),
            limits.clone(),
            signal.clone(),
            watch("court"),
        )),
        tokio::spawn(relay::run(Arc::clone(&gateway), signal.clone())),
        tokio::spawn(relay::receipts::run(Arc::clone(&gateway), signal.clone())),
        tokio::spawn(watcher::run(Arc::clone(&gateway), signal.clone())),
        tokio::spawn(upkeep(Arc::clone(&gateway), signal.clone())),
    ];
    if let (Some(listener), Some(source)) = (listeners.admin, tls.admin()) {
        let app = tracked(http::admin::router(Arc::clone(&gateway)), "admin");
        tasks.push(tokio::spawn(http::serve(
            listener,
            source,
            app,
            limits.clone(),
            signal.clone(),
            watch("admin"),
        )));
    }
    let admin_socket = listeners.admin_socket.map(|(listener, path)| {
        let app = tracked(http::admin::router(Arc::clone(&gateway)), "admin_socket");
        tasks.push(tokio::spawn(http::serve_unix(
            listener,
            app,
            limits.clone(),
            signal.clone(),
            watch("admin_socket"),
        )));
        path
    });
    if let (Some(listener), Some(config)) = (listeners.health, &gateway.config.health) {
        let app = http::health::router(Arc::clone(&gateway), config.metrics);
        tasks.push(tokio::spawn(http::health::serve_plain(
            listener,
            tracked(app, "health"),
            limits.clone(),
            signal.clone(),
            watch("health"),
        )));
    }
    tracing::info!(region = %gateway.region, %federation_addr, %court_addr, "gateway serving");
    Ok(RunningGateway {
        gateway,
        federation_addr,
        court_addr,
        admin_addr,
        admin_socket,
        health_addr,
        shutdown,
        tasks,
    })
}

impl RunningGateway {
    /// Stops accepting, drains connections and the relay, closes the database.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        if let Some(path) = &self.admin_socket {
            let _ = std::fs::remove_file(path);
        }
        self.gateway.close().await;
        tracing::info!(region = %self.gateway.region, "gateway stopped");
    }
}

/// Folds the metrics' recorded samples every few seconds until shutdown.
async fn upkeep(g: Arc<Gateway>, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = every.tick() => g.observer.metrics.upkeep(),
            _ = shutdown.changed() => return,
        }
    }
}

/// `kuayu serve`: prepare, bind, serve until SIGINT or SIGTERM (reloading the TLS files
/// on SIGHUP), then shut down gracefully.
pub async fn run(config: GatewayConfig, clock: SharedClock) -> Result<(), StartError> {
    let gateway = Gateway::prepare(&config, clock).await?;
    let listeners = Listeners::bind(&config).await?;
    let running = start(gateway, listeners)?;
    signals(&running.gateway).await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// Waits for SIGINT or SIGTERM; on each SIGHUP meanwhile, reloads the TLS files.
async fn signals(g: &Gateway) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = term.recv() => return,
            _ = hup.recv() => match g.reload_tls() {
                Ok(report) => tracing::info!(files = report.files.len(), crls = report.crls, "SIGHUP: TLS files reloaded"),
                Err(e) => tracing::error!(error = %e, "SIGHUP: TLS reload failed; the previous certificates stay in force"),
            },
        }
    }
}
