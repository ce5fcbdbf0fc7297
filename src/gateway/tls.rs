//! The listeners' TLS: built from the configuration's files (certificates, keys, CA files,
//! revocation lists) at start, and built again on reload (SIGHUP, or
//! `POST /admin/v1/tls/reload`), so that a rotated certificate, a new CA file or a new
//! revocation list takes effect at the next handshake, without a restart. Connections
//! already open keep what they were opened with until their maximum age.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls_pki_types::CertificateRevocationListDer;
use serde::Serialize;

use crate::agreement::AgreementRegistry;
use crate::clock::SharedClock;
use crate::config::GatewayConfig;
use crate::http::TlsSource;
use crate::keyfile;
use crate::tls::{self, Identity};

/// The server configurations of the listeners, and the certificate the gateway presents
/// to peers, as last built.
pub struct ServerTls {
    /// Federation listener: certificates under a peer party's trust anchor.
    pub federation: Arc<ServerConfig>,
    /// Court listener: certificates from this region's court CA.
    pub court: Arc<ServerConfig>,
    /// Admin listener (TLS), when configured.
    pub admin: Option<Arc<ServerConfig>>,
    /// This gateway's certificate towards peers (the federation certificate).
    pub federation_identity: Identity,
    /// What was read.
    pub report: TlsReport,
}

/// What a build read: the files and how many revocation lists.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsReport {
    /// Every certificate, key, CA and CRL file read.
    pub files: Vec<String>,
    /// Revocation lists in force: court CA, admin CA, peer anchors.
    pub crls: usize,
}

/// The TLS the listeners use now; a reload swaps it.
pub struct TlsState {
    current: RwLock<Arc<ServerTls>>,
}

impl TlsState {
    /// Starts with `tls`.
    pub fn new(tls: ServerTls) -> Arc<Self> {
        Arc::new(TlsState {
            current: RwLock::new(Arc::new(tls)),
        })
    }

    /// The configurations in force.
    pub fn current(&self) -> Arc<ServerTls> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Puts `tls` in force for the next handshake.
    pub fn swap(&self, tls: ServerTls) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(tls);
    }

    /// The federation listener's source.
    pub fn federation(self: &Arc<Self>) -> TlsSource {
        let me = Arc::clone(self);
        Arc::new(move || Arc::clone(&me.current().federation))
    }

    /// The court listener's source.
    pub fn court(self: &Arc<Self>) -> TlsSource {
        let me = Arc::clone(self);
        Arc::new(move || Arc::clone(&me.current().court))
    }

    /// The admin listener's source, if it uses TLS. (A reload keeps it on TLS: the
    /// configuration, not the files, says whether it does.)
    pub fn admin(self: &Arc<Self>) -> Option<TlsSource> {
        self.current().admin.as_ref()?;
        let me = Arc::clone(self);
        Some(Arc::new(move || {
            let current = me.current();
            // Invariant: a state that started with an admin configuration keeps one.
            Arc::clone(current.admin.as_ref().unwrap_or(&current.court))
        }))
    }
}

struct Reader<'a> {
    report: &'a mut TlsReport,
}

impl Reader<'_> {
    fn text(&mut self, path: &Path, what: &str) -> Result<String, String> {
        self.report.files.push(path.display().to_string());
        std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
    }

    fn identity(&mut self, cert: &Path, key: &Path, what: &str) -> Result<Identity, String> {
        keyfile::check_private(key, &format!("{what} key"))?;
        self.report.files.push(cert.display().to_string());
        self.report.files.push(key.display().to_string());
        Identity::load(cert, key).map_err(|e| format!("{what} certificate: {e}"))
    }

    fn anchors(
        &mut self,
        path: &Path,
        what: &str,
    ) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, String> {
        tls::parse_certs(&self.text(path, what)?)
            .map_err(|e| format!("{what} {}: {e}", path.display()))
    }

    fn crls(
        &mut self,
        paths: &[PathBuf],
        what: &str,
    ) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
        let mut out = Vec::new();
        for path in paths {
            self.report.files.push(path.display().to_string());
            let bytes = std::fs::read(path).map_err(|e| {
                format!("cannot read {what} revocation list {}: {e}", path.display())
            })?;
            let crls = tls::parse_crls(&bytes)
                .map_err(|e| format!("{what} revocation list {}: {e}", path.display()))?;
            for crl in &crls {
                x509_parser::parse_x509_crl(crl.as_ref()).map_err(|e| {
                    format!("{what} revocation list {}: not a CRL: {e}", path.display())
                })?;
            }
            self.report.crls += crls.len();
            out.extend(crls);
        }
        Ok(out)
    }
}

