//! Gateway configuration: one TOML file, checked in full before any port is bound.
//!
//! Relative paths are taken from the folder the configuration file is in. Every
//! field is documented here; `kuayu demo` writes a complete example for each region
//! (`<state>/SC/gateway.toml`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ids::{CourtId, RegionId};

mod bounds;
mod ops;

pub use bounds::{AttachmentsConfig, ConnectionsConfig, RelayConfig};
pub use ops::{HealthConfig, LogFormat};

/// A configuration that cannot be used, with the field and the reason.
#[derive(Debug, thiserror::Error)]
#[error("configuration {path}: {why}")]
pub struct ConfigError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub why: String,
}

/// The gateway configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// The region this gateway serves, e.g. `SC`.
    pub region: RegionId,
    /// The database: a SQLite file path (created if missing; or `sqlite://PATH`), or a
    /// PostgreSQL URL (`postgres://user:password@host/db`) shared by several replicas.
    pub database: crate::store::sql::Location,
    /// The attachment folder. Default: `blobs` beside the SQLite file. Required with
    /// PostgreSQL: a folder every replica of the region mounts (e.g. NFS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blobs: Option<PathBuf>,
    /// PKCS#8 PEM Ed25519 key this gateway signs envelopes and receipts with; its public
    /// half is this region's `messageKey` in every agreement.
    pub signing_key: PathBuf,
    /// Signed agreement files to activate at start.
    #[serde(default)]
    pub agreements: Vec<PathBuf>,
    /// The federation listener (other regions' gateways).
    pub federation: FederationConfig,
    /// The court-facing listener.
    pub court_api: CourtApiConfig,
    /// The admin listener; none if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<AdminConfig>,
    /// Root public keys (base64 Ed25519) of every region whose signature on an agreement
    /// this gateway accepts. The agreement never vouches for its own signers.
    pub party_roots: BTreeMap<RegionId, String>,
    /// The courts of this region that may use the gateway.
    #[serde(default)]
    pub courts: Vec<CourtEntry>,
    /// Print-and-mail centres of this region (clients of the court API with their own
    /// certificates), and the postcodes each serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub print_centres: Vec<PrintCentreEntry>,
    /// Outbox relay tuning.
    #[serde(default)]
    pub relay: RelayConfig,
    /// Deadlines and caps of every listener.
    #[serde(default)]
    pub connections: ConnectionsConfig,
    /// Quotas on uploads, removal of unlisted ones, and the free-disk watermark.
    #[serde(default)]
    pub attachments: AttachmentsConfig,
    /// How log lines are written: `text` (the default) or `json`; `kuayu serve
    /// --log-format` overrides it.
    #[serde(default, skip_serializing_if = "LogFormat::is_text")]
    pub log_format: LogFormat,
    /// Whether the gateway runs the retention purge itself (as `kuayu purge` would), at
    /// start and then once a day of its clock. Off by default: run `kuayu purge` instead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub purge_daily: bool,
    /// The plain-HTTP health listener for load balancers (and Prometheus); none if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthConfig>,
    /// Settings that weaken verification, for testing conformance tools only. They exist
    /// only in a build made with the `danger` cargo feature (never in a release build): a
    /// default build refuses a configuration that has a `[danger]` table at all. The
    /// gateway logs a warning at start when any is on.
    #[serde(default, skip_serializing_if = "Danger::is_off")]
    pub danger: Danger,
}

/// Settings that weaken verification (see [`GatewayConfig::danger`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Danger {
    /// Skip the agreement's policies (a deliberately misconfigured peer).
    pub skip_policy: bool,
}

impl Danger {
    /// Whether every danger setting is off.
    pub fn is_off(&self) -> bool {
        self == &Danger::default()
    }
}

