//! Identifiers that parse: once a value has one of these types, it is valid everywhere.
//!
//! Each type has a `parse` constructor, `Display`, and serde support that goes
//! through `parse`, so a malformed id in JSON is a deserialisation error with a
//! message that says what the id should look like.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod family;
mod message_id;
pub(crate) mod schema;
mod sha256;

pub use family::Family;
pub use message_id::MessageId;
use schema::text_schema;
pub use sha256::Sha256;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?} is not valid: {rule}")]
pub struct IdError {
    what: &'static str,
    value: String,
    rule: &'static str,
}

impl IdError {
    fn new(what: &'static str, value: &str, rule: &'static str) -> Self {
        // At most 80 bytes of the offending text, cut on a character boundary.
        let mut end = value.len().min(80);
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        IdError {
            what,
            value: value[..end].to_owned(),
            rule,
        }
    }
}

/// Defines a string newtype whose only constructor is `parse`.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $rule:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses the identifier, or says what a valid one looks like.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let check: fn(&str) -> bool = $check;
                if check(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(IdError::new($what, s, $rule))
                }
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

string_id!(
    /// A region (province-level court network), e.g. `SC` (Sichuan) or `CQ` (Chongqing).
    RegionId,
    "region",
    "two upper-case ASCII letters, e.g. SC",
    |s| s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())
);

string_id!(
    /// A court, in the machine-safe form of its case-number abbreviation: the region
    /// code followed by 2 to 6 digits. `SC0104` is 川0104 (Jinjiang District), `CQ01` is
    /// 渝01 (Chongqing No.1 Intermediate).
    CourtId,
    "court",
    "a region code and 2 to 6 digits, e.g. SC0104",
    |s| {
        let b = s.as_bytes();
        (4..=8).contains(&b.len())
            && b[..2].iter().all(u8::is_ascii_uppercase)
            && b[2..].iter().all(u8::is_ascii_digit)
    }
);

string_id!(
    /// A cooperation agreement, e.g. `SC-CQ-2026`.
    AgreementId,
    "agreement id",
    "1 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit",
    |s| {
        !s.is_empty()
            && s.len() <= 64
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    }
);

string_id!(
    /// A message kind: a family (`service`, `printing`, `evidence`, `preservation`, `filing`)
    /// and a document type, e.g. `service.request`, `service.result`, `printing.event`.
    MessageKind,
    "message kind",
    "family.document in lower case, e.g. service.request",
    |s| {
        s.split_once('.').is_some_and(|(family, doc)| {
            Family::parse(family).is_some()
                && !doc.is_empty()
                && doc.len() <= 32
                && doc.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        })
    }
);

string_id!(
    /// A print-and-mail centre (打印中心) of a region, e.g. `CQ01-PC1`: the code of the
    /// court it belongs to and a suffix.
    PrintCentreId,
    "print centre",
    "a court code, a hyphen and 1 to 8 of A-Z 0-9, e.g. CQ01-PC1",
    |s| {
        s.split_once('-').is_some_and(|(court, suffix)| {
            CourtId::parse(court).is_ok()
                && (1..=8).contains(&suffix.len())
                && suffix.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
    }
);

impl PrintCentreId {
    /// The region the centre belongs to (the first two letters).
    pub fn region(&self) -> RegionId {
        RegionId(self.0[..2].to_owned())
    }
}

impl CourtId {
    /// The region the court belongs to (the first two letters).
    pub fn region(&self) -> RegionId {
        RegionId(self.0[..2].to_owned())
    }
}

text_schema!(
    RegionId,
    schema::text(
        "A region code: two upper-case letters (SC Sichuan, CQ Chongqing).",
        Some("^[A-Z]{2}$"),
        "SC"
    )
);
text_schema!(
    CourtId,
    schema::text(
        "A court, in the machine-safe form of its case-number abbreviation: the region code and 2 to 6 digits (SC0104 is 川0104, CQ01 is 渝01).",
        Some("^[A-Z]{2}[0-9]{2,6}$"),
        "SC0104"
    )
);
text_schema!(
    AgreementId,
    schema::text(
        "A cooperation agreement's id.",
        Some("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"),
        "SC-CQ-2026"
    )
);
text_schema!(
    MessageKind,
    schema::text(
        "A message kind: family.document, e.g. service.request, service.attempt, service.result, service.status, printing.request, printing.event, evidence.request, evidence.result, preservation.request, preservation.result, filing.request, filing.result, filing.correction.",
        Some("^(service|printing|evidence|preservation|filing)\\.[a-z_]{1,32}$"),
        "service.request"
    )
);
text_schema!(
    PrintCentreId,
    schema::text(
        "A print-and-mail centre: the code of the court it belongs to, a hyphen and 1 to 8 of A-Z 0-9.",
        Some("^[A-Z]{2}[0-9]{2,6}-[A-Z0-9]{1,8}$"),
        "CQ01-PC1"
    )
);
text_schema!(
    MessageId,
    schema::formatted(
        "A message id: a hyphenated UUID (kuayu makes version 7).",
        "uuid",
        "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        "01a1c3f0-5c3e-7d41-9a0b-3f6e2c8d1a47"
    )
);
text_schema!(
    Sha256,
    schema::text(
        "A SHA-256 digest: 64 lower-case hex digits.",
        Some("^[0-9a-f]{64}$"),
        "5e4d405336a7b5d9e2043090c8d5842f0fa59564b6aed9004962c9ba5bd9ec5c"
    )
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn court_ids_parse_and_know_their_region() {
        let c = CourtId::parse("SC0104").unwrap();
        assert_eq!(c.region().as_str(), "SC");
        for bad in [
            "sc0104",
            "SC",
            "SC1",
            "SC0104567",
            "S0104",
            "SC01a4",
            "川0104",
        ] {
            assert!(CourtId::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn a_long_bad_id_of_wide_characters_is_refused_not_a_panic() {
        // Found by fuzzing: the error quoted the first 80 bytes, cutting a character.
        let bad = "川".repeat(40);
        let err = CourtId::parse(&bad).unwrap_err().to_string();
        assert!(err.contains(&"川".repeat(26)), "{err}");
        assert!(!err.contains(&"川".repeat(27)), "{err}");
    }

    #[test]
    fn message_kinds_name_a_known_family() {
        let k = MessageKind::parse("preservation.result").unwrap();
        assert_eq!(k.family(), Family::Preservation);
        assert!(!k.is_request());
        assert!(MessageKind::parse("service.request").unwrap().is_request());
        for bad in [
            "service",
            "divorce.request",
            "service.",
            "Service.request",
            "service.re-quest",
        ] {
            assert!(MessageKind::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn sha256_round_trips_and_rejects_upper_case() {
        let d = Sha256::digest(b"abc");
        assert_eq!(
            d.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Sha256::parse(&d.to_string()).unwrap(), d);
        assert!(Sha256::parse(&d.to_string().to_uppercase()).is_err());
        assert!(Sha256::parse("abc").is_err());
    }

    #[test]
    fn ids_reject_bad_json() {
        let err = serde_json::from_str::<RegionId>("\"Sichuan\"").unwrap_err();
        assert!(
            err.to_string().contains("two upper-case ASCII letters"),
            "{err}"
        );
        assert!(serde_json::from_str::<MessageId>("\"not-a-uuid\"").is_err());
    }
}
