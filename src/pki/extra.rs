//! TEST ONLY: what a dev PKI's certificate authorities do after the PKI is made: issue a
//! client certificate on demand (for negative tests: one naming another party, one
//! without the clientAuth usage) and revoke certificates in the CA's revocation list.

use std::path::{Path, PathBuf};

use rcgen::{
    CertificateParams, CertificateRevocationListParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SanType,
    SerialNumber,
};
use time::{Duration, OffsetDateTime};

use super::{DevPki, PkiError, err, validity, write, write_key};
use crate::ids::RegionId;
use crate::tls::Participant;

/// One of a region's certificate authorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevCa {
    /// Issues the gateway's certificate; the region's trust anchor in agreements.
    Federation,
    /// Issues court and print-centre client certificates and the court API's server one.
    Court,
    /// Issues administrator certificates and the admin API's server one.
    Admin,
}

impl DevCa {
    /// The stem of its files: `federation-ca`, `court-ca`, `admin-ca`.
    pub fn stem(self) -> &'static str {
        match self {
            DevCa::Federation => "federation-ca",
            DevCa::Court => "court-ca",
            DevCa::Admin => "admin-ca",
        }
    }
}

/// A revocation list signed by `issuer`, revoking the certificates with `serials`.
pub(super) fn crl_pem(
    issuer: &Issuer<'_, KeyPair>,
    serials: &[Vec<u8>],
) -> Result<String, PkiError> {
    let now = OffsetDateTime::now_utc();
    let params = CertificateRevocationListParams {
        this_update: now - Duration::minutes(5),
        next_update: now + Duration::days(30),
        crl_number: SerialNumber::from_slice(&now.unix_timestamp_nanos().to_be_bytes()[4..]),
        issuing_distribution_point: None,
        revoked_certs: serials
            .iter()
            .map(|serial| RevokedCertParams {
                serial_number: SerialNumber::from_slice(serial),
                revocation_time: now - Duration::minutes(1),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    };
    params.signed_by(issuer).map_err(err)?.pem().map_err(err)
}

impl DevPki {
    /// The CA `ca` of `region`, read back from its certificate and key files.
    fn issuer(&self, region: &RegionId, ca: DevCa) -> Result<Issuer<'static, KeyPair>, PkiError> {
        let key =
            KeyPair::from_pem(&self.pem(region, &format!("{}.key", ca.stem()))?).map_err(err)?;
        Issuer::from_ca_cert_pem(&self.pem(region, &format!("{}.crt", ca.stem()))?, key)
            .map_err(err)
    }

    /// The revocation list file of `region`'s `ca` (empty until [`DevPki::revoke`]).
    pub fn crl(&self, region: &RegionId, ca: DevCa) -> PathBuf {
        self.file(region, &format!("{}.crl", ca.stem()))
    }

    /// Issues a client certificate under `region`'s `ca` naming `who` (or no participant),
    /// with the clientAuth extended key usage or without any; writes
    /// `<region>/extra/<stem>.crt` and `.key` and returns their paths.
    pub fn issue_client(
        &self,
        region: &RegionId,
        ca: DevCa,
        stem: &str,
        who: Option<&Participant>,
        client_auth: bool,
    ) -> Result<(PathBuf, PathBuf), PkiError> {
        let issuer = self.issuer(region, ca)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        if let Some(who) = who {
            params
                .subject_alt_names
                .push(SanType::URI(who.uri().try_into().map_err(err)?));
        }
        params.distinguished_name.push(DnType::CommonName, stem);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if client_auth {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        params.use_authority_key_identifier_extension = true;
        validity(&mut params);
        let key = KeyPair::generate().map_err(err)?;
        let cert = params.signed_by(&key, &issuer).map_err(err)?;
        let dir = self.dir.join(region.as_str()).join("extra");
        let (cert_path, key_path) = (
            dir.join(format!("{stem}.crt")),
            dir.join(format!("{stem}.key")),
        );
        write(&cert_path, &cert.pem())?;
        write_key(&key_path, &key.serialize_pem())?;
        Ok((cert_path, key_path))
    }

    /// Rewrites the revocation list of `region`'s `ca` so that it revokes the certificates
    /// in the PEM files `certificates` (and nothing else); returns the list's path.
    pub fn revoke(
        &self,
        region: &RegionId,
        ca: DevCa,
        certificates: &[&Path],
    ) -> Result<PathBuf, PkiError> {
        let mut serials = Vec::new();
        for path in certificates {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| PkiError(format!("{}: {e}", path.display())))?;
            for der in crate::tls::parse_certs(&pem).map_err(err)? {
                let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).map_err(err)?;
                serials.push(cert.raw_serial().to_vec());
            }
        }
        let path = self.crl(region, ca);
        write(&path, &crl_pem(&self.issuer(region, ca)?, &serials)?)?;
        Ok(path)
    }
}
