//! Starting and stopping a gateway: prepare everything, bind, serve both listeners and
//! run the relay; on shutdown, stop accepting, drain connections and the relay, close
//! the database.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::SharedClock;
use crate::config::GatewayConfig;
use crate::gateway::{Gateway, ServerTls, StartError};
use crate::{http, relay, watcher};

/// The two listening sockets of a gateway.
pub struct Listeners {
    /// For peer gateways.
    pub federation: TcpListener,
    /// For this region's courts.
    pub court: TcpListener,
    /// For administrators, if configured.
    pub admin: Option<TcpListener>,
}

impl Listeners {
    /// Binds the addresses in `config`.
    pub async fn bind(config: &GatewayConfig) -> Result<Self, StartError> {
        let bind = |addr: SocketAddr, what: &'static str| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|e| StartError(format!("cannot listen on {addr} ({what}): {e}")))
        };
        Ok(Listeners {
            federation: bind(config.federation.listen, "federation").await?,
            court: bind(config.court_api.listen, "court API").await?,
            admin: match &config.admin {
                Some(a) => Some(bind(a.listen, "admin").await?),
                None => None,
            },
        })
    }
}

/// A gateway that is serving.
pub struct RunningGateway {
    /// Its core.
    pub gateway: Arc<Gateway>,
    /// Where the federation API listens.
    pub federation_addr: SocketAddr,
    /// Where the court API listens.
    pub court_addr: SocketAddr,
    /// Where the admin API listens, if it does.
    pub admin_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Serves the listeners and runs the relay and the deadline watcher.
pub fn start(
    gateway: Arc<Gateway>,
    tls: ServerTls,
    listeners: Listeners,
) -> Result<RunningGateway, StartError> {
    let addr = |l: &TcpListener| {
        l.local_addr()
            .map_err(|e| StartError(format!("listener address: {e}")))
    };
    let (federation_addr, court_addr) = (addr(&listeners.federation)?, addr(&listeners.court)?);
    let admin_addr = listeners.admin.as_ref().map(addr).transpose()?;
    let (shutdown, signal) = watch::channel(false);
    let mut tasks = vec![
        tokio::spawn(http::serve(
            listeners.federation,
            tls.federation,
            http::federation::router(Arc::clone(&gateway)),
            signal.clone(),
        )),
        tokio::spawn(http::serve(
            listeners.court,
            tls.court,
            http::court::router(Arc::clone(&gateway)),
            signal.clone(),
        )),
        tokio::spawn(relay::run(Arc::clone(&gateway), signal.clone())),
        tokio::spawn(watcher::run(Arc::clone(&gateway), signal.clone())),
    ];
    if let Some(listener) = listeners.admin {
        let app = http::admin::router(Arc::clone(&gateway));
        tasks.push(match tls.admin {
            Some(config) => tokio::spawn(http::serve(listener, config, app, signal)),
            None => tokio::spawn(http::serve_plain(listener, app, signal)),
        });
    }
    tracing::info!(region = %gateway.region, %federation_addr, %court_addr, "gateway serving");
    Ok(RunningGateway {
        gateway,
        federation_addr,
        court_addr,
        admin_addr,
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
        self.gateway.close().await;
        tracing::info!(region = %self.gateway.region, "gateway stopped");
    }
}

/// `kuayu serve`: prepare, bind, serve until SIGINT or SIGTERM, then shut down gracefully.
pub async fn run(config: GatewayConfig, clock: SharedClock) -> Result<(), StartError> {
    let (gateway, tls) = Gateway::prepare(&config, clock).await?;
    let listeners = Listeners::bind(&config).await?;
    let running = start(gateway, tls, listeners)?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