/// Reads every TLS file `config` names and builds the listeners' configurations; the
/// federation listener's trust anchors follow `agreements` at each handshake.
pub fn build(
    config: &GatewayConfig,
    agreements: &Arc<AgreementRegistry>,
    clock: &SharedClock,
) -> Result<ServerTls, String> {
    let mut report = TlsReport::default();
    let mut read = Reader {
        report: &mut report,
    };
    let (federation, federation_identity) = federation(&mut read, config, agreements, clock)?;
    let court = court(&mut read, config)?;
    let admin = admin(&mut read, config)?;
    Ok(ServerTls {
        federation,
        court,
        admin,
        federation_identity,
        report,
    })
}

/// Each listener's TLS built on its own, exactly as [`build`] builds it: what was read, or
/// why it cannot be. `kuayu check-config` reports these, one line a listener.
pub fn check(
    config: &GatewayConfig,
    agreements: &Arc<AgreementRegistry>,
    clock: &SharedClock,
) -> Vec<(&'static str, Result<TlsReport, String>)> {
    fn part<T>(
        build: impl FnOnce(&mut Reader<'_>) -> Result<T, String>,
    ) -> Result<TlsReport, String> {
        let mut report = TlsReport::default();
        build(&mut Reader {
            report: &mut report,
        })?;
        Ok(report)
    }
    let mut out = vec![
        (
            "federation TLS",
            part(|r| federation(r, config, agreements, clock)),
        ),
        ("court API TLS", part(|r| court(r, config))),
    ];
    if config.admin.as_ref().is_some_and(|a| a.tls().is_some()) {
        out.push(("admin API TLS", part(|r| admin(r, config))));
    }
    out
}

/// The federation listener (trust anchors from `agreements`, the peers' revocation lists)
/// and the certificate this gateway presents to peers.
fn federation(
    read: &mut Reader<'_>,
    config: &GatewayConfig,
    agreements: &Arc<AgreementRegistry>,
    clock: &SharedClock,
) -> Result<(Arc<ServerConfig>, Identity), String> {
    let identity = read.identity(
        &config.federation.cert,
        &config.federation.key,
        "federation",
    )?;
    let peer_crls = read.crls(&config.federation.crls, "peer anchors'")?;
    let verifier = {
        let (agreements, clock) = (Arc::clone(agreements), Arc::clone(clock));
        tls::DynamicVerifier::new(move || agreements.peer_anchors(clock.now()), peer_crls)
    };
    let server =
        tls::server_config(&identity, verifier).map_err(|e| format!("federation TLS: {e}"))?;
    Ok((server, identity))
}

/// The court listener: certificates from this region's court CA.
fn court(read: &mut Reader<'_>, config: &GatewayConfig) -> Result<Arc<ServerConfig>, String> {
    let identity = read.identity(&config.court_api.cert, &config.court_api.key, "court API")?;
    let ca = read.anchors(&config.court_api.client_ca, "court client CA")?;
    let crls = read.crls(&config.court_api.crls, "court CA")?;
    tls::server_config(
        &identity,
        tls::client_verifier(&ca, &crls).map_err(|e| format!("court client CA: {e}"))?,
    )
    .map_err(|e| format!("court API TLS: {e}"))
}

/// The admin listener over TLS, when configured.
fn admin(
    read: &mut Reader<'_>,
    config: &GatewayConfig,
) -> Result<Option<Arc<ServerConfig>>, String> {
    let Some((a, (_, cert, key, ca))) = config.admin.as_ref().and_then(|a| a.tls().map(|t| (a, t)))
    else {
        return Ok(None);
    };
    let identity = read.identity(cert, key, "admin API")?;
    let anchors = read.anchors(ca, "admin client CA")?;
    let crls = read.crls(&a.crls, "admin CA")?;
    let verifier =
        tls::client_verifier(&anchors, &crls).map_err(|e| format!("admin client CA: {e}"))?;
    Ok(Some(
        tls::server_config(&identity, verifier).map_err(|e| format!("admin TLS: {e}"))?,
    ))
}
