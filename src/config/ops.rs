//! What operators configure about watching a gateway: the log format and the plain-HTTP
//! health listener.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One line of text per event, for people.
    #[default]
    Text,
    /// One JSON object per line, for a log pipeline: the event's fields at the top level,
    /// the message's (request id, kind, courts, trace id, stage) under `span`.
    Json,
}

impl LogFormat {
    /// Whether it is the default, `text`.
    pub fn is_text(&self) -> bool {
        *self == LogFormat::Text
    }
}

/// A plain-HTTP listener (no TLS, no client certificate) for load balancers and
/// Prometheus, which often cannot present a certificate: `GET /healthz`, `GET /readyz`,
/// and `GET /metrics` if `metrics` is on. Bind it to an address only they reach. The
/// same routes are on the admin listener, with its authentication, whether or not this
/// one is configured.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// Address to listen on, e.g. `10.0.0.5:9100`.
    pub listen: SocketAddr,
    /// Also serve `GET /metrics` here (Prometheus text format). Off by default: metrics
    /// name the kinds of work and refusals this gateway sees (never a court, a person or
    /// a payload), which a network that reaches this listener then reads.
    #[serde(default)]
    pub metrics: bool,
}
