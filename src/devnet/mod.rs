//! A federation on loopback, in one process: fresh PKI, the sample agreements re-bound to
//! that PKI and to the ports actually bound, signed by their parties, and a real gateway
//! per region (real TLS, real SQLite, real HTTP). Two regions (Sichuan–Chongqing) by
//! default; three (Sichuan also with Guizhou, two agreements at the SC gateway) with
//! [`DevOptions::three_regions`]. The demo, the black-box tests and the benchmark all
//! start from here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::agreement::{self, Agreement, Terms};
use crate::clock::SharedClock;
use crate::config::{AttachmentsConfig, ConnectionsConfig, GatewayConfig, RelayConfig};
use crate::gateway::Gateway;
use crate::ids::RegionId;
use crate::pki::{self, DevPki, RegionSpec};
use crate::server::{self, Listeners, RunningGateway};

mod absent;
mod clients;
mod config;
mod replica;
mod samples;

pub use samples::{
    COURT_NAMES, SAMPLE_AGREEMENT, SAMPLE_AGREEMENT_SC_GZ, Sample, bind, bind_sample, dev_region,
    three_regions,
};

/// Anything that stops the dev federation from starting.
#[derive(Debug, thiserror::Error)]
#[error("dev federation: {0}")]
pub struct DevError(pub String);

fn err(e: impl std::fmt::Display) -> DevError {
    DevError(e.to_string())
}

/// A change to an agreement's terms.
pub type TermsChange = Box<dyn Fn(&mut Terms) + Send + Sync>;

/// How to start the dev federation.
pub struct DevOptions {
    /// The clock both gateways read.
    pub clock: SharedClock,
    /// Regions and their courts.
    pub regions: Vec<RegionSpec>,
    /// Relay tuning for both gateways.
    pub relay: RelayConfig,
    /// The sample agreements to bind and load, the first being the federation's main
    /// [`DevFederation::agreement`]; each gateway loads those naming its region.
    pub agreements: Vec<Sample>,
    /// Changes to every agreement's terms before its parties sign it (the benchmark lifts
    /// the per-court rate this way; a change for one agreement looks at `terms.id`).
    pub amend: Option<TermsChange>,
    /// Deadlines and caps of every listener.
    pub connections: ConnectionsConfig,
    /// Attachment quotas, upload rate and the free-disk watermark.
    pub attachments: AttachmentsConfig,
    /// A plain-HTTP health listener per gateway (with `/metrics`).
    pub health: bool,
    /// Partner regions that run no gateway here, each at the federation endpoint given
    /// (a listener the caller holds: a partner that is down or hung). Each gets its PKI
    /// and joins the agreement as a party taking what the first region sends the second.
    pub absent: Vec<(RegionSpec, String)>,
    /// A database per region other than the default SQLite file `<region>/kuayu.db`
    /// (a PostgreSQL URL for tests of that engine); attachments then go to
    /// `<region>/blobs`.
    pub databases: BTreeMap<RegionId, crate::store::sql::Location>,
    /// Whether each gateway runs the retention purge itself, daily (`purge_daily`).
    pub purge_daily: bool,
}

impl DevOptions {
    /// Sichuan and Chongqing with two courts each, on the given clock.
    pub fn new(clock: SharedClock) -> Self {
        let relay = RelayConfig {
            backoff_initial_ms: 100,
            backoff_max_ms: 2_000,
            ..RelayConfig::default()
        };
        DevOptions {
            clock,
            regions: crate::cli::default_regions(),
            relay,
            agreements: vec![Sample::ScCq],
            amend: None,
            connections: ConnectionsConfig::default(),
            attachments: AttachmentsConfig::default(),
            health: false,
            absent: Vec::new(),
            databases: BTreeMap::new(),
            purge_daily: false,
        }
    }

    /// Sichuan, Chongqing and Guizhou: the SC gateway serves the Sichuan–Chongqing and the
    /// Sichuan–Guizhou agreements at once; CQ and GZ each load only their own.
    pub fn three_regions(clock: SharedClock) -> Self {
        DevOptions {
            regions: three_regions(),
            agreements: vec![Sample::ScCq, Sample::ScGz],
            ..DevOptions::new(clock)
        }
    }
}

