//! More replicas of a dev region: another gateway of the same region, in the same
//! process, on the same database (PostgreSQL) and files, with listeners of its own — as a
//! second `kuayu serve` behind a load balancer would be. The benchmark runs Sichuan as
//! two replicas this way.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use super::{DevError, DevFederation, err};
use crate::client::CourtClient;
use crate::config::GatewayConfig;
use crate::gateway::Gateway;
use crate::ids::{CourtId, RegionId};
use crate::server::{self, Listeners, RunningGateway};

async fn bind() -> Result<(TcpListener, SocketAddr), DevError> {
    let l = TcpListener::bind("127.0.0.1:0").await.map_err(err)?;
    let addr = l.local_addr().map_err(err)?;
    Ok((l, addr))
}

impl DevFederation {
    /// Starts another replica of `region` from its configuration, on the same database,
    /// with fresh ports and its own admin socket; returns its number (replica 0 is the
    /// gateway [`DevFederation::start`] started). The region's database must be one that
    /// several replicas may share (PostgreSQL, see `DevOptions::databases`).
    pub async fn add_replica(&mut self, region: &str) -> Result<usize, DevError> {
        let r = RegionId::parse(region).map_err(err)?;
        let mut config = GatewayConfig::load(&self.configs[&r]).map_err(err)?;
        if config.database.sqlite_path().is_some() {
            return Err(DevError(format!(
                "{region} is on SQLite, which one process serves: put it on PostgreSQL for replicas"
            )));
        }
        let n = 1 + self.replicas.iter().filter(|(x, _)| x == &r).count();
        let (federation, federation_addr) = bind().await?;
        let (court, court_addr) = bind().await?;
        config.federation.listen = federation_addr;
        config.court_api.listen = court_addr;
        let mut admin = None;
        if let Some(a) = config.admin.as_mut() {
            if a.listen.is_some() {
                let (l, addr) = bind().await?;
                a.listen = Some(addr);
                admin = Some(l);
            }
            a.socket = a
                .socket
                .as_ref()
                .map(|s| s.with_file_name(format!("admin-{n}.sock")));
        }
        config.health = None;
        let gateway = Gateway::prepare(&config, std::sync::Arc::clone(&self.clock))
            .await
            .map_err(err)?;
        let listeners = Listeners {
            federation,
            court,
            admin,
            admin_socket: Listeners::admin_socket(&config).map_err(err)?,
            health: None,
        };
        let running = server::start(gateway, listeners).map_err(err)?;
        self.replicas.push((r, running));
        Ok(n)
    }

    /// Replica `n` of `region` (0: the first gateway).
    pub fn replica(&self, region: &str, n: usize) -> &RunningGateway {
        if n == 0 {
            return self.gateway(region);
        }
        self.replicas
            .iter()
            .filter(|(r, _)| r.as_str() == region)
            .nth(n - 1)
            .map(|(_, g)| g)
            .expect("no such replica")
    }

    /// A court system's client of replica `n` of the court's region.
    pub fn court_client_of(&self, court: &str, n: usize) -> Result<CourtClient, DevError> {
        let court = CourtId::parse(court).map_err(err)?;
        let region = court.region();
        let (cert, key) = self.pki.court(&court);
        let addr = self.replica(region.as_str(), n).court_addr;
        self.court_api_client_at(addr, &region, &cert, &key)
    }
}
