//! Who calls the court API, from the client certificate alone: a court or a print centre
//! of this region registered at this gateway ([`Caller`]), or a court only
//! ([`CourtIdentity`]). Never from a field the caller writes.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::PeerCertificates;
use crate::gateway::Gateway;
use crate::ids::{CourtId, PrintCentreId};
use crate::problem::{Code, Problem};
use crate::tls::{self, Participant};

/// Who calls the court API: a court or a print centre of this region, known by its
/// client certificate.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A court system.
    Court(CourtId),
    /// A print-and-mail centre.
    PrintCentre(PrintCentreId),
}

impl Caller {
    /// The code its inbox is kept under.
    pub fn code(&self) -> &str {
        match self {
            Caller::Court(c) => c.as_str(),
            Caller::PrintCentre(p) => p.as_str(),
        }
    }

    /// How it appears in histories.
    pub fn actor(&self) -> String {
        match self {
            Caller::Court(c) => format!("court:{c}"),
            Caller::PrintCentre(p) => format!("printcentre:{p}"),
        }
    }
}

impl FromRequestParts<Arc<Gateway>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, g: &Arc<Gateway>) -> Result<Self, Problem> {
        let leaf = parts
            .extensions
            .get::<PeerCertificates>()
            .and_then(|p| p.0.first().cloned())
            .ok_or_else(|| {
                Problem::new(
                    Code::Unauthenticated,
                    "a court or print centre client certificate is required",
                )
            })?;
        let (region, known, caller) = match tls::participant(&leaf) {
            Some(Participant::Court(court)) => (
                court.region(),
                g.courts.contains_key(&court),
                Caller::Court(court),
            ),
            Some(Participant::PrintCentre(centre)) => (
                centre.region(),
                g.print_centres.iter().any(|c| c.id == centre),
                Caller::PrintCentre(centre),
            ),
            _ => {
                return Err(Problem::new(
                    Code::Unauthenticated,
                    "the client certificate names no court or print centre (a URI SAN urn:kuayu:court:<code> or urn:kuayu:printcentre:<code> is required)",
                ));
            }
        };
        if region != g.region {
            return Err(Problem::new(
                Code::IdentityMismatch,
                format!(
                    "{} belongs to region {region}, not to this gateway's region {}",
                    caller.code(),
                    g.region
                ),
            ));
        }
        if !known {
            return Err(Problem::new(
                Code::Unauthenticated,
                format!(
                    "{} is not registered at the {} gateway",
                    caller.code(),
                    g.region
                ),
            ));
        }
        Ok(caller)
    }
}

/// The calling court, from its client certificate.
pub struct CourtIdentity(pub CourtId);

impl FromRequestParts<Arc<Gateway>> for CourtIdentity {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, g: &Arc<Gateway>) -> Result<Self, Problem> {
        match Caller::from_request_parts(parts, g).await? {
            Caller::Court(court) => Ok(CourtIdentity(court)),
            Caller::PrintCentre(centre) => Err(Problem::new(
                Code::IdentityMismatch,
                format!(
                    "print centre {centre} may read its inbox and report on its print jobs, nothing else"
                ),
            )),
        }
    }
}
