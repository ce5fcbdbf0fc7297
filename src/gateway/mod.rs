//! The gateway core: everything one region's gateway holds, built from its configuration
//! and checked in full before any port is bound.
//!
//! - [`tls`]: the listeners' TLS, built from the configuration's files and rebuilt on
//!   reload.
//! - [`check`]: `kuayu check-config`, the same checks without binding or changing anything.

pub mod check;
pub mod tls;

pub use self::tls::{ServerTls, TlsReport, TlsState};

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::agreement::{self, Agreement, AgreementError, AgreementRegistry, PartyRoots};
use crate::clock::SharedClock;
use crate::config::{GatewayConfig, RelayConfig};
use crate::crypto::{PublicKey, SigningKey};
use crate::ids::{CourtId, RegionId};
use crate::peers::PeerClients;
use crate::ratelimit::RateLimits;
use crate::schema::SchemaCatalog;
use crate::store::Store;
use crate::store::sql::SqlStore;
use crate::tls as rustls_setup;
use time::OffsetDateTime;

/// Why a gateway cannot start. Each message names the file or setting at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

/// One region's gateway: its identity, keys, agreements, schemas and store.
pub struct Gateway {
    /// The region served.
    pub region: RegionId,
    /// Where time comes from.
    pub clock: SharedClock,
    /// The database.
    pub store: Arc<dyn Store>,
    /// Active agreements.
    pub agreements: Arc<AgreementRegistry>,
    /// Compiled schemas.
    pub schemas: Arc<SchemaCatalog>,
    /// The message-signing key.
    pub key: SigningKey,
    /// Courts of this region that may use the gateway, with their names.
    pub courts: BTreeMap<CourtId, String>,
    /// This region's print-and-mail centres.
    pub print_centres: Vec<crate::config::PrintCentreEntry>,
    /// Party root keys agreements must be signed with.
    pub party_roots: PartyRoots,
    /// The listeners' TLS in force (a reload swaps it).
    pub tls: Arc<TlsState>,
    /// The configuration it was built from (a reload reads its files again).
    pub config: GatewayConfig,
    /// Wakes the relay: new outbox work committed, a slot freed, a delivery ended.
    pub relay_wake: crate::relay::wake::Wake,
    /// Envelopes just committed, for their deliveries ([`crate::relay::fresh`]).
    pub relay_fresh: crate::relay::fresh::Fresh,
    /// Woken when a retrieval queues a receipt to go back to the sending gateway.
    pub receipts_wake: Notify,
    /// Bumped when a message from a peer is put in one of this gateway's inboxes: wakes
    /// the courts waiting on `GET /v1/inbox?wait=S`.
    pub inbox_wake: tokio::sync::watch::Sender<u64>,
    /// The same, for preservation work only: wakes the courts waiting on
    /// `GET /v1/inbox?order=urgent&priority=high&wait=S`.
    pub urgent_inbox_wake: tokio::sync::watch::Sender<u64>,
    /// Relay tuning.
    pub relay: RelayConfig,
    /// The court submission gate (preservation does not queue behind ordinary work).
    pub admission: crate::admission::Admission,
    /// Per-court, per-kind rates of the agreements.
    pub rates: RateLimits,
    /// HTTPS clients to peer gateways.
    pub peers: PeerClients,
    /// Weakened verification, for conformance testing only.
    pub danger: crate::config::Danger,
    /// Attachment bytes, by SHA-256, beside the database.
    pub blobs: crate::attachments::BlobStore,
    /// Quotas, upload rate and the free-disk watermark.
    pub uploads: crate::attachments::guard::Guard,
    /// How far ahead of this gateway's clock a peer's times may be.
    pub max_clock_skew: time::Duration,
    /// Its metrics, and what readiness rests on.
    pub observer: Arc<crate::observe::Observer>,
    /// The relay's circuit breaker per peer (the relay changes it; the dashboard reads it).
    pub breakers: Arc<crate::relay::breaker::Breakers>,
    database: Option<SqlStore>,
}