/// The federation listener and this gateway's identity towards peers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationConfig {
    /// Address to listen on, e.g. `0.0.0.0:7443`.
    pub listen: SocketAddr,
    /// PEM certificate chain issued under this region's trust anchor in the agreements;
    /// presented as server certificate and as client certificate towards peers.
    pub cert: PathBuf,
    /// Its PEM private key.
    pub key: PathBuf,
    /// How far a peer's `createdAt` (and a revocation notice's time) may be ahead of this
    /// gateway's clock, in milliseconds; further is refused (`clock_skew`).
    #[serde(default = "default_skew_ms")]
    pub max_clock_skew_ms: u64,
    /// Certificate revocation lists (PEM or DER files) of the peers' trust anchors, checked
    /// on every handshake; reloaded with the certificates (SIGHUP, or the admin API).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crls: Vec<PathBuf>,
}

fn default_skew_ms() -> u64 {
    5 * 60 * 1000
}

/// The court-facing listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourtApiConfig {
    /// Address to listen on, e.g. `10.0.0.5:8443`.
    pub listen: SocketAddr,
    /// PEM server certificate chain courts see.
    pub cert: PathBuf,
    /// Its PEM private key.
    pub key: PathBuf,
    /// PEM CA certificate(s) that issue court client certificates in this region.
    pub client_ca: PathBuf,
    /// Revocation lists (PEM or DER) of the court CA, checked on every handshake.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crls: Vec<PathBuf>,
}

/// The admin API: never unauthenticated. Over TLS (`listen` with `cert`, `key` and
/// `client_ca`: administrators present certificates naming `urn:kuayu:admin:<name>`), over
/// a Unix domain socket (`socket`: the operating system vouches for the caller, whose
/// user the audit log names), or both.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// TCP address of the TLS listener; requires `cert`, `key` and `client_ca`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// PEM server certificate chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    /// Its PEM private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// PEM CA certificate(s) that issue administrator certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca: Option<PathBuf>,
    /// Revocation lists (PEM or DER) of the admin CA, checked on every handshake.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crls: Vec<PathBuf>,
    /// A Unix domain socket for the admin API, created at start (a stale one is replaced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<PathBuf>,
    /// The socket file's mode, in octal: who may connect. The default, `600`, is the
    /// gateway's own user alone; `660` adds its group (the operators).
    #[serde(default = "default_socket_mode")]
    pub socket_mode: String,
}

fn default_socket_mode() -> String {
    "600".to_owned()
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: None,
            cert: None,
            key: None,
            client_ca: None,
            crls: Vec::new(),
            socket: None,
            socket_mode: default_socket_mode(),
        }
    }
}

impl AdminConfig {
    /// The TLS listener's address and files, when it has one.
    pub fn tls(&self) -> Option<(SocketAddr, &PathBuf, &PathBuf, &PathBuf)> {
        Some((
            self.listen?,
            self.cert.as_ref()?,
            self.key.as_ref()?,
            self.client_ca.as_ref()?,
        ))
    }

    /// The socket file's mode as a number, if `socket_mode` is octal that grants nobody
    /// outside the owner and group.
    pub fn socket_mode(&self) -> Result<u32, String> {
        let mode =
            u32::from_str_radix(self.socket_mode.trim_start_matches("0o"), 8).map_err(|_| {
                format!(
                    "[admin] socket_mode = {:?} is not an octal mode such as \"600\"",
                    self.socket_mode
                )
            })?;
        if mode & 0o007 != 0 || mode > 0o777 {
            return Err(format!(
                "[admin] socket_mode = {:?} lets any local user reach the admin API: use 600 or 660",
                self.socket_mode
            ));
        }
        Ok(mode)
    }
}

/// A court of this region.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourtEntry {
    /// Machine-safe court code, e.g. `SC0104`.
    pub id: CourtId,
    /// Its name, e.g. 成都市锦江区人民法院.
    pub name: String,
}

/// A print-and-mail centre.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrintCentreEntry {
    /// Its code, e.g. `CQ01-PC1`.
    pub id: crate::ids::PrintCentreId,
    /// Its name.
    pub name: String,
    /// Postcode prefixes of the area it serves (e.g. `40` for Chongqing); the longest
    /// matching prefix picks the centre for an address.
    pub postcodes: Vec<String>,
}