/// A running federation.
pub struct DevFederation {
    /// Its folder: `pki/`, `agreement.json` (the first agreement; any others
    /// `agreement-<sample>.json`), `<region>/gateway.toml`, `<region>/kuayu.db`.
    pub dir: PathBuf,
    /// The fresh PKI.
    pub pki: DevPki,
    /// The first agreement (Sichuan–Chongqing), which both of its parties loaded.
    pub agreement: Agreement,
    /// Every agreement, in the order of [`DevOptions::agreements`], with its file.
    pub agreements: Vec<(Agreement, PathBuf)>,
    /// Each region's configuration file.
    pub configs: BTreeMap<RegionId, PathBuf>,
    clock: SharedClock,
    gateways: BTreeMap<RegionId, RunningGateway>,
    /// Replicas after the first, in the order started (see [`DevFederation::add_replica`]).
    replicas: Vec<(RegionId, RunningGateway)>,
}

impl DevFederation {
    /// Makes everything in `dir` and starts one gateway per region.
    pub async fn start(dir: &Path, options: DevOptions) -> Result<Self, DevError> {
        std::fs::create_dir_all(dir).map_err(err)?;
        // Configuration files resolve relative paths against their own folder: write absolute ones.
        let dir = &std::fs::canonicalize(dir).map_err(err)?;
        let every: Vec<RegionSpec> = options
            .regions
            .iter()
            .chain(options.absent.iter().map(|(spec, _)| spec))
            .cloned()
            .collect();
        let pki = pki::generate(&dir.join("pki"), &every).map_err(err)?;
        let mut listeners = BTreeMap::new();
        for spec in &options.regions {
            let federation = TcpListener::bind("127.0.0.1:0").await.map_err(err)?;
            let court = TcpListener::bind("127.0.0.1:0").await.map_err(err)?;
            let admin = Some(TcpListener::bind("127.0.0.1:0").await.map_err(err)?);
            listeners.insert(
                spec.region.clone(),
                Listeners {
                    federation,
                    court,
                    admin,
                    admin_socket: None,
                    health: if options.health {
                        Some(TcpListener::bind("127.0.0.1:0").await.map_err(err)?)
                    } else {
                        None
                    },
                },
            );
        }
        let endpoints: BTreeMap<RegionId, String> = listeners
            .iter()
            .map(|(r, l)| {
                Ok((
                    r.clone(),
                    format!("https://{}", l.federation.local_addr().map_err(err)?),
                ))
            })
            .collect::<Result<_, DevError>>()?;
        let mut agreements = Vec::new();
        for (i, sample) in options.agreements.iter().enumerate() {
            let mut agreement = bind(*sample, &pki, &endpoints)?;
            if i == 0 && !options.absent.is_empty() {
                agreement = absent::join(&pki, agreement, &options.absent)?;
            }
            if let Some(amend) = &options.amend {
                agreement = sign_all(&pki, agreement, |t| amend(t))?;
            }
            let file = if i == 0 {
                dir.join("agreement.json")
            } else {
                dir.join(format!("agreement-{}", sample.file_name()))
            };
            std::fs::write(
                &file,
                serde_json::to_string_pretty(&agreement).map_err(err)?,
            )
            .map_err(err)?;
            agreements.push((agreement, file));
        }
        let agreement = agreements
            .first()
            .map(|(a, _)| a.clone())
            .ok_or_else(|| DevError("no agreement to bind (DevOptions::agreements)".into()))?;

        let mut fed = DevFederation {
            dir: dir.to_path_buf(),
            pki,
            agreement,
            agreements,
            configs: BTreeMap::new(),
            clock: Arc::clone(&options.clock),
            gateways: BTreeMap::new(),
            replicas: Vec::new(),
        };
        for spec in &options.regions {
            let l = listeners
                .remove(&spec.region)
                .ok_or_else(|| DevError("listener missing".into()))?;
            let config = fed.write_config(spec, &l, &options)?;
            fed.configs.insert(spec.region.clone(), config);
            fed.launch(&spec.region, l).await?;
        }
        Ok(fed)
    }

    async fn launch(&mut self, region: &RegionId, listeners: Listeners) -> Result<(), DevError> {
        let path = self
            .configs
            .get(region)
            .ok_or_else(|| DevError(format!("no configuration for {region}")))?;
        let config = GatewayConfig::load(path).map_err(err)?;
        self.launch_with(region, listeners, config).await
    }

    async fn launch_with(
        &mut self,
        region: &RegionId,
        listeners: Listeners,
        config: GatewayConfig,
    ) -> Result<(), DevError> {
        let gateway = Gateway::prepare(&config, Arc::clone(&self.clock))
            .await
            .map_err(err)?;
        let mut listeners = listeners;
        if listeners.admin_socket.is_none() {
            listeners.admin_socket = Listeners::admin_socket(&config).map_err(err)?;
        }
        let running = server::start(gateway, listeners).map_err(err)?;
        self.gateways.insert(region.clone(), running);
        Ok(())
    }

