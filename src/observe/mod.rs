//! What an operator sees of a running gateway: metrics, structured logs, and what health
//! and readiness rest on. Served by `http::health` (`/metrics`, `/healthz`, `/readyz`).
//!
//! - [`metrics`]: the Prometheus metrics of one gateway.
//! - [`gauges`]: the gauges read from the store and the relay when `/metrics` is scraped.
//! - [`journey`]: one message's way through the pipeline: its log span, stage times, outcome.
//! - [`logs`]: the log subscriber, text or JSON.
//! - [`trace`]: the W3C trace context one request carries across both gateways.
//!
//! Metric names (all `kuayu_`; labels never name a court, a person or anything of a
//! payload):
//!
//! | name | type | labels |
//! |---|---|---|
//! | `kuayu_http_requests_total` | counter | listener, method, route (template), status |
//! | `kuayu_http_request_duration_seconds` | histogram | listener, method, route |
//! | `kuayu_refusals_total` | counter | listener, method, route, code |
//! | `kuayu_messages_total` | counter | direction, kind, outcome |
//! | `kuayu_message_duration_seconds` | histogram | direction, kind, outcome |
//! | `kuayu_message_refusals_total` | counter | direction, kind, code, stage |
//! | `kuayu_stage_duration_seconds` | histogram | direction, stage |
//! | `kuayu_tls_handshake_failures_total` | counter | listener, reason |
//! | `kuayu_connections_open` | gauge | listener |
//! | `kuayu_connections_refused_total` | counter | listener, reason |
//! | `kuayu_build_info` | gauge | version, region |
//! | `kuayu_commit_duration_seconds` | histogram | direction |
//! | `kuayu_relay_deliveries_total` | counter | peer, outcome |
//! | `kuayu_relay_retries_total` | counter | peer |
//! | `kuayu_relay_outbox_reads_total` | counter | |
//! | `kuayu_store_group_commits_total` | counter | (scrape time, from the committer's counts) |
//! | `kuayu_store_group_commit_units_total` | counter | (scrape time) |
//! | `kuayu_outbox_backlog` | gauge | peer (read at scrape time: [`gauges`]) |
//! | `kuayu_outbox_oldest_age_seconds` | gauge | peer (scrape time) |
//! | `kuayu_breaker_state` | gauge | peer: 0 closed, 1 probing, 2 open (scrape time) |
//! | `kuayu_requests_open` | gauge | kind, state (scrape time) |
//! | `kuayu_requests_overdue` | gauge | kind (scrape time) |

pub mod gauges;
pub mod journey;
pub mod logs;
pub mod metrics;
pub mod trace;

pub use self::metrics::Metrics;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// What the health routes and the metrics of one gateway read: its metrics, whether each
/// listener is accepting, and the database file it opened.
pub struct Observer {
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// The series the scrape-time gauges set so far.
    pub gauges: gauges::Seen,
    listening: Mutex<BTreeMap<&'static str, bool>>,
    database: Option<DatabaseFile>,
}

impl Observer {
    /// For a gateway of `region` whose SQLite database is the file at `database` (opened
    /// already); `None` for a database that is not a local file (PostgreSQL).
    pub fn new(region: &str, database: Option<&Path>) -> Arc<Self> {
        let metrics = Arc::new(Metrics::new());
        metrics.build_info(region);
        Arc::new(Observer {
            metrics,
            gauges: gauges::Seen::default(),
            listening: Mutex::new(BTreeMap::new()),
            database: database.map(DatabaseFile::opened),
        })
    }

    /// Listener `name` is accepting (`true`), or has stopped (`false`).
    pub fn listening(&self, name: &'static str, accepting: bool) {
        self.listening
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name, accepting);
    }

    /// Each listener started, and whether it is accepting now.
    pub fn listeners(&self) -> BTreeMap<&'static str, bool> {
        self.listening
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the database file is still the one opened, where it was, and usable by this
    /// process; why not, if it is not.
    pub fn database_file(&self) -> Result<(), String> {
        self.database.as_ref().map_or(Ok(()), DatabaseFile::check)
    }
}

/// The database file as opened: a file replaced, removed or made unreadable since is
/// noticed by [`DatabaseFile::check`], which looks at the file system only. (Opening the
/// file to look would be wrong: closing any descriptor of a SQLite file drops the
/// process's locks on it.)
struct DatabaseFile {
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

impl DatabaseFile {
    fn opened(path: &Path) -> Self {
        use std::os::unix::fs::MetadataExt as _;
        DatabaseFile {
            path: path.to_path_buf(),
            identity: std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino())),
        }
    }

    fn check(&self) -> Result<(), String> {
        use std::os::unix::fs::MetadataExt as _;
        let path = self.path.display();
        let meta =
            std::fs::metadata(&self.path).map_err(|e| format!("database file {path}: {e}"))?;
        if self
            .identity
            .is_some_and(|id| id != (meta.dev(), meta.ino()))
        {
            return Err(format!(
                "database file {path} was replaced since the gateway opened it"
            ));
        }
        // The kernel decides for anyone but root; root may read anything, so for root the
        // owner's bits say whether the file is meant to be used.
        let usable = if rustix::process::geteuid().is_root() {
            meta.mode() & 0o600 == 0o600
        } else {
            rustix::fs::access(
                &self.path,
                rustix::fs::Access::READ_OK | rustix::fs::Access::WRITE_OK,
            )
            .is_ok()
        };
        if !usable {
            return Err(format!(
                "database file {path} has mode {:04o}: the gateway cannot read and write it",
                meta.mode() & 0o7777
            ));
        }
        Ok(())
    }
}
