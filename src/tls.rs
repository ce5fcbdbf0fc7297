//! mTLS done once, in one place: rustls server and client configurations, the
//! verifier of federation peers, and identities read from certificates.
//!
//! One crypto provider for the whole build: *ring* (see README, "Choices").
//! Client certificates are always required; there is no optional client auth.
//! Participants are named by a URI subject-alternative name:
//! `urn:kuayu:court:SC0104` for a court, `urn:kuayu:gateway:SC` for a gateway.

use std::sync::{Arc, Mutex, Once};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

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

/// A verifier that requires a client certificate issued under one of `anchors`.
pub fn client_verifier(
    anchors: &[CertificateDer<'static>],
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    WebPkiClientVerifier::builder_with_provider(Arc::new(root_store(anchors)?), provider())
        .build()
        .map_err(|e| TlsError(format!("cannot build a client certificate verifier: {e}")))
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

/// A server configuration that requires client certificates accepted by `verifier`.
pub fn server_config(
    identity: &Identity,
    verifier: Arc<dyn ClientCertVerifier>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?
        .with_client_cert_verifier(verifier)
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

/// Reads the participant a certificate names, if it names exactly one.
pub fn participant(cert: &CertificateDer<'_>) -> Option<Participant> {
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

/// The anchors a [`DynamicVerifier`] last saw, and the verifier built from them.
type VerifierCache = (
    Vec<CertificateDer<'static>>,
    Option<Arc<dyn ClientCertVerifier>>,
);

/// A client-certificate verifier whose trust anchors follow a changing source (the
/// agreement registry), so a newly activated agreement's peers can connect without a
/// restart. The inner verifier is rebuilt only when the anchors change.
pub struct DynamicVerifier {
    source: Box<dyn Fn() -> Vec<CertificateDer<'static>> + Send + Sync>,
    cache: Mutex<VerifierCache>,
    provider: Arc<CryptoProvider>,
}

impl std::fmt::Debug for DynamicVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DynamicVerifier")
    }
}

impl DynamicVerifier {
    /// A verifier reading its anchors from `source` at each handshake.
    pub fn new(
        source: impl Fn() -> Vec<CertificateDer<'static>> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(DynamicVerifier {
            source: Box::new(source),
            cache: Mutex::new((Vec::new(), None)),
            provider: provider(),
        })
    }

    fn current(&self) -> Option<Arc<dyn ClientCertVerifier>> {
        let anchors = (self.source)();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.0 != anchors || (cache.1.is_none() && !anchors.is_empty()) {
            let verifier = if anchors.is_empty() {
                None
            } else {
                client_verifier(&anchors).ok()
            };
            *cache = (anchors, verifier);
        }
        cache.1.clone()
    }
}

impl ClientCertVerifier for DynamicVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match self.current() {
            Some(v) => v.verify_client_cert(end_entity, intermediates, now),
            None => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