fn read(path: &std::path::Path, what: &str) -> Result<String, StartError> {
    std::fs::read_to_string(path)
        .map_err(|e| StartError(format!("cannot read {what} {}: {e}", path.display())))
}

impl Gateway {
    /// Builds the gateway from `config`: reads keys and certificates, compiles schemas,
    /// opens the database, activates every configured agreement. Binds nothing.
    pub async fn prepare(
        config: &GatewayConfig,
        clock: SharedClock,
    ) -> Result<Arc<Gateway>, StartError> {
        rustls_setup::install_default_provider();
        if !config.danger.is_off() {
            tracing::warn!(danger = ?config.danger, "DANGER: this gateway skips checks the agreement requires; use it only to test conformance tools");
        }
        for (path, what) in config.private_keys() {
            crate::keyfile::check_private(path, what).map_err(StartError)?;
        }
        let key = signing_key(config)?;
        let party_roots = party_roots(config)?;
        let schemas =
            SchemaCatalog::embedded().map_err(|e| StartError(format!("embedded schemas: {e}")))?;
        let sqlite = SqlStore::open_location(&config.database)
            .await
            .map_err(|e| StartError(format!("database {}: {e}", config.database.display())))?
            .with_outbox_lease(outbox_lease_ms(&config.relay));
        let registry =
            load_agreements(config, &party_roots, &schemas, &sqlite, clock.now()).await?;
        let blobs_folder = config.blobs_folder().map_err(StartError)?;
        let blobs = crate::attachments::BlobStore::open(blobs_folder.clone()).map_err(|e| {
            StartError(format!("attachment folder {}: {e}", blobs_folder.display()))
        })?;
        let agreements = Arc::new(registry);
        let server_tls = tls::build(config, &agreements, &clock).map_err(StartError)?;
        let peers = PeerClients::new(server_tls.federation_identity.clone());
        let tls = TlsState::new(server_tls);
        let uploads = crate::attachments::guard::Guard::new(
            config.attachments.clone(),
            Arc::clone(&clock),
            blobs.root().to_path_buf(),
        );
        let gateway = Gateway {
            region: config.region.clone(),
            rates: RateLimits::new(Arc::clone(&clock)),
            peers,
            danger: config.danger.clone(),
            blobs,
            uploads,
            max_clock_skew: time::Duration::milliseconds(
                i64::try_from(config.federation.max_clock_skew_ms).unwrap_or(i64::MAX),
            ),
            clock,
            store: Arc::new(sqlite.clone()),
            agreements,
            schemas: Arc::new(schemas),
            key,
            courts: config
                .courts
                .iter()
                .map(|c| (c.id.clone(), c.name.clone()))
                .collect(),
            print_centres: config.print_centres.clone(),
            party_roots,
            tls,
            config: config.clone(),
            relay_wake: Default::default(),
            relay_fresh: Default::default(),
            receipts_wake: Notify::new(),
            inbox_wake: tokio::sync::watch::Sender::new(0),
            urgent_inbox_wake: tokio::sync::watch::Sender::new(0),
            relay: config.relay.clone(),
            admission: Default::default(),
            observer: crate::observe::Observer::new(
                config.region.as_str(),
                config.database.sqlite_path(),
            ),
            breakers: Arc::new(crate::relay::breaker::Breakers::new(
                config.relay.probe_interval_ms,
            )),
            database: Some(sqlite),
        };
        Ok(Arc::new(gateway))
    }

    /// Reads every certificate, key, CA file and revocation list again and puts them in
    /// force for the next handshake (listeners) and the next connection (peers). On any
    /// error nothing changes.
    pub fn reload_tls(&self) -> Result<TlsReport, String> {
        let fresh = tls::build(&self.config, &self.agreements, &self.clock)?;
        let report = fresh.report.clone();
        self.peers.set_identity(fresh.federation_identity.clone());
        self.tls.swap(fresh);
        tracing::info!(
            files = report.files.len(),
            crls = report.crls,
            "TLS reloaded"
        );
        Ok(report)
    }

    /// Closes the database.
    pub async fn close(&self) {
        if let Some(db) = &self.database {
            db.close().await;
        }
    }
}

