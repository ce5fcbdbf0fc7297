//! Cooperation agreements: the signed document that fixes what two regions may exchange.
//!
//! An agreement file is `{"terms": {...}, "signatures": [...]}`. Every party signs
//! the RFC 8785 canonical form of `terms`; the SHA-256 of that form is the
//! agreement hash every envelope carries. See `agreements/README.md` for the
//! format field by field.
//!
//! - [`model`]: the terms as types.
//! - [`verify`]: signature and validity checks, and activation.
//! - [`registry`]: the set of active agreements a gateway routes by.

pub mod admin;
pub mod model;
pub mod registry;
pub mod verify;

pub use model::{Agreement, KindRule, Limits, Party, Period, SchemaPin, Terms};
pub use registry::{ActiveAgreement, AgreementRegistry, ResolveError};
pub use verify::{AgreementError, PartyRoots, activate, sign};
