//! The clients a dev federation hands out: a court's or a print centre's (the court API,
//! with its certificate from the dev PKI) and an administrator's (over TLS or the Unix
//! socket).

use std::path::Path;

use super::{DevError, DevFederation, err};
use crate::admin::client::AdminClient;
use crate::client::CourtClient;
use crate::ids::{CourtId, PrintCentreId, RegionId};
use crate::pki::DevCa;
use crate::tls::Identity;

impl DevFederation {
    /// A court system's client, with the court's certificate from the dev PKI.
    pub fn court_client(&self, court: &str) -> Result<CourtClient, DevError> {
        let court = CourtId::parse(court).map_err(err)?;
        let (cert, key) = self.pki.court(&court);
        self.court_api_client(&court.region(), &cert, &key)
    }

    /// A client of `region`'s court API presenting the certificate and key files given.
    fn court_api_client(
        &self,
        region: &RegionId,
        cert: &Path,
        key: &Path,
    ) -> Result<CourtClient, DevError> {
        let gateway = self
            .gateways
            .get(region)
            .ok_or_else(|| DevError(format!("{region} is not running")))?;
        self.court_api_client_at(gateway.court_addr, region, cert, key)
    }

    /// A client of the court API of `region` listening at `addr`.
    pub(super) fn court_api_client_at(
        &self,
        addr: std::net::SocketAddr,
        region: &RegionId,
        cert: &Path,
        key: &Path,
    ) -> Result<CourtClient, DevError> {
        let identity = Identity::load(cert, key).map_err(err)?;
        let ca = self.pki.pem(region, "court-ca.crt").map_err(err)?;
        CourtClient::new(&format!("https://{addr}"), &ca, &identity).map_err(err)
    }

    /// A print centre's client (the court API, with the centre's certificate).
    pub fn print_centre_client(&self, centre: &str) -> Result<CourtClient, DevError> {
        let centre = PrintCentreId::parse(centre).map_err(err)?;
        let (cert, key) = self.pki.print_centre(&centre);
        self.court_api_client(&centre.region(), &cert, &key)
    }

    /// An admin client of `region`'s gateway over TLS, presenting an administrator
    /// certificate naming `urn:kuayu:admin:<name>` (issued by the region's admin CA on
    /// first use).
    pub fn admin(&self, region: &str, name: &str) -> Result<AdminClient, DevError> {
        let addr = self
            .gateway(region)
            .admin_addr
            .ok_or_else(|| DevError(format!("{region} has no admin listener")))?;
        let r = RegionId::parse(region).map_err(err)?;
        let who = crate::tls::Participant::Admin(name.to_owned());
        let stem = format!("admin-{name}");
        let (mut cert, mut key) = (
            self.pki
                .dir
                .join(region)
                .join("extra")
                .join(format!("{stem}.crt")),
            self.pki
                .dir
                .join(region)
                .join("extra")
                .join(format!("{stem}.key")),
        );
        if !cert.exists() {
            (cert, key) = self
                .pki
                .issue_client(&r, DevCa::Admin, &stem, Some(&who), true)
                .map_err(err)?;
        }
        let identity = Identity::load(&cert, &key).map_err(err)?;
        let ca = self.pki.pem(&r, "admin-ca.crt").map_err(err)?;
        AdminClient::tls(&format!("https://{addr}"), &ca, &identity).map_err(err)
    }

    /// An admin client of `region`'s gateway over its Unix domain socket: the caller is
    /// this process's user.
    pub fn admin_socket(&self, region: &str) -> Result<AdminClient, DevError> {
        let path = self
            .gateway(region)
            .admin_socket
            .clone()
            .ok_or_else(|| DevError(format!("{region} has no admin socket")))?;
        AdminClient::unix(&path).map_err(err)
    }
}
