//! Client-certificate verifiers: the federation listener's, whose trust anchors follow
//! the agreement registry, and the wrapper every listener uses, which also requires the
//! clientAuth extended key usage and consults certificate revocation lists.

use std::sync::{Arc, Mutex};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};

use super::{client_verifier, provider};

/// Wraps the verifier of a listener: a client certificate must also carry the clientAuth
/// extended key usage. (webpki accepts a certificate with no EKU extension at all for
/// any use; a gateway accepts only certificates issued for client authentication.)
#[derive(Debug)]
pub struct ClientAuthRequired(pub Arc<dyn ClientCertVerifier>);

/// Whether the certificate carries an extended-key-usage extension naming clientAuth.
pub fn has_client_auth(cert: &CertificateDer<'_>) -> bool {
    x509_parser::parse_x509_certificate(cert.as_ref())
        .ok()
        .and_then(|(_, c)| {
            c.extended_key_usage()
                .ok()
                .flatten()
                .map(|e| e.value.client_auth)
        })
        .unwrap_or(false)
}

impl ClientCertVerifier for ClientAuthRequired {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self.0.verify_client_cert(end_entity, intermediates, now)?;
        if !has_client_auth(end_entity) {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::InvalidPurpose,
            ));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The anchors a [`DynamicVerifier`] last saw, and the verifier built from them.
type VerifierCache = (
    Vec<CertificateDer<'static>>,
    Option<Arc<dyn ClientCertVerifier>>,
);

/// A client-certificate verifier whose trust anchors follow a changing source (the
/// agreement registry), so a newly activated agreement's peers can connect without a
/// restart, and a revoked agreement's cannot. The inner verifier is rebuilt only when the
/// anchors change. Its revocation lists are fixed; a reload builds a new verifier.
pub struct DynamicVerifier {
    source: Box<dyn Fn() -> Vec<CertificateDer<'static>> + Send + Sync>,
    crls: Vec<CertificateRevocationListDer<'static>>,
    cache: Mutex<VerifierCache>,
    provider: Arc<CryptoProvider>,
}

impl std::fmt::Debug for DynamicVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DynamicVerifier")
    }
}

impl DynamicVerifier {
    /// A verifier reading its anchors from `source` at each handshake, and consulting
    /// `crls` for certificates their issuers revoked.
    pub fn new(
        source: impl Fn() -> Vec<CertificateDer<'static>> + Send + Sync + 'static,
        crls: Vec<CertificateRevocationListDer<'static>>,
    ) -> Arc<Self> {
        Arc::new(DynamicVerifier {
            source: Box::new(source),
            crls,
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
                client_verifier(&anchors, &self.crls).ok()
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
