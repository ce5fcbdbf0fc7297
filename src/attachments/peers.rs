//! Which peer gateway is calling the federation attachment routes, by its TLS client
//! certificate alone (as for messages): the certificate names `urn:kuayu:gateway:<region>`
//! and must have been issued under that region's trust anchor in an agreement, active
//! here, that joins it with this region. Its limit is the largest of those agreements'.

use rustls_pki_types::CertificateDer;

use crate::gateway::Gateway;
use crate::ids::RegionId;
use crate::pipeline;
use crate::problem::{Code, Problem};
use crate::tls::{self, Participant};

/// A peer gateway, authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its region.
    pub region: RegionId,
    /// The largest attachment it may send, in bytes.
    pub limit: u64,
}

/// The peer gateway that presented `chain`.
pub fn authenticate(g: &Gateway, chain: &[CertificateDer<'static>]) -> Result<Peer, Problem> {
    let leaf = chain
        .first()
        .ok_or_else(|| Problem::new(Code::Unauthenticated, "a client certificate is required"))?;
    let region = match tls::participant(leaf) {
        Some(Participant::Gateway(region)) => region,
        _ => {
            return Err(Problem::new(
                Code::Unauthenticated,
                "the client certificate names no gateway (a URI SAN urn:kuayu:gateway:<region> is required)",
            ));
        }
    };
    if region == g.region {
        return Err(Problem::new(
            Code::IdentityMismatch,
            format!("{region} is this gateway's own region, not a peer"),
        ));
    }
    let mut limit = None;
    let mut refusal = None;
    for agreement in g.agreements.active(g.clock.now()) {
        if agreement.party(&region).is_none() || agreement.party(&g.region).is_none() {
            continue;
        }
        match pipeline::authenticate_peer(&agreement, &region, chain) {
            Ok(()) => {
                let here = super::max_bytes(&agreement.terms().limits);
                limit = Some(limit.map_or(here, |l: u64| l.max(here)));
            }
            Err(p) => refusal = Some(p),
        }
    }
    match (limit, refusal) {
        (Some(limit), _) => Ok(Peer { region, limit }),
        (None, Some(p)) => Err(p),
        (None, None) => Err(Problem::new(
            Code::UnknownAgreement,
            format!(
                "no agreement active at the {} gateway joins it with {region}",
                g.region
            ),
        )),
    }
}
