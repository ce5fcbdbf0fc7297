//! Keys and Ed25519 signatures, over RFC 8785 (JCS) canonical JSON ([`crate::canonical`]).
//!
//! Everything kuayu signs (envelopes, agreements, receipts) is signed over the
//! JCS form of a JSON value, so two parties that hold the same JSON compute the
//! same bytes whatever their serialiser's key order or number formatting. What is
//! verified is the JSON as received ([`crate::received`]); docs/SIGNATURES.md says
//! byte for byte what each signature and digest covers.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::Signer;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use serde::{Deserialize, Serialize};

pub use crate::canonical::{
    canonical, canonical_digest, canonical_len, canonical_len_bound, canonical_value,
};

/// A key or signature that could not be read, or a signature that does not verify.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The key text is not what it should be.
    #[error("not a valid Ed25519 {what}: {why}")]
    Malformed { what: &'static str, why: String },
    /// The signature does not match the data and key.
    #[error("the signature does not verify")]
    BadSignature,
}

/// An Ed25519 private key (message signing key of a gateway, or a party's root key).
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        // Invariant: the OS random source is available on every platform we run on;
        // without it no key can be made safely, so stopping is right.
        getrandom::fill(&mut seed).expect("the operating system's random source failed");
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Reads a PKCS#8 PEM private key (`openssl genpkey -algorithm ed25519` writes these).
    pub fn from_pem(pem: &str) -> Result<Self, CryptoError> {
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map(SigningKey)
            .map_err(|e| CryptoError::Malformed {
                what: "private key (PKCS#8 PEM)",
                why: e.to_string(),
            })
    }

    /// The key as PKCS#8 v1 PEM (RFC 8410: the private key alone, as `openssl genpkey`
    /// writes it). v2 documents, which carry the public key too, are read but not written:
    /// OpenSSL 3 and Python's `cryptography` refuse them.
    pub fn to_pem(&self) -> String {
        let v1 = ed25519_dalek::pkcs8::KeypairBytes {
            secret_key: self.0.to_bytes(),
            public_key: None,
        };
        // Invariant: encoding 32 key bytes as PKCS#8 cannot fail.
        v1.to_pkcs8_pem(Default::default())
            .map(|pem| pem.to_string())
            .expect("encoding an Ed25519 key as PKCS#8 cannot fail")
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }

    /// Signs the canonical form of `value`.
    pub fn sign_canonical<T: Serialize>(&self, value: &T) -> Result<Signature, serde_json::Error> {
        Ok(self.sign(&canonical(value)?))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(public {})", self.public())
    }
}

/// An Ed25519 public key, written as the base64 of its 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// Parses the base64 of a 32-byte Ed25519 public key.
    pub fn parse(s: &str) -> Result<Self, CryptoError> {
        let malformed = |why: String| CryptoError::Malformed {
            what: "public key (base64 of 32 bytes)",
            why,
        };
        let bytes = B64.decode(s.trim()).map_err(|e| malformed(e.to_string()))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| malformed(format!("{} bytes, not 32", b.len())))?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|e| malformed(e.to_string()))
    }

    /// Verifies `signature` over `message` (strict: rejects malleable and weak-key signatures).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), CryptoError> {
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        self.0
            .verify_strict(message, &sig)
            .map_err(|_| CryptoError::BadSignature)
    }

    /// Verifies `signature` over the canonical form of `value`.
    pub fn verify_canonical<T: Serialize>(
        &self,
        value: &T,
        signature: &Signature,
    ) -> Result<(), CryptoError> {
        let bytes = canonical(value).map_err(|_| CryptoError::BadSignature)?;
        self.verify(&bytes, signature)
    }
}

crate::ids::schema::text_schema!(
    PublicKey,
    crate::ids::schema::text(
        "An Ed25519 public key: standard base64 (with padding) of its 32 bytes.",
        Some("^[A-Za-z0-9+/]{43}=$"),
        "yPCbF83rONAzsp/uYUubQH/mPTguKIF7mkJSlza4Gvs="
    )
);

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&B64.encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl TryFrom<String> for PublicKey {
    type Error = CryptoError;
    fn try_from(s: String) -> Result<Self, CryptoError> {
        Self::parse(&s)
    }
}