impl GatewayConfig {
    /// Reads and parses a configuration file, resolving relative paths against its folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let err = |why: String| ConfigError {
            path: path.display().to_string(),
            why,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        if table.contains_key("danger") && !cfg!(feature = "danger") {
            return Err(err(
                "[danger] settings weaken the checks the agreement requires and exist only in a \
                 build made with `cargo build --features danger` (for testing conformance tools); \
                 remove the [danger] table from this file"
                    .into(),
            ));
        }
        let mut config: GatewayConfig = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        if let Some(admin) = &config.admin {
            let tls = [&admin.cert, &admin.key, &admin.client_ca]
                .iter()
                .filter(|p| p.is_some())
                .count();
            if admin.listen.is_some() && tls != 3 {
                return Err(err(
                    "[admin] listen needs cert, key and client_ca: the admin API over TCP is TLS with \
                     administrator certificates, never plain HTTP (for local administration use \
                     socket = \"/run/kuayu/admin.sock\" instead)"
                        .into(),
                ));
            }
            if admin.listen.is_none() && tls != 0 {
                return Err(err("[admin] cert, key and client_ca need listen".into()));
            }
            if admin.listen.is_none() && admin.socket.is_none() {
                return Err(err(
                    "[admin] needs listen (TLS) or socket (a Unix domain socket), or both".into(),
                ));
            }
            admin.socket_mode().map_err(err)?;
        }
        if config.relay.peer_slots < 2 {
            return Err(err(format!(
                "[relay] peer_slots = {} leaves ordinary work no slot: one slot per peer is kept \
                 for preservation orders, so it must be at least 2 (the default is 32)",
                config.relay.peer_slots
            )));
        }
        if config.relay.quiet_slots == 0 {
            return Err(err(
                "[relay] quiet_slots = 0 would stop ordinary deliveries to a peer while a \
                 preservation order to it is in flight: it must be at least 1 (the default is 4)"
                    .into(),
            ));
        }
        if config.courts.iter().any(|c| c.id.region() != config.region) {
            return Err(err(format!(
                "every court under [[courts]] must belong to region {}",
                config.region
            )));
        }
        Ok(config)
    }

    /// The attachment folder: `blobs`, or the folder `blobs` beside the SQLite file.
    pub fn blobs_folder(&self) -> Result<PathBuf, String> {
        match (&self.blobs, &self.database) {
            (Some(folder), _) => Ok(folder.clone()),
            (None, crate::store::sql::Location::Sqlite(file)) => Ok(file
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .join("blobs")),
            (None, crate::store::sql::Location::Postgres(_)) => Err(
                "with a PostgreSQL database, set `blobs` to the attachment folder every replica shares".into(),
            ),
        }
    }

    /// Makes every relative path absolute against `base`.
    pub fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let crate::store::sql::Location::Sqlite(path) = &mut self.database {
            fix(path);
        }
        if let Some(blobs) = &mut self.blobs {
            fix(blobs);
        }
        fix(&mut self.signing_key);
        self.agreements.iter_mut().for_each(fix);
        fix(&mut self.federation.cert);
        fix(&mut self.federation.key);
        fix(&mut self.court_api.cert);
        fix(&mut self.court_api.key);
        fix(&mut self.court_api.client_ca);
        self.court_api.crls.iter_mut().for_each(fix);
        self.federation.crls.iter_mut().for_each(fix);
        if let Some(admin) = &mut self.admin {
            for p in [
                &mut admin.cert,
                &mut admin.key,
                &mut admin.client_ca,
                &mut admin.socket,
            ]
            .into_iter()
            .flatten()
            {
                fix(p);
            }
            admin.crls.iter_mut().for_each(fix);
        }
    }

    /// The private key files the gateway reads, with what each is for.
    pub fn private_keys(&self) -> Vec<(&Path, &'static str)> {
        let mut keys = vec![
            (self.signing_key.as_path(), "signing key"),
            (self.federation.key.as_path(), "federation key"),
            (self.court_api.key.as_path(), "court API key"),
        ];
        if let Some(key) = self.admin.as_ref().and_then(|a| a.key.as_ref()) {
            keys.push((key.as_path(), "admin API key"));
        }
        keys
    }

    /// The configuration as TOML text.
    pub fn to_toml(&self) -> String {
        // Invariant: every field is TOML-representable.
        toml::to_string_pretty(self).expect("a gateway configuration always serialises")
    }
}
