//! A development PKI, made fresh by `kuayu pki dev` and by the demo. TEST ONLY.
//!
//! Per region: a federation CA (the region's trust anchor in agreements) issuing the
//! gateway certificate, a court CA issuing the court API's server certificate and one
//! client certificate per court, a party root key (signs agreements) and a gateway
//! message key (signs envelopes and receipts). A `rogue/` CA that no agreement names
//! issues look-alike certificates for negative tests.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

mod extra;

pub use extra::DevCa;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use crate::crypto::SigningKey;
use crate::ids::{CourtId, PrintCentreId, RegionId};
use crate::tls::Participant;

/// A PKI that could not be made or written.
#[derive(Debug, thiserror::Error)]
#[error("dev PKI: {0}")]
pub struct PkiError(String);

fn err(e: impl std::fmt::Display) -> PkiError {
    PkiError(e.to_string())
}

/// One region to make credentials for.
#[derive(Debug, Clone)]
pub struct RegionSpec {
    /// The region.
    pub region: RegionId,
    /// Its courts that get client certificates.
    pub courts: Vec<CourtId>,
}

impl RegionSpec {
    /// The region's dev print centre: its first court's code with `-PC1`.
    pub fn print_centre(&self) -> Option<PrintCentreId> {
        let court = self.courts.first()?;
        PrintCentreId::parse(&format!("{court}-PC1")).ok()
    }
}

/// Where a generated PKI lives; every file has a fixed name below it.
#[derive(Debug, Clone)]
pub struct DevPki {
    /// The folder.
    pub dir: PathBuf,
}

const README: &str = "# TEST ONLY: development PKI made by `kuayu pki dev`\n\n\
Every key in this folder is a test key with no value. Never use them for real traffic.\n\
Regenerate with `kuayu pki dev --out <this folder>`.\n\n\
Per region `XX/`: `federation-ca.crt` (the region's trust anchor in agreements), `gateway.crt/.key`\n\
(the gateway's federation certificate, `urn:kuayu:gateway:XX`), `court-ca.crt`, `court-api.crt/.key`,\n\
each CA's key (`*-ca.key`) and revocation list (`*-ca.crl`, empty until a test revokes),\n\
`courts/<court>.crt/.key` (`urn:kuayu:court:<court>`), `printcentres/<centre>.crt/.key`\n\
(`urn:kuayu:printcentre:<centre>`), `admin-ca.crt`, `admin-api.crt/.key`,\n\
`admins/alice.crt/.key` (`urn:kuayu:admin:alice`), `root-key.pem` (party root key, signs\n\
agreements), `message-key.pem` (gateway message key, signs envelopes and receipts), and their\n\
public halves as base64 in `*.pub`.\n\
`rogue/`: a CA no agreement names, with look-alike gateway and court certificates.\n";

impl DevPki {
    /// A file of `region`'s credentials, e.g. `gateway.crt`.
    pub fn file(&self, region: &RegionId, name: &str) -> PathBuf {
        self.dir.join(region.as_str()).join(name)
    }

    /// The certificate and key files of `court`.
    pub fn court(&self, court: &CourtId) -> (PathBuf, PathBuf) {
        let dir = self.dir.join(court.region().as_str()).join("courts");
        (
            dir.join(format!("{court}.crt")),
            dir.join(format!("{court}.key")),
        )
    }

    /// The certificate and key files of print centre `centre`.
    pub fn print_centre(&self, centre: &PrintCentreId) -> (PathBuf, PathBuf) {
        let dir = self.dir.join(centre.region().as_str()).join("printcentres");
        (
            dir.join(format!("{centre}.crt")),
            dir.join(format!("{centre}.key")),
        )
    }

    /// A file of the rogue CA's, e.g. `gateway-SC.crt`.
    pub fn rogue(&self, name: &str) -> PathBuf {
        self.dir.join("rogue").join(name)
    }

    /// The party root key of `region`.
    pub fn root_key(&self, region: &RegionId) -> Result<SigningKey, PkiError> {
        let path = self.file(region, "root-key.pem");
        let pem = std::fs::read_to_string(&path)
            .map_err(|e| PkiError(format!("{}: {e}", path.display())))?;
        SigningKey::from_pem(&pem).map_err(err)
    }

    /// The gateway message key of `region`.
    pub fn message_key(&self, region: &RegionId) -> Result<SigningKey, PkiError> {
        let path = self.file(region, "message-key.pem");
        let pem = std::fs::read_to_string(&path)
            .map_err(|e| PkiError(format!("{}: {e}", path.display())))?;
        SigningKey::from_pem(&pem).map_err(err)
    }

    /// The PEM text of a file of `region`'s.
    pub fn pem(&self, region: &RegionId, name: &str) -> Result<String, PkiError> {
        let path = self.file(region, name);
        std::fs::read_to_string(&path).map_err(|e| PkiError(format!("{}: {e}", path.display())))
    }
}

fn write(path: &Path, text: &str) -> Result<(), PkiError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| PkiError(format!("{}: {e}", dir.display())))?;
    }
    std::fs::write(path, text).map_err(|e| PkiError(format!("{}: {e}", path.display())))
}

/// Writes a private key readable and writable by its owner alone (0600).
fn write_key(path: &Path, text: &str) -> Result<(), PkiError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| PkiError(format!("{}: {e}", dir.display())))?;
    }
    crate::keyfile::write_private(path, text.as_bytes())
        .map_err(|e| PkiError(format!("{}: {e}", path.display())))
}

fn validity(params: &mut CertificateParams) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(825);
}