impl From<PublicKey> for String {
    fn from(k: PublicKey) -> String {
        k.to_string()
    }
}

/// An Ed25519 signature, written as the base64 of its 64 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Signature([u8; 64]);

impl Signature {
    /// Parses the base64 of a 64-byte signature.
    pub fn parse(s: &str) -> Result<Self, CryptoError> {
        let malformed = |why: String| CryptoError::Malformed {
            what: "signature (base64 of 64 bytes)",
            why,
        };
        let bytes = B64.decode(s.trim()).map_err(|e| malformed(e.to_string()))?;
        let bytes: [u8; 64] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| malformed(format!("{} bytes, not 64", b.len())))?;
        Ok(Signature(bytes))
    }

    /// The signature with these 64 bytes (`None` for any other length).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Signature)
    }

    /// The signature's 64 bytes.
    pub fn to_bytes(self) -> [u8; 64] {
        self.0
    }
}

crate::ids::schema::text_schema!(
    Signature,
    crate::ids::schema::text(
        "An Ed25519 signature: standard base64 (with padding) of its 64 bytes, over the RFC 8785 canonical bytes of the signed JSON (docs/SIGNATURES.md).",
        Some("^[A-Za-z0-9+/]{86}==$"),
        "ZCBFBrrWBImkLDFnto8/5AQZZsXtdXL0ol0WvYwHWfKokZ30mcLSYoGNYNQOMT6cZ6tG7raBdZcCEBnV/4TJDQ=="
    )
);

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&B64.encode(self.0))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

impl TryFrom<String> for Signature {
    type Error = CryptoError;
    fn try_from(s: String) -> Result<Self, CryptoError> {
        Self::parse(&s)
    }
}

impl From<Signature> for String {
    fn from(s: Signature) -> String {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// RFC 8410 section 7: an Ed25519 private key as OpenSSL writes it is a 48-byte
    /// PKCS#8 v1 document (version 0, no public key), and reads back as the same key.
    #[test]
    fn keys_are_written_as_pkcs8_v1_and_read_back() {
        let key = SigningKey::generate();
        let pem = key.to_pem();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = B64.decode(body).unwrap();
        assert_eq!(der.len(), 48, "{pem}");
        assert_eq!(
            &der[..5],
            &[0x30, 0x2e, 0x02, 0x01, 0x00],
            "SEQUENCE, version 0 (v1)"
        );
        assert_eq!(SigningKey::from_pem(&pem).unwrap().public(), key.public());
    }

    #[test]
    fn signatures_verify_and_detect_any_change() {
        let key = SigningKey::generate();
        let doc = json!({"b": 1, "a": "川0104"});
        let sig = key.sign_canonical(&doc).unwrap();
        key.public()
            .verify_canonical(&json!({"a": "川0104", "b": 1}), &sig)
            .unwrap();
        assert!(
            key.public()
                .verify_canonical(&json!({"a": "川0105", "b": 1}), &sig)
                .is_err()
        );
        assert!(
            SigningKey::generate()
                .public()
                .verify_canonical(&doc, &sig)
                .is_err()
        );
    }

    #[test]
    fn keys_round_trip_through_pem_and_base64() {
        let key = SigningKey::generate();
        let pem = key.to_pem();
        let der = B64
            .decode(
                pem.lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect::<String>(),
            )
            .unwrap();
        assert_eq!(der.len(), 48, "PKCS#8 version 1, as OpenSSL writes it");
        assert_eq!(
            der[..16],
            hex::decode("302e020100300506032b657004220420").unwrap()
        );
        let again = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(key.public(), again.public());
        assert_eq!(
            PublicKey::parse(&key.public().to_string()).unwrap(),
            key.public()
        );
        assert!(PublicKey::parse("AAAA").is_err());
        assert!(
            SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
    }
}
