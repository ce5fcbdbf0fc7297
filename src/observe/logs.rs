//! The log subscriber: text for people or JSON for a log pipeline, to standard error,
//! filtered by `RUST_LOG` (default: this crate's `info`, as the command sets it). Every
//! line inside a message's journey carries its span (see [`super::journey`]): in JSON, the
//! event's own fields at the top level and the message's under `span`. Records of the
//! `log` crate (rustls, reqwest) come through too.

use crate::config::LogFormat;

/// Installs the subscriber for the process (once; later calls change nothing).
pub fn init(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