    /// The running gateway of `region`.
    pub fn gateway(&self, region: &str) -> &RunningGateway {
        self.gateways
            .iter()
            .find(|(r, _)| r.as_str() == region)
            .map(|(_, g)| g)
            .expect("no such dev region")
    }

    /// Stops `region`'s gateway (its database and configuration stay).
    pub async fn stop(&mut self, region: &str) {
        let key = self.gateways.keys().find(|r| r.as_str() == region).cloned();
        if let Some(g) = key.and_then(|k| self.gateways.remove(&k)) {
            g.shutdown().await;
        }
    }

    /// Starts `region`'s gateway again on the same ports, from the same configuration.
    pub async fn restart(&mut self, region: &str) -> Result<(), DevError> {
        let region = RegionId::parse(region).map_err(err)?;
        let config = GatewayConfig::load(&self.configs[&region]).map_err(err)?;
        let listeners = Listeners::bind(&config).await.map_err(err)?;
        self.launch(&region, listeners).await
    }

    /// Starts `region`'s gateway again with verification weakened as `danger` says: a
    /// misconfigured partner, for testing conformance tools. (A configuration file cannot
    /// say this outside a build with the `danger` feature; a test can.)
    pub async fn restart_with_danger(
        &mut self,
        region: &str,
        danger: crate::config::Danger,
    ) -> Result<(), DevError> {
        let region = RegionId::parse(region).map_err(err)?;
        let mut config = GatewayConfig::load(&self.configs[&region]).map_err(err)?;
        config.danger = danger;
        let listeners = Listeners::bind(&config).await.map_err(err)?;
        self.launch_with(&region, listeners, config).await
    }

    /// The current agreement with `change` applied to its terms and its version raised,
    /// signed by every party's root: an amendment ready to load.
    pub fn amendment(&self, change: impl FnOnce(&mut Terms)) -> Result<Agreement, DevError> {
        sign_all(&self.pki, self.agreement.clone(), |t| {
            t.version += 1;
            change(t);
        })
    }

    /// The agreement with id `id` (e.g. `SC-GZ-2026`) with `change` applied to its terms
    /// and its version raised, signed by every party's root.
    pub fn amendment_of(
        &self,
        id: &str,
        change: impl FnOnce(&mut Terms),
    ) -> Result<Agreement, DevError> {
        let current = self
            .agreements
            .iter()
            .find(|(a, _)| a.terms.id.as_str() == id)
            .map(|(a, _)| a.clone())
            .ok_or_else(|| DevError(format!("no agreement {id} in this federation")))?;
        sign_all(&self.pki, current, |t| {
            t.version += 1;
            change(t);
        })
    }

    /// Stops every gateway.
    pub async fn shutdown(mut self) {
        for (_, g) in std::mem::take(&mut self.replicas) {
            g.shutdown().await;
        }
        for (_, g) in std::mem::take(&mut self.gateways) {
            g.shutdown().await;
        }
    }
}

/// `agreement` with `change` applied to its terms, signed again by every party's root.
pub fn sign_all(
    pki: &DevPki,
    mut agreement: Agreement,
    change: impl FnOnce(&mut Terms),
) -> Result<Agreement, DevError> {
    change(&mut agreement.terms);
    agreement.signatures.clear();
    let regions: Vec<RegionId> = agreement
        .terms
        .parties
        .iter()
        .map(|p| p.region.clone())
        .collect();
    for r in regions {
        agreement = agreement::sign(agreement, &r, &pki.root_key(&r).map_err(err)?).map_err(err)?;
    }
    Ok(agreement)
}

/// Deterministic, incompressible test data: `total` bytes of stream `seed` in chunks of
/// `chunk` bytes (xorshift), generated as they are consumed, never whole in memory.
pub fn sample_chunks(
    seed: u64,
    total: u64,
    chunk: u64,
) -> impl Iterator<Item = bytes::Bytes> + Send + Sync + 'static {
    let chunk = chunk.max(1);
    (0..total.div_ceil(chunk)).map(move |i| {
        let len = chunk.min(total - i * chunk) as usize;
        let mut x =
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93);
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.truncate(len);
        bytes::Bytes::from(out)
    })
}
