//! kuayu (跨域, "across regions"): a federation gateway between provincial court networks.
//!
//! Each region runs one gateway. Courts talk to their own region's gateway over
//! HTTPS with client certificates; gateways talk to each other over mutual TLS under a
//! cooperation agreement that every party signed. Every message, outbound or inbound,
//! passes the same [`pipeline`] stages, and nothing is acknowledged before it is
//! committed to the [`store`].
//!
//! # Map
//!
//! | concept | module |
//! |---|---|
//! | identifiers that parse | [`ids`] |
//! | strict JSON: duplicate keys refused | [`json`] |
//! | Ed25519 over RFC 8785 canonical JSON; signed documents kept as received | [`canonical`], [`crypto`], [`received`] |
//! | the envelope, its seal and verification | [`envelope`] |
//! | signed agreements, their checks, the active registry | [`agreement`] |
//! | JSON Schemas pinned by hash, fixture checks | [`schema`] |
//! | the pipeline stages shared by both directions | [`pipeline`] |
//! | a court submits (outbound) / a peer relays (inbound) | [`outbound`], [`inbound`] |
//! | request states, lifecycles, several addressees, legal deadlines, the freeze queue | [`workflow`], [`calendar`], [`watcher`] |
//! | electronic first, postal fallback; the certificate of service | [`postal`], [`certificate`] |
//! | preservation first at court submission | [`admission`] |
//! | storage interface and the SQLite engine | [`store`] |
//! | outbox relay: priority order, a breaker per peer | [`relay`] |
//! | attachments: blobs by SHA-256, streamed and verified | [`attachments`] |
//! | signed receipts (retrieval receipts carried back to the sender), hash-chained audit; proof bundles exported and verified offline | [`receipt`], [`evidence`], [`audit`], [`bundle`] |
//! | TLS configs and identities from certificates | [`tls`] |
//! | HTTP: court API, federation API, problem+json, the OpenAPI documents | [`http`], [`problem`], [`api`] |
//! | configuration, the gateway core, start/stop | [`config`], [`gateway`], [`server`] |
//! | metrics, structured logs, what health rests on | [`observe`] |
//! | the supervision dashboard: HTML pages on the admin listener | [`dashboard`] |
//! | time as a dependency | [`clock`] |
#![forbid(unsafe_code)]

pub mod admin;
pub mod admission;
pub mod agreement;
pub mod api;
pub mod attachments;
pub mod audit;
pub mod bundle;
pub mod calendar;
pub mod canonical;
pub mod certificate;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod conformance;
pub mod crypto;
pub mod dashboard;
pub mod demo;
pub mod devnet;
pub mod envelope;
pub mod evidence;
pub mod gateway;
pub mod http;
pub mod ids;
pub mod inbound;
pub mod json;
pub mod keyfile;
pub mod observe;
pub mod ops;
pub mod outbound;
pub mod peers;
pub mod pipeline;
pub mod pki;
pub mod policy;
pub mod postal;
pub mod problem;
pub mod ratelimit;
pub mod receipt;
pub mod received;
pub mod recent;
pub mod relay;
pub mod schema;
pub mod server;
pub mod store;
pub mod tls;
pub mod watcher;
pub mod workflow;
