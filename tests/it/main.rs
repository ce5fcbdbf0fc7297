//! Black-box tests: real gateways on loopback port 0, real TLS with client
//! certificates, real SQLite, real HTTP. One test binary (see Cargo.toml).

mod agreement_load;
mod court_api;
mod durability;
mod federation_checks;
mod journeys;
mod schemas_cli;
mod support;