fn new_ca(name: &str) -> Result<CertifiedIssuer<'static, KeyPair>, PkiError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "kuayu development (TEST ONLY)");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut params);
    CertifiedIssuer::self_signed(params, KeyPair::generate().map_err(err)?).map_err(err)
}

/// Issues a leaf certificate; returns (certificate PEM, key PEM).
fn leaf(
    ca: &Issuer<'_, KeyPair>,
    name: &str,
    who: Option<&Participant>,
    server: bool,
    client: bool,
) -> Result<(String, String), PkiError> {
    let hosts = if server {
        vec!["localhost".to_owned()]
    } else {
        Vec::new()
    };
    let mut params = CertificateParams::new(hosts).map_err(err)?;
    if server {
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
    if let Some(who) = who {
        params
            .subject_alt_names
            .push(SanType::URI(who.uri().try_into().map_err(err)?));
    }
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = [
        (server, ExtendedKeyUsagePurpose::ServerAuth),
        (client, ExtendedKeyUsagePurpose::ClientAuth),
    ]
    .into_iter()
    .filter_map(|(on, eku)| on.then_some(eku))
    .collect();
    params.use_authority_key_identifier_extension = true;
    validity(&mut params);
    let key = KeyPair::generate().map_err(err)?;
    let cert = params.signed_by(&key, ca).map_err(err)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn write_pair(dir: &Path, stem: &str, (cert, key): (String, String)) -> Result<(), PkiError> {
    write(&dir.join(format!("{stem}.crt")), &cert)?;
    write_key(&dir.join(format!("{stem}.key")), &key)
}

/// Writes a CA's certificate, its key (TEST ONLY, kept so tests can issue and revoke) and
/// an empty revocation list.
fn write_ca(
    rdir: &Path,
    ca: DevCa,
    issuer: &CertifiedIssuer<'static, KeyPair>,
) -> Result<(), PkiError> {
    write(&rdir.join(format!("{}.crt", ca.stem())), &issuer.pem())?;
    write_key(
        &rdir.join(format!("{}.key", ca.stem())),
        &issuer.key().serialize_pem(),
    )?;
    write(
        &rdir.join(format!("{}.crl", ca.stem())),
        &extra::crl_pem(issuer, &[])?,
    )
}

/// Makes a fresh PKI for `regions` in `dir` (files are overwritten).
pub fn generate(dir: &Path, regions: &[RegionSpec]) -> Result<DevPki, PkiError> {
    write(&dir.join("README.md"), README)?;
    for spec in regions {
        let r = &spec.region;
        let rdir = dir.join(r.as_str());
        let federation_ca = new_ca(&format!("kuayu {r} federation CA (TEST ONLY)"))?;
        write_ca(&rdir, DevCa::Federation, &federation_ca)?;
        let gateway = Participant::Gateway(r.clone());
        write_pair(
            &rdir,
            "gateway",
            leaf(
                &federation_ca,
                &format!("kuayu gateway {r}"),
                Some(&gateway),
                true,
                true,
            )?,
        )?;
        let court_ca = new_ca(&format!("kuayu {r} court CA (TEST ONLY)"))?;
        write_ca(&rdir, DevCa::Court, &court_ca)?;
        write_pair(
            &rdir,
            "court-api",
            leaf(
                &court_ca,
                &format!("kuayu {r} court API"),
                None,
                true,
                false,
            )?,
        )?;
        for court in &spec.courts {
            let who = Participant::Court(court.clone());
            write_pair(
                &rdir.join("courts"),
                court.as_str(),
                leaf(
                    &court_ca,
                    &format!("court {court}"),
                    Some(&who),
                    false,
                    true,
                )?,
            )?;
        }
        if let Some(centre) = spec.print_centre() {
            let who = Participant::PrintCentre(centre.clone());
            write_pair(
                &rdir.join("printcentres"),
                centre.as_str(),
                leaf(
                    &court_ca,
                    &format!("print centre {centre}"),
                    Some(&who),
                    false,
                    true,
                )?,
            )?;
        }
        let admin_ca = new_ca(&format!("kuayu {r} admin CA (TEST ONLY)"))?;
        write_ca(&rdir, DevCa::Admin, &admin_ca)?;
        write_pair(
            &rdir,
            "admin-api",
            leaf(
                &admin_ca,
                &format!("kuayu {r} admin API"),
                None,
                true,
                false,
            )?,
        )?;
        let alice = Participant::Admin("alice".into());
        write_pair(
            &rdir.join("admins"),
            "alice",
            leaf(&admin_ca, "administrator alice", Some(&alice), false, true)?,
        )?;
        for name in ["root-key", "message-key"] {
            let key = SigningKey::generate();
            write_key(&rdir.join(format!("{name}.pem")), &key.to_pem())?;
            write(
                &rdir.join(format!("{name}.pub")),
                &format!("{}\n", key.public()),
            )?;
        }
    }
    let rogue = new_ca("kuayu rogue CA (named by no agreement)")?;
    let rdir = dir.join("rogue");
    write(&rdir.join("ca.crt"), &rogue.pem())?;
    for spec in regions {
        let r = &spec.region;
        write_pair(
            &rdir,
            &format!("gateway-{r}"),
            leaf(
                &rogue,
                &format!("rogue gateway {r}"),
                Some(&Participant::Gateway(r.clone())),
                true,
                true,
            )?,
        )?;
        for court in &spec.courts {
            let who = Participant::Court(court.clone());
            write_pair(
                &rdir,
                &format!("court-{court}"),
                leaf(
                    &rogue,
                    &format!("rogue court {court}"),
                    Some(&who),
                    false,
                    true,
                )?,
            )?;
        }
    }
    Ok(DevPki {
        dir: dir.to_path_buf(),
    })
}
