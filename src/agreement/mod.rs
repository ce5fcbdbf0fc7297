//! Cooperation agreements: the signed document that fixes what two regions may exchange.
//!
//! An agreement file is `{"terms": {...}, "signatures": [...]}`. Every party signs
//! the RFC 8785 canonical form of `terms` as the file has them (kept as received, see
//! [`crate::received`]); the SHA-256 of that form is the
//! agreement hash every envelope carries. See `agreements/README.md` for the
//! format field by field.
//!
//! - [`model`]: the terms as types.
//! - [`verify`]: signature and validity checks, and activation.
//! - [`registry`]: the set of active agreements a gateway routes by.

mod active;
pub mod admin;
pub mod model;
pub mod registry;
mod schemas;
pub mod verify;

pub use model::{
    Agreement, CourtInfo, CourtLevel, KindRule, Limits, Party, Period, PolicyDoc, Rate, Retention,
    SchemaPin, Terms, TermsFields, VersionWindow,
};
pub use registry::{
    ActiveAgreement, AgreementRegistry, Loaded, Named, ResolveError, Revocation, Status,
};
pub use verify::{AgreementError, PartyRoots, activate, admit, check_not_expired, sign};
