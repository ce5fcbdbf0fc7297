//! What an agreement says about schemas: the files it pins by hash, and which versions
//! of which schema each message kind must satisfy, with migration windows.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::envelope::SchemaRef;
use crate::ids::Sha256;

/// A schema the agreement pins.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaPin {
    /// Schema id.
    pub id: String,
    /// Schema version.
    pub version: u32,
    /// SHA-256 of the exact bytes of `schemas/<id>/v<version>/schema.json`.
    pub sha256: Sha256,
}

impl SchemaPin {
    /// The schema reference this pin is for.
    pub fn schema_ref(&self) -> SchemaRef {
        SchemaRef {
            id: self.id.clone(),
            version: self.version,
        }
    }
}

/// The schema a message kind must satisfy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindRule {
    /// Schema id.
    pub schema: String,
    /// The versions accepted, each from and until an optional time (a migration window);
    /// a message states its version and is checked against exactly that one.
    pub versions: Vec<VersionWindow>,
}

/// One accepted schema version, optionally only from or until a time. Written as a plain
/// number (`1`) when it has no window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "VersionSpec", into = "VersionSpec")]
pub struct VersionWindow {
    /// Schema version.
    pub version: u32,
    /// Accepted for messages created at or after this time.
    pub from: Option<OffsetDateTime>,
    /// Accepted for messages created before this time.
    pub until: Option<OffsetDateTime>,
}

impl VersionWindow {
    /// Whether a message created at `at` may use this version.
    pub fn admits(&self, at: OffsetDateTime) -> bool {
        self.from.is_none_or(|f| at >= f) && self.until.is_none_or(|u| at < u)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum VersionSpec {
    Plain(u32),
    Window {
        version: u32,
        #[serde(
            default,
            with = "crate::clock::ts::option",
            skip_serializing_if = "Option::is_none"
        )]
        from: Option<OffsetDateTime>,
        #[serde(
            default,
            with = "crate::clock::ts::option",
            skip_serializing_if = "Option::is_none"
        )]
        until: Option<OffsetDateTime>,
    },
}

impl From<VersionSpec> for VersionWindow {
    fn from(s: VersionSpec) -> Self {
        match s {
            VersionSpec::Plain(version) => VersionWindow {
                version,
                from: None,
                until: None,
            },
            VersionSpec::Window {
                version,
                from,
                until,
            } => VersionWindow {
                version,
                from,
                until,
            },
        }
    }
}

impl From<VersionWindow> for VersionSpec {
    fn from(w: VersionWindow) -> Self {
        match (w.from, w.until) {
            (None, None) => VersionSpec::Plain(w.version),
            (from, until) => VersionSpec::Window {
                version: w.version,
                from,
                until,
            },
        }
    }
}