/// How long a replica holds the outbox items it claims: twice the relay's request
/// timeout (60 s by default), so no attempt outlives its lease.
fn outbox_lease_ms(relay: &crate::config::RelayConfig) -> i64 {
    i64::try_from(relay.request_timeout_ms.saturating_mul(2)).unwrap_or(i64::MAX)
}

/// The gateway's message-signing key, from `signing_key`.
pub fn signing_key(config: &GatewayConfig) -> Result<SigningKey, StartError> {
    SigningKey::from_pem(&read(&config.signing_key, "signing key")?)
        .map_err(|e| StartError(format!("signing key {}: {e}", config.signing_key.display())))
}

/// The party root keys of `[party_roots]`.
pub fn party_roots(config: &GatewayConfig) -> Result<PartyRoots, StartError> {
    let mut roots = PartyRoots::new();
    for (region, text) in &config.party_roots {
        let root =
            PublicKey::parse(text).map_err(|e| StartError(format!("party_roots.{region}: {e}")))?;
        roots.insert(region.clone(), root);
    }
    Ok(roots)
}

/// The agreement file at `path` (one of `agreements`), read, fully signed by the party
/// roots and unexpired at `now`: ready to activate.
pub fn configured_agreement(
    path: &std::path::Path,
    config: &GatewayConfig,
    roots: &PartyRoots,
    catalog: &SchemaCatalog,
    now: OffsetDateTime,
) -> Result<agreement::ActiveAgreement, StartError> {
    let document = Agreement::from_json(&read(path, "agreement")?)
        .map_err(|e| StartError(format!("agreement {}: malformed: {e}", path.display())))?;
    agreement::activate(document, &config.region, roots, catalog, now).map_err(
        |e: AgreementError| StartError(format!("agreement {} refused: {e}", path.display())),
    )
}

/// Installs in `registry` each stored agreement version that still passes this gateway's
/// checks (with its revocation, if any); says why of each that does not.
pub fn install_stored(
    registry: &AgreementRegistry,
    stored: &[crate::store::StoredAgreement],
    config: &GatewayConfig,
    roots: &PartyRoots,
    catalog: &SchemaCatalog,
) -> Vec<String> {
    let mut problems = Vec::new();
    for s in stored {
        match agreement::admit(s.document.clone(), &config.region, roots, catalog) {
            Ok(mut loaded) => {
                loaded.revoked = s.revoked.clone();
                registry.install(loaded);
            }
            Err(e) => problems.push(format!(
                "agreement {} v{} stored here no longer passes this gateway's checks: {e}",
                s.document.terms.id, s.document.terms.version
            )),
        }
    }
    problems
}

/// The registry at start: every version stored before (loaded through the admin API, or
/// from configuration at an earlier start), then the configured files, which must be
/// fully signed and unexpired. A version revoked earlier stays revoked.
async fn load_agreements(
    config: &GatewayConfig,
    roots: &PartyRoots,
    catalog: &SchemaCatalog,
    store: &SqlStore,
    now: OffsetDateTime,
) -> Result<AgreementRegistry, StartError> {
    let registry = AgreementRegistry::new(config.region.clone());
    let stored = store
        .stored_agreements()
        .await
        .map_err(|e| StartError(format!("stored agreements: {e}")))?;
    for problem in install_stored(&registry, &stored, config, roots, catalog) {
        tracing::error!(%problem, "a stored agreement is not loaded");
    }
    for path in &config.agreements {
        let active = configured_agreement(path, config, roots, catalog, now)?;
        if let Some(s) = stored.iter().find(|s| s.digest == active.digest) {
            if s.revoked.is_some() {
                tracing::warn!(agreement = %active.terms().id, "configured agreement was revoked earlier; it stays revoked");
                continue;
            }
        } else {
            store
                .save_agreement(&active.document, active.digest, "config", now)
                .await
                .map_err(|e| {
                    StartError(format!("cannot store agreement {}: {e}", path.display()))
                })?;
        }
        tracing::info!(agreement = %active.terms().id, version = active.terms().version, hash = %active.digest, "agreement loaded");
        registry.install_active(active);
    }
    Ok(registry)
}
