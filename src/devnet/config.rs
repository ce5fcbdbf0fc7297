//! The configuration file a dev federation writes for each of its gateways: the region's
//! files from the dev PKI, the agreements naming it, the listeners bound for it.

use std::path::PathBuf;

use super::samples::dev_postcodes;
use super::{COURT_NAMES, DevError, DevFederation, DevOptions, err};
use crate::agreement::Agreement;
use crate::config::{
    CourtApiConfig, CourtEntry, FederationConfig, GatewayConfig, PrintCentreEntry,
};
use crate::ids::RegionId;
use crate::pki::{DevCa, RegionSpec};
use crate::server::Listeners;

impl DevFederation {
    /// Writes `spec`'s region configuration (`<region>/gateway.toml`) for the listeners
    /// bound in `l`, and returns its path.
    pub(super) fn write_config(
        &self,
        spec: &RegionSpec,
        l: &Listeners,
        options: &DevOptions,
    ) -> Result<PathBuf, DevError> {
        let r = &spec.region;
        // The agreements naming this region, and its partners under them.
        let loads: Vec<&(Agreement, PathBuf)> = self
            .agreements
            .iter()
            .filter(|(a, _)| a.terms.party(r).is_some())
            .collect();
        let partner =
            |p: &RegionId| p != r && loads.iter().any(|(a, _)| a.terms.party(p).is_some());
        let peers = options.regions.iter().filter(|s| partner(&s.region));
        let config = GatewayConfig {
            region: r.clone(),
            database: options
                .databases
                .get(r)
                .cloned()
                .unwrap_or_else(|| self.dir.join(r.as_str()).join("kuayu.db").into()),
            blobs: options
                .databases
                .contains_key(r)
                .then(|| self.dir.join(r.as_str()).join("blobs")),
            signing_key: self.pki.file(r, "message-key.pem"),
            agreements: loads.iter().map(|(_, f)| f.clone()).collect(),
            federation: FederationConfig {
                listen: l.federation.local_addr().map_err(err)?,
                cert: self.pki.file(r, "gateway.crt"),
                key: self.pki.file(r, "gateway.key"),
                max_clock_skew_ms: 5 * 60 * 1000,
                crls: peers
                    .map(|p| self.pki.crl(&p.region, DevCa::Federation))
                    .collect(),
            },
            court_api: CourtApiConfig {
                listen: l.court.local_addr().map_err(err)?,
                cert: self.pki.file(r, "court-api.crt"),
                key: self.pki.file(r, "court-api.key"),
                client_ca: self.pki.file(r, "court-ca.crt"),
                crls: vec![self.pki.crl(r, DevCa::Court)],
            },
            admin: match &l.admin {
                Some(a) => Some(crate::config::AdminConfig {
                    listen: Some(a.local_addr().map_err(err)?),
                    cert: Some(self.pki.file(r, "admin-api.crt")),
                    key: Some(self.pki.file(r, "admin-api.key")),
                    client_ca: Some(self.pki.file(r, "admin-ca.crt")),
                    crls: vec![self.pki.crl(r, DevCa::Admin)],
                    socket: Some(self.dir.join(r.as_str()).join("admin.sock")),
                    ..Default::default()
                }),
                None => None,
            },
            party_roots: loads
                .iter()
                .flat_map(|(a, _)| a.terms.parties.iter())
                .map(|p| {
                    Ok((
                        p.region.clone(),
                        self.pki
                            .root_key(&p.region)
                            .map_err(err)?
                            .public()
                            .to_string(),
                    ))
                })
                .collect::<Result<_, DevError>>()?,
            courts: spec
                .courts
                .iter()
                .map(|c| CourtEntry {
                    id: c.clone(),
                    name: COURT_NAMES
                        .iter()
                        .find(|(id, _)| *id == c.as_str())
                        .map(|(_, n)| (*n).to_owned())
                        .unwrap_or_else(|| c.to_string()),
                })
                .collect(),
            print_centres: spec
                .print_centre()
                .map(|id| PrintCentreEntry {
                    name: format!("{id} 法院专递打印中心"),
                    postcodes: dev_postcodes(r),
                    id,
                })
                .into_iter()
                .collect(),
            relay: options.relay.clone(),
            connections: options.connections.clone(),
            attachments: options.attachments.clone(),
            log_format: Default::default(),
            purge_daily: options.purge_daily,
            health: match &l.health {
                Some(h) => Some(crate::config::HealthConfig {
                    listen: h.local_addr().map_err(err)?,
                    metrics: true,
                }),
                None => None,
            },
            danger: Default::default(),
        };
        let path = self.dir.join(r.as_str()).join("gateway.toml");
        std::fs::create_dir_all(self.dir.join(r.as_str())).map_err(err)?;
        std::fs::write(&path, config.to_toml()).map_err(err)?;
        Ok(path)
    }
}
