//! mTLS done once, in one place: rustls server and client configurations, the
//! verifier of federation peers, and identities read from certificates.
//!
//! One crypto provider for the whole build: *ring* (see README, "Choices").
//! Client certificates are always required; there is no optional client auth.
//! Participants are named by a URI subject-alternative name:
//! `urn:kuayu:court:SC0104` for a court, `urn:kuayu:gateway:SC` for a gateway.

mod verify;

pub use verify::{ClientAuthRequired, DynamicVerifier};

use std::sync::{Arc, LazyLock, Once};

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, UnixTime};

use crate::ids::{CourtId, PrintCentreId, RegionId};

/// A certificate, key or TLS configuration that cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(String);

/// The one crypto provider of the build.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes *ring* the process-wide default provider (reqwest needs one). Idempotent.
pub fn install_default_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed; either way one is.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Reads every certificate in a PEM text.
pub fn parse_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError(format!("not a PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError("no certificate in the PEM text".into()));
    }
    Ok(certs)
}

/// A certificate chain and its private key: what a party presents in a handshake.
#[derive(Debug)]
pub struct Identity {
    /// The end-entity certificate first, then any intermediates.
    pub chain: Vec<CertificateDer<'static>>,
    /// The private key of the end-entity certificate.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl Identity {
    /// Reads a PEM certificate chain and a PEM private key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, TlsError> {
        let chain = parse_certs(cert_pem)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| TlsError(format!("not a PEM private key: {e}")))?;
        Ok(Identity { chain, key })
    }

    /// Reads the two PEM files.
    pub fn load(cert: &std::path::Path, key: &std::path::Path) -> Result<Self, TlsError> {
        let read = |p: &std::path::Path| {
            std::fs::read_to_string(p)
                .map_err(|e| TlsError(format!("cannot read {}: {e}", p.display())))
        };
        Self::from_pem(&read(cert)?, &read(key)?)
            .map_err(|e| TlsError(format!("{} / {}: {e}", cert.display(), key.display())))
    }
}

fn root_store(anchors: &[CertificateDer<'static>]) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for a in anchors {
        roots
            .add(a.clone())
            .map_err(|e| TlsError(format!("unusable trust anchor: {e}")))?;
    }
    Ok(roots)
}

