//! Black-box tests: real gateways on loopback port 0, real TLS with client
//! certificates, real SQLite, real HTTP. One test binary (see Cargo.toml).
#![allow(clippy::unwrap_used)]

mod addressees;
mod admin_access;
mod agreement_load;
mod agreements;
mod api_examples;
mod attachment_bounds;
mod attachments;
mod bundle;
mod certificate_revocation;
mod check_config;
mod connections;
mod court_api;
mod deadlines;
mod demo;
mod dry_run;
mod durability;
mod engines;
mod evidence;
mod exactly_once;
mod fallback;
mod federation_checks;
mod filing;
mod freeze_queue;
mod fuzz_smoke;
mod health;
mod identity;
mod journeys;
mod kill_harness;
mod lifecycles;
mod linger;
mod log_privacy;
mod openapi;
mod policy;
mod priority;
mod python_client;
mod relay_peers;
mod request_paging;
mod schemas_cli;
mod schemathesis;
mod serve_checks;
mod store;
mod strict_input;
mod support;
mod work_queue;
