//! The committed sample agreements (Sichuan–Chongqing, Sichuan–Guizhou) and the dev
//! regions they join: the templates the dev federation re-binds to a fresh PKI and the
//! ports actually bound, so one gateway can serve several agreements at once.

use std::collections::BTreeMap;

use crate::agreement::Agreement;
use crate::ids::{CourtId, RegionId};
use crate::pki::{DevPki, RegionSpec};

use super::{DevError, err, sign_all};

/// The committed Sichuan–Chongqing agreement (signed with the TEST-ONLY keys in
/// `agreements/test-only/`); its terms are the template the dev federation re-binds.
pub const SAMPLE_AGREEMENT: &str = include_str!("../../agreements/sc-cq.json");

/// The committed Sichuan–Guizhou agreement, signed with the same TEST-ONLY keys (SC's
/// and GZ's): Sichuan's second partner, for gateways serving two agreements.
pub const SAMPLE_AGREEMENT_SC_GZ: &str = include_str!("../../agreements/sc-gz.json");

/// A committed sample agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// `agreements/sc-cq.json`: Sichuan and Chongqing.
    ScCq,
    /// `agreements/sc-gz.json`: Sichuan and Guizhou.
    ScGz,
}

impl Sample {
    /// The committed file's text.
    pub fn text(self) -> &'static str {
        match self {
            Sample::ScCq => SAMPLE_AGREEMENT,
            Sample::ScGz => SAMPLE_AGREEMENT_SC_GZ,
        }
    }

    /// The committed file's name under `agreements/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Sample::ScCq => "sc-cq.json",
            Sample::ScGz => "sc-gz.json",
        }
    }

    /// The committed agreement, parsed.
    pub fn agreement(self) -> Result<Agreement, DevError> {
        Agreement::from_json(self.text())
            .map_err(|e| DevError(format!("agreements/{}: {e}", self.file_name())))
    }
}

/// Names of the dev courts.
pub const COURT_NAMES: &[(&str, &str)] = &[
    ("SC01", "四川省成都市中级人民法院"),
    ("SC0104", "成都市锦江区人民法院"),
    ("CQ01", "重庆市第一中级人民法院"),
    ("CQ0103", "重庆市渝中区人民法院"),
    ("GZ01", "贵州省贵阳市中级人民法院"),
    ("GZ0102", "贵阳市南明区人民法院"),
];

/// The dev courts of `region` (SC, CQ or GZ): an intermediate and a basic court.
pub fn dev_region(region: &str) -> Option<RegionSpec> {
    let courts: &[&str] = match region {
        "SC" => &["SC01", "SC0104"],
        "CQ" => &["CQ01", "CQ0103"],
        "GZ" => &["GZ01", "GZ0102"],
        _ => return None,
    };
    Some(RegionSpec {
        region: RegionId::parse(region).ok()?,
        courts: courts
            .iter()
            .map(|c| CourtId::parse(c))
            .collect::<Result<_, _>>()
            .ok()?,
    })
}

/// Sichuan, Chongqing and Guizhou with their dev courts.
pub fn three_regions() -> Vec<RegionSpec> {
    ["SC", "CQ", "GZ"]
        .into_iter()
        .filter_map(dev_region)
        .collect()
}

/// Postcode prefixes of the dev regions (Chongqing 40, Sichuan 61 to 64, Guizhou 55 and 56).
pub fn dev_postcodes(region: &RegionId) -> Vec<String> {
    let prefixes: &[&str] = match region.as_str() {
        "CQ" => &["40"],
        "SC" => &["61", "62", "63", "64"],
        "GZ" => &["55", "56"],
        _ => &[],
    };
    prefixes.iter().map(|p| (*p).to_owned()).collect()
}

/// The Sichuan–Chongqing sample re-bound to `pki` and `endpoints`, signed by every
/// party's root.
pub fn bind_sample(
    pki: &DevPki,
    endpoints: &BTreeMap<RegionId, String>,
) -> Result<Agreement, DevError> {
    bind(Sample::ScCq, pki, endpoints)
}

/// `sample` re-bound to `pki` and `endpoints` (each party's federation endpoint, trust
/// anchor and message key), signed by every party's root.
pub fn bind(
    sample: Sample,
    pki: &DevPki,
    endpoints: &BTreeMap<RegionId, String>,
) -> Result<Agreement, DevError> {
    let mut agreement = sample.agreement()?;
    agreement.signatures.clear();
    for party in &mut agreement.terms.parties {
        let r = party.region.clone();
        party.federation_endpoint = endpoints.get(&r).cloned().ok_or_else(|| {
            DevError(format!(
                "no endpoint for party {r} of {}: add it to the dev regions",
                sample.file_name()
            ))
        })?;
        party.trust_anchor = pki.pem(&r, "federation-ca.crt").map_err(err)?;
        party.message_key = pki.message_key(&r).map_err(err)?.public();
    }
    sign_all(pki, agreement, |_| {})
}
