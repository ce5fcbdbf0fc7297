//! Partner regions of the dev federation that run no gateway in it: each joins the
//! agreement as a party at an endpoint the caller holds (a listener that refuses, hangs
//! or answers as the test wants), so a gateway has a peer other than its usual partner.

use crate::agreement::model::Direction;
use crate::agreement::{Agreement, CourtInfo, Party};
use crate::pki::{DevPki, RegionSpec};

use super::{DevError, err, sign_all};

/// `agreement` with each of `absent` as a party at its endpoint, taking from the first
/// party what it sends the second, signed again by every party.
pub fn join(
    pki: &DevPki,
    agreement: Agreement,
    absent: &[(RegionSpec, String)],
) -> Result<Agreement, DevError> {
    let mut parties = Vec::new();
    for (spec, endpoint) in absent {
        let r = &spec.region;
        parties.push(Party {
            region: r.clone(),
            name: format!("{r} (no gateway in this federation)"),
            federation_endpoint: endpoint.clone(),
            trust_anchor: pki.pem(r, "federation-ca.crt").map_err(err)?,
            message_key: pki.message_key(r).map_err(err)?.public(),
            courts: spec
                .courts
                .iter()
                .map(|c| CourtInfo {
                    code: c.clone(),
                    name: c.to_string(),
                    level: CourtInfo::level_of(c),
                })
                .collect(),
        });
    }
    let first = agreement
        .terms
        .parties
        .first()
        .map(|p| p.region.clone())
        .ok_or_else(|| DevError("the sample agreement has no parties".into()))?;
    let kinds = agreement
        .terms
        .directions
        .iter()
        .find(|d| d.from == first)
        .map(|d| d.kinds.clone())
        .unwrap_or_default();
    sign_all(pki, agreement, |t| {
        for party in parties {
            t.directions.push(Direction {
                from: first.clone(),
                to: party.region.clone(),
                kinds: kinds.clone(),
            });
            t.parties.push(party);
        }
    })
}
