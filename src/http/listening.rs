//! What a listener tells the gateway's [`Observer`]: that it is accepting (readiness),
//! each failed TLS handshake and why, and the connections it holds open.

use std::sync::Arc;

use rustls::{CertificateError, Error as TlsError};

use crate::observe::Observer;

/// A listener's name in the metrics and in readiness, and where it reports.
#[derive(Clone)]
pub struct Watch {
    /// `court`, `federation`, `admin`, `admin_socket` or `health`.
    pub name: &'static str,
    /// The gateway's observer.
    pub observer: Arc<Observer>,
}

impl Watch {
    /// A watch for listener `name`.
    pub fn new(name: &'static str, observer: &Arc<Observer>) -> Self {
        Watch {
            name,
            observer: Arc::clone(observer),
        }
    }

    /// The listener is accepting (or, `false`, no longer).
    pub fn accepting(&self, yes: bool) {
        self.observer.listening(self.name, yes);
    }

    /// A handshake failed for `reason` (see [`handshake_failure`]).
    pub fn handshake_failed(&self, reason: &'static str) {
        self.observer.metrics.handshake_failed(self.name, reason);
    }

    /// A connection was turned away after its handshake, for `reason`.
    pub fn refused(&self, reason: &'static str) {
        self.observer.metrics.connection_refused(self.name, reason);
    }

    /// A connection opened: counted open until the guard is dropped.
    pub fn open(&self) -> OpenConnection {
        self.observer.metrics.connections(self.name, 1.0);
        OpenConnection(self.clone())
    }
}

/// A connection counted in `kuayu_connections_open` while it lives.
pub struct OpenConnection(Watch);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.observer.metrics.connections(self.0.name, -1.0);
    }
}

/// Why a TLS handshake failed, as a metric label: what rustls said, or how the connection
/// ended.
pub fn handshake_failure(e: &std::io::Error) -> &'static str {
    let Some(tls) = e.get_ref().and_then(|e| e.downcast_ref::<TlsError>()) else {
        return match e.kind() {
            std::io::ErrorKind::UnexpectedEof => "closed",
            _ => "io",
        };
    };
    match tls {
        TlsError::NoCertificatesPresented => "no_certificate",
        TlsError::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired",
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "not_yet_valid"
            }
            CertificateError::Revoked => "revoked",
            CertificateError::UnknownIssuer => "unknown_issuer",
            CertificateError::BadSignature => "bad_signature",
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "wrong_purpose"
            }
            CertificateError::UnknownRevocationStatus
            | CertificateError::ExpiredRevocationList
            | CertificateError::ExpiredRevocationListContext { .. } => "revocation_status",
            _ => "bad_certificate",
        },
        TlsError::PeerIncompatible(_) => "incompatible",
        TlsError::AlertReceived(_) => "alert_received",
        TlsError::InappropriateMessage { .. }
        | TlsError::InappropriateHandshakeMessage { .. }
        | TlsError::InvalidMessage(_) => "protocol",
        _ => "other",
    }
}
