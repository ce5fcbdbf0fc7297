//! `kuayu check-config FILE`: every check `kuayu serve` makes before it binds a port
//! (configuration, private keys and their modes, signing key, party roots, agreements,
//! certificates, CA files and revocation lists, the database), run without binding and
//! without changing anything: an existing database is opened read-only, a missing one is
//! reported as one `serve` will create. Each problem is a line of its own, naming the
//! file or setting and the fix; the exit status is non-zero when any check fails.
//!
//! The checks are the ones `serve` runs ([`super::Gateway::prepare`] calls the same
//! functions), so the two cannot drift apart. A few lines say more than `serve` would
//! (a warning does not fail the check): a signing key whose public half is not the
//! region's `messageKey` in an agreement, no agreement active, two listeners on one address.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::agreement::AgreementRegistry;
use crate::clock::SharedClock;
use crate::config::GatewayConfig;
use crate::schema::SchemaCatalog;

mod places;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Passed.
    Ok,
    /// Worth knowing; `serve` goes ahead (something it will create, say).
    Info,
    /// `serve` starts, but something is probably wrong.
    Warn,
    /// `serve` would refuse to start.
    Fail,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Info => "info",
            Outcome::Warn => "warn",
            Outcome::Fail => "FAIL",
        }
    }
}

/// What `check-config` found, a line a check.
#[derive(Debug, Default)]
pub struct Report {
    /// Each check's outcome and what it says.
    pub lines: Vec<(Outcome, String)>,
}

impl Report {
    fn push(&mut self, outcome: Outcome, text: impl Into<String>) {
        let text = text.into();
        // A file at fault for two checks (a key's mode, say) is said once.
        if outcome == Outcome::Fail && self.lines.iter().any(|(o, t)| *o == outcome && *t == text) {
            return;
        }
        self.lines.push((outcome, text));
    }

    fn result<T>(&mut self, result: Result<T, impl fmt::Display>, ok: impl FnOnce(&T) -> String) {
        match &result {
            Ok(v) => self.push(Outcome::Ok, ok(v)),
            Err(e) => self.push(Outcome::Fail, e.to_string()),
        }
    }

    /// Whether `serve` would start: no check failed.
    pub fn passed(&self) -> bool {
        self.failures() == 0
    }

    /// How many checks failed.
    pub fn failures(&self) -> usize {
        self.lines
            .iter()
            .filter(|(o, _)| *o == Outcome::Fail)
            .count()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (outcome, text) in &self.lines {
            writeln!(f, "{:<5} {text}", outcome.label())?;
        }
        match self.failures() {
            0 => write!(
                f,
                "\nevery check passed: `kuayu serve` would start with this configuration"
            ),
            n => write!(f, "\n{n} problem(s): `kuayu serve` would refuse to start"),
        }
    }
}

/// Runs every check on the configuration file at `path`, at `clock`'s time.
pub async fn check(path: &Path, clock: SharedClock) -> Report {
    crate::tls::install_default_provider();
    let mut report = Report::default();
    let config = match GatewayConfig::load(path) {
        Ok(c) => c,
        Err(e) => {
            report.push(Outcome::Fail, e.to_string());
            return report;
        }
    };
    report.push(
        Outcome::Ok,
        format!(
            "configuration {}: region {}, {} court(s), {} print centre(s), {} agreement file(s)",
            path.display(),
            config.region,
            config.courts.len(),
            config.print_centres.len(),
            config.agreements.len()
        ),
    );
    if !config.danger.is_off() {
        report.push(
            Outcome::Warn,
            format!(
                "[danger] {:?}: this gateway would skip checks the agreement requires",
                config.danger
            ),
        );
    }
    for (key, what) in config.private_keys() {
        report.result(crate::keyfile::check_private(key, what), |()| {
            format!("{what} {}: readable by its owner alone", key.display())
        });
    }
    let key = super::signing_key(&config);
    report.result(key.as_ref().map_err(|e| &e.0), |k| {
        format!(
            "signing key {}: Ed25519, public half {}",
            config.signing_key.display(),
            k.public()
        )
    });
    let roots = super::party_roots(&config);
    report.result(roots.as_ref().map_err(|e| &e.0), |_| {
        let regions: Vec<&str> = config.party_roots.keys().map(|r| r.as_str()).collect();
        format!("party roots: {}", regions.join(", "))
    });
    let catalog = SchemaCatalog::embedded();
    report.result(catalog.as_ref(), |c| {
        format!("embedded schemas: {} compiled", c.iter().count())
    });
    let stored = places::database(&mut report, &config).await;
    places::blobs(&mut report, &config);
    let registry = Arc::new(AgreementRegistry::new(config.region.clone()));
    if let (Ok(roots), Ok(catalog)) = (&roots, &catalog) {
        let key = key.as_ref().ok().map(|k| k.public());
        let keys = Keys {
            roots,
            catalog,
            key,
        };
        agreements(&mut report, &config, &keys, &stored, &registry, clock.now());
    }
    for (what, built) in super::tls::check(&config, &registry, &clock) {
        report.result(built, |r| {
            format!(
                "{what}: {} file(s) read, {} revocation list(s)",
                r.files.len(),
                r.crls
            )
        });
    }
    places::listeners(&mut report, &config);
    report
}

struct Keys<'a> {
    roots: &'a crate::agreement::PartyRoots,
    catalog: &'a SchemaCatalog,
    key: Option<crate::crypto::PublicKey>,
}

/// The agreements `serve` would load: those stored in the database, then the configured
/// files, into `registry` (which the federation TLS check then trusts).
fn agreements(
    report: &mut Report,
    config: &GatewayConfig,
    keys: &Keys<'_>,
    stored: &[crate::store::StoredAgreement],
    registry: &AgreementRegistry,
    now: time::OffsetDateTime,
) {
    for problem in super::install_stored(registry, stored, config, keys.roots, keys.catalog) {
        report.push(Outcome::Warn, format!("{problem}; serve leaves it out"));
    }
    for file in &config.agreements {
        let active = match super::configured_agreement(file, config, keys.roots, keys.catalog, now)
        {
            Ok(active) => active,
            Err(e) => {
                report.push(Outcome::Fail, e.0);
                continue;
            }
        };
        let (terms, file) = (active.terms(), file.display());
        if stored
            .iter()
            .any(|s| s.digest == active.digest && s.revoked.is_some())
        {
            report.push(
                Outcome::Warn,
                format!(
                    "agreement {file}: {} v{} was revoked here earlier and stays revoked",
                    terms.id, terms.version
                ),
            );
            continue;
        }
        report.push(
            Outcome::Ok,
            format!(
                "agreement {file}: {} v{}, signed by every party, hash {}",
                terms.id, terms.version, active.digest
            ),
        );
        let ours = active.party(&config.region).map(|p| &p.message_key);
        if let (Some(key), Some(named)) = (&keys.key, ours)
            && named != key
        {
            report.push(
                Outcome::Warn,
                format!(
                    "agreement {file}: region {}'s messageKey is {named}, but signing_key's public \
                     half is {key}: peers would refuse every envelope this gateway signs",
                    config.region
                ),
            );
        }
        registry.install_active(active);
    }
    if registry.active(now).is_empty() {
        report.push(
            Outcome::Warn,
            "no agreement is active: the gateway would refuse all work until one is loaded",
        );
    }
}
