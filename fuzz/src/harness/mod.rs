//! The fuzz targets, each a `run(&[u8])` that must never panic, and what they share.
//!
//! | target | what it drives |
//! |---|---|
//! | [`envelope`] | `pipeline::parse`, RFC 8785 canonical form, `pipeline::verify` |
//! | [`agreement`] | `Agreement::from_json`, `agreement::admit` / `activate`, use of the result |
//! | [`court_body`] | a court's submission through `pipeline::check_terms` and on |
//! | [`calendar`] | `Calendar::due` / `before`, the agreement's deadlines |
//!
//! This folder is also compiled into the main test binary (`tests/it/fuzz_smoke.rs`),
//! so it uses only `kuayu`, `serde_json` and `time`.

pub mod agreement;
pub mod calendar;
pub mod court_body;
pub mod envelope;
pub mod input;
pub mod json;
pub mod world;