/// A verifier that requires a client certificate issued under one of `anchors` and not
/// revoked by any of `crls` (a certificate whose issuer has no CRL here is not checked
/// for revocation).
pub fn client_verifier(
    anchors: &[CertificateDer<'static>],
    crls: &[CertificateRevocationListDer<'static>],
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    WebPkiClientVerifier::builder_with_provider(Arc::new(root_store(anchors)?), provider())
        .with_crls(crls.iter().cloned())
        .allow_unknown_revocation_status()
        .build()
        .map_err(|e| TlsError(format!("cannot build a client certificate verifier: {e}")))
}

/// Reads certificate revocation lists from PEM (`-----BEGIN X509 CRL-----`, one or more)
/// or DER bytes.
pub fn parse_crls(bytes: &[u8]) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    if bytes.windows(10).any(|w| w == b"-----BEGIN") {
        let crls = CertificateRevocationListDer::pem_slice_iter(bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError(format!("not a PEM CRL: {e}")))?;
        if crls.is_empty() {
            return Err(TlsError("no CRL in the PEM text".into()));
        }
        return Ok(crls);
    }
    Ok(vec![CertificateRevocationListDer::from(bytes.to_vec())])
}

/// How long a chain that verified is taken as verified without checking it again (never
/// past the earliest `notAfter` in the chain; see `ActiveAgreement::certifies`).
pub const VERIFIED_FOR_SECS: u64 = 60;

/// Now, in Unix seconds.
pub fn now_secs() -> u64 {
    UnixTime::now().as_secs()
}

/// The earliest `notAfter` of the certificates in `chain` (Unix seconds), or `None` if
/// one cannot be read (then nothing about the chain is kept).
pub fn not_after(chain: &[CertificateDer<'_>]) -> Option<u64> {
    chain.iter().try_fold(u64::MAX, |earliest, cert| {
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
        let secs = u64::try_from(parsed.validity().not_after.timestamp()).ok()?;
        Some(earliest.min(secs))
    })
}

/// Whether `chain` (end entity first) verifies under `verifier` now.
pub fn chain_verifies(
    verifier: &dyn ClientCertVerifier,
    chain: &[CertificateDer<'static>],
) -> bool {
    match chain.split_first() {
        Some((leaf, rest)) => verifier
            .verify_client_cert(leaf, rest, UnixTime::now())
            .is_ok(),
        None => false,
    }
}

/// A server configuration that requires client certificates accepted by `verifier` and
/// issued for client authentication (the clientAuth extended key usage).
pub fn server_config(
    identity: &Identity,
    verifier: Arc<dyn ClientCertVerifier>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?
        .with_client_cert_verifier(Arc::new(ClientAuthRequired(verifier)))
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(|e| TlsError(format!("server certificate and key do not fit: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client configuration that trusts only `anchors` and presents `identity`.
pub fn client_config(
    anchors: &[CertificateDer<'static>],
    identity: &Identity,
) -> Result<rustls::ClientConfig, TlsError> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?
        .with_root_certificates(root_store(anchors)?)
        .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(|e| TlsError(format!("client certificate and key do not fit: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A reqwest client for HTTPS with client certificates, trusting only `anchors`. It
/// speaks HTTPS only and never follows a redirect: a gateway or court talks to exactly
/// the endpoint it was given.
pub fn http_client(
    anchors: &[CertificateDer<'static>],
    identity: &Identity,
    timeout: std::time::Duration,
) -> Result<reqwest::Client, TlsError> {
    install_default_provider();
    reqwest::Client::builder()
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .tls_backend_preconfigured(client_config(anchors, identity)?)
        .timeout(timeout)
        .connect_timeout(std::time::Duration::from_secs(5))
        .pool_idle_timeout(std::time::Duration::from_secs(60))
        .build()
        .map_err(|e| TlsError(format!("cannot build the HTTPS client: {e}")))
}

/// Who a certificate names, from its `urn:kuayu:` URI subject-alternative name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Participant {
    /// A court system.
    Court(CourtId),
    /// A region's gateway.
    Gateway(RegionId),
    /// An administrator of a gateway.
    Admin(String),
    /// A print-and-mail centre, a client of its region's gateway.
    PrintCentre(PrintCentreId),
}

/// Certificates lately read, and whom each names (a pure answer, kept until forgotten).
static NAMED: LazyLock<crate::recent::Recent<Vec<u8>, Option<Participant>>> =
    LazyLock::new(|| crate::recent::Recent::new(64));

/// Reads the participant a certificate names, if it names exactly one.
pub fn participant(cert: &CertificateDer<'_>) -> Option<Participant> {
    let der = cert.as_ref();
    if let Some(named) = NAMED.get(|k| k.as_slice() == der, 0) {
        return named;
    }
    let named = read_participant(cert);
    NAMED.put(der.to_vec(), named.clone(), 0, u64::MAX);
    named
}

/// [`participant`], read from the certificate.
fn read_participant(cert: &CertificateDer<'_>) -> Option<Participant> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let san = parsed.subject_alternative_name().ok()??;
    let mut found = san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            x509_parser::extensions::GeneralName::URI(uri) => parse_participant(uri),
            _ => None,
        });
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// Parses `urn:kuayu:court:SC0104`, `urn:kuayu:printcentre:SC01-PC1`,
/// `urn:kuayu:gateway:SC` or `urn:kuayu:admin:<name>`.
pub fn parse_participant(uri: &str) -> Option<Participant> {
    if let Some(court) = uri.strip_prefix("urn:kuayu:court:") {
        return CourtId::parse(court).ok().map(Participant::Court);
    }
    if let Some(centre) = uri.strip_prefix("urn:kuayu:printcentre:") {
        return PrintCentreId::parse(centre)
            .ok()
            .map(Participant::PrintCentre);
    }
    if let Some(region) = uri.strip_prefix("urn:kuayu:gateway:") {
        return RegionId::parse(region).ok().map(Participant::Gateway);
    }
    if let Some(name) = uri.strip_prefix("urn:kuayu:admin:") {
        let ok = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
        return ok.then(|| Participant::Admin(name.to_owned()));
    }
    None
}

impl Participant {
    /// The URI subject-alternative name that names this participant.
    pub fn uri(&self) -> String {
        match self {
            Participant::Court(c) => format!("urn:kuayu:court:{c}"),
            Participant::Gateway(r) => format!("urn:kuayu:gateway:{r}"),
            Participant::Admin(name) => format!("urn:kuayu:admin:{name}"),
            Participant::PrintCentre(p) => format!("urn:kuayu:printcentre:{p}"),
        }
    }
}
