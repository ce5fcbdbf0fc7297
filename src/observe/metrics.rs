//! The gateway's metrics, in the Prometheus text format: a recorder of the `metrics` crate
//! per gateway (not the process-wide one, so that two gateways in one process, as in the
//! tests and the demo, each count their own), rendered by `GET /metrics`. The names are
//! listed in [`super`] and in the README.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use metrics::{
    Counter, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Latency buckets, in seconds: 1 ms to a minute.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// How a message through the pipeline came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Committed (for an inbound message: the first copy).
    Accepted,
    /// A copy of an inbound message held already, answered with its first receipt (the
    /// peer's relay sent it again, e.g. after its attempt timed out): nothing new stored.
    Duplicate,
    /// Refused with a problem `code` at pipeline `stage`.
    Refused(&'static str, &'static str),
}

impl Outcome {
    /// `accepted`, `duplicate` or `refused`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Duplicate => "duplicate",
            Outcome::Refused(..) => "refused",
        }
    }
}

/// One gateway's metrics.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// Each stage's histogram, by direction and stage.
    stages: Handles<(&'static str, &'static str), Histogram>,
    /// Each direction's commit histogram.
    commits: Handles<&'static str, Histogram>,
    /// Each route's request counter and duration histogram, by listener, method, route
    /// and status.
    routes: Handles<(&'static str, String, String, u16), (Counter, Histogram)>,
}

/// Handles of metrics by their labels, registered once: the recorder's own lookup (labels
/// made into a key, hashed, found in its registry) costs more than the recording, and the
/// pipeline records several times a message.
struct Handles<K, H>(Mutex<HashMap<K, H>>);

impl<K: Hash + Eq, H: Clone> Handles<K, H> {
    fn new() -> Self {
        Handles(Mutex::default())
    }

    /// The handle for `key`, registered by `register` the first time.
    fn get(&self, key: K, register: impl FnOnce(&K) -> H) -> H {
        let mut handles = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        handles.entry(key).or_insert_with_key(register).clone()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set, every metric described.
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            // Invariant: BUCKETS is not empty.
            .expect("latency buckets are set")
            .build_recorder();
        let handle = recorder.handle();
        let metrics = Metrics {
            recorder,
            handle,
            stages: Handles::new(),
            commits: Handles::new(),
            routes: Handles::new(),
        };
        metrics.with(describe);
        metrics
    }

    fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder, f)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Folds recorded samples into the histograms; run it now and then (the server does,
    /// every few seconds), so that samples do not pile up between scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// An HTTP request answered on `listener`, at `route` (the route's template, never
    /// the path with its ids), with `status`, in `took`; `code` if it was a problem.
    pub fn http(
        &self,
        listener: &'static str,
        method: &str,
        route: &str,
        status: u16,
        code: Option<&'static str>,
        took: Duration,
    ) {
        let key = (listener, method.to_owned(), route.to_owned(), status);
        let (requests, duration) = self.routes.get(key, |(listener, method, route, status)| {
            self.with(|| {
                (
                    counter!("kuayu_http_requests_total", "listener" => *listener, "method" => method.clone(), "route" => route.clone(), "status" => status.to_string()),
                    histogram!("kuayu_http_request_duration_seconds", "listener" => *listener, "method" => method.clone(), "route" => route.clone()),
                )
            })
        });
        requests.increment(1);
        duration.record(took.as_secs_f64());
        if let Some(code) = code {
            let (method, route) = (method.to_owned(), route.to_owned());
            self.with(|| {
                counter!("kuayu_refusals_total", "listener" => listener, "method" => method, "route" => route, "code" => code).increment(1);
            });
        }
    }

    /// A message through the pipeline (`direction` outbound from a court, inbound from a
    /// peer), and how it came out; `took` from its arrival to its answer.
    pub fn message(&self, direction: &'static str, kind: &str, outcome: Outcome, took: Duration) {
        let kind = kind.to_owned();
        let refused = match outcome {
            Outcome::Refused(code, stage) => Some((code, stage)),
            Outcome::Accepted | Outcome::Duplicate => None,
        };
        let outcome = outcome.as_str();
        self.with(|| {
            counter!("kuayu_messages_total", "direction" => direction, "kind" => kind.clone(), "outcome" => outcome).increment(1);
            histogram!("kuayu_message_duration_seconds", "direction" => direction, "kind" => kind.clone(), "outcome" => outcome).record(took.as_secs_f64());
            if let Some((code, stage)) = refused {
                counter!("kuayu_message_refusals_total", "direction" => direction, "kind" => kind, "code" => code, "stage" => stage).increment(1);
            }
        });
    }

    /// One pipeline stage of a message took `took`.
    pub fn stage(&self, direction: &'static str, stage: &'static str, took: Duration) {
        self.stages
            .get((direction, stage), |&(direction, stage)| {
                self.with(|| {
                    histogram!("kuayu_stage_duration_seconds", "direction" => direction, "stage" => stage)
                })
            })
            .record(took.as_secs_f64());
    }

    /// A TLS handshake on `listener` failed for `reason`.
    pub fn handshake_failed(&self, listener: &'static str, reason: &'static str) {
        self.with(|| {
            counter!("kuayu_tls_handshake_failures_total", "listener" => listener, "reason" => reason)
                .increment(1);
        });
    }

    /// A connection on `listener` opened (`+1`) or closed (`-1`).
    pub fn connections(&self, listener: &'static str, change: f64) {
        self.with(|| gauge!("kuayu_connections_open", "listener" => listener).increment(change));
    }

    /// A connection on `listener` was turned away (`busy`: every connection its client may
    /// have is in use).
    pub fn connection_refused(&self, listener: &'static str, reason: &'static str) {
        self.with(|| {
            counter!("kuayu_connections_refused_total", "listener" => listener, "reason" => reason)
                .increment(1);
        });
    }

    /// A commit of a message (`direction` outbound: a court's; inbound: a peer's) took
    /// `took`, from its transaction's start to its end.
    pub fn commit(&self, direction: &'static str, took: Duration) {
        self.commits
            .get(direction, |&direction| {
                self.with(|| histogram!("kuayu_commit_duration_seconds", "direction" => direction))
            })
            .record(took.as_secs_f64());
    }

    /// One relay attempt to `peer` ended with `outcome` (`delivered`, `unreachable`,
    /// `deferred`, `rejected`, `expired`, `unsendable`); `retry` if the message had been
    /// tried before.
    pub fn delivery(&self, peer: &str, outcome: &'static str, retry: bool) {
        let peer = peer.to_owned();
        self.with(|| {
            counter!("kuayu_relay_deliveries_total", "peer" => peer.clone(), "outcome" => outcome)
                .increment(1);
            if retry {
                counter!("kuayu_relay_retries_total", "peer" => peer).increment(1);
            }
        });
    }

    /// The relay read its outbox for due messages (see `relay::wake`: not at every wake,
    /// and not for a new request's message it was handed and could start, see
    /// `relay::handed`).
    pub fn outbox_read(&self) {
        self.with(|| counter!("kuayu_relay_outbox_reads_total").increment(1));
    }

    /// The store's group commits so far and the units in them (read at scrape time).
    pub fn group_commits(&self, groups: u64, units: u64) {
        self.with(|| {
            counter!("kuayu_store_group_commits_total").absolute(groups);
            counter!("kuayu_store_group_commit_units_total").absolute(units);
        });
    }

    /// Sets gauge `name` with `labels` to `value` (the gauges read at scrape time: see
    /// [`super::gauges`]).
    pub fn set(&self, name: &'static str, labels: &[(&'static str, String)], value: f64) {
        let labels: Vec<metrics::Label> = labels
            .iter()
            .map(|(k, v)| metrics::Label::new(*k, v.clone()))
            .collect();
        self.with(|| gauge!(name, labels).set(value));
    }

    /// This build and region, as a constant 1 with labels.
    pub fn build_info(&self, region: &str) {
        let region = region.to_owned();
        self.with(|| {
            gauge!("kuayu_build_info", "version" => env!("CARGO_PKG_VERSION"), "region" => region)
                .set(1.0);
        });
    }
}

fn describe() {
    describe_counter!(
        "kuayu_http_requests_total",
        "HTTP requests answered, by listener, method, route template and status."
    );
    describe_histogram!(
        "kuayu_http_request_duration_seconds",
        Unit::Seconds,
        "Time from a request's headers to its answer's headers, by listener, method and route template."
    );
    describe_counter!(
        "kuayu_refusals_total",
        "Problem answers (RFC 9457), by listener, method, route template and problem code."
    );
    describe_counter!(
        "kuayu_messages_total",
        "Messages through the pipeline, by direction (outbound: a court's; inbound: a peer's), kind and outcome (accepted, duplicate: a peer's copy of a message held already, refused)."
    );
    describe_histogram!(
        "kuayu_message_duration_seconds",
        Unit::Seconds,
        "Time from a message's arrival to its answer (for an accepted one: committed), by direction, kind and outcome."
    );
    describe_counter!(
        "kuayu_message_refusals_total",
        "Refused messages, by direction, kind, problem code and the pipeline stage that refused them."
    );
    describe_histogram!(
        "kuayu_stage_duration_seconds",
        Unit::Seconds,
        "Time spent in each pipeline stage, by direction and stage."
    );
    describe_counter!(
        "kuayu_tls_handshake_failures_total",
        "TLS handshakes that failed, by listener and reason."
    );
    describe_gauge!(
        "kuayu_connections_open",
        "Connections open (past the TLS handshake), by listener."
    );
    describe_counter!(
        "kuayu_connections_refused_total",
        "Connections turned away after the handshake, by listener and reason."
    );
    describe_histogram!(
        "kuayu_commit_duration_seconds",
        Unit::Seconds,
        "Time a message's commit took (one transaction: message, request, history, audit, receipt, outbox or inbox), by direction."
    );
    describe_counter!(
        "kuayu_store_group_commits_total",
        "Transactions the store's committer made, each with one fsync (read at scrape time)."
    );
    describe_counter!(
        "kuayu_store_group_commit_units_total",
        "Commits of the pipeline in those transactions (a message, a delivery, a page of retrievals, receipts carried back, ...): over kuayu_store_group_commits_total, how many shared each."
    );
    describe_counter!(
        "kuayu_relay_deliveries_total",
        "Relay attempts, by peer and outcome (delivered; unreachable: the peer is backed off; deferred: this message waits; rejected, expired, unsendable: given up)."
    );
    describe_counter!(
        "kuayu_relay_retries_total",
        "Relay attempts of a message tried before, by peer."
    );
    describe_gauge!(
        "kuayu_outbox_backlog",
        "Messages waiting to be relayed, by peer (read at scrape time)."
    );
    describe_gauge!(
        "kuayu_outbox_oldest_age_seconds",
        "Age of the oldest message waiting for each peer, 0 when none waits (read at scrape time)."
    );
    describe_gauge!(
        "kuayu_breaker_state",
        "Each peer's circuit breaker as the relay sees it: 0 closed, 1 probing, 2 open (read at scrape time)."
    );
    describe_gauge!(
        "kuayu_requests_open",
        "Requests not in a final state, by kind and state (read at scrape time)."
    );
    describe_gauge!(
        "kuayu_requests_overdue",
        "Open requests with a legal deadline passed unmet, by kind (read at scrape time)."
    );
    describe_gauge!(
        "kuayu_build_info",
        "1, labelled with the build's version and the region served."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The count line of `name` in `text`, if any.
    fn count(text: &str, name: &str) -> Option<String> {
        text.lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.rsplit(' ').next().unwrap_or_default().to_owned())
    }

    #[test]
    fn kept_handles_record_into_the_rendered_metrics_each_time() {
        let metrics = Metrics::new();
        for _ in 0..3 {
            metrics.stage("outbound", "commit", Duration::from_millis(2));
            metrics.commit("inbound", Duration::from_millis(1));
            metrics.http("court", "POST", "/v1/requests", 202, None, Duration::ZERO);
        }
        metrics.http(
            "court",
            "POST",
            "/v1/requests",
            400,
            Some("bad-request"),
            Duration::ZERO,
        );
        let text = metrics.render();
        let stage = r#"kuayu_stage_duration_seconds_count{direction="outbound",stage="commit"}"#;
        assert_eq!(count(&text, stage).as_deref(), Some("3"), "{text}");
        let commit = r#"kuayu_commit_duration_seconds_count{direction="inbound"}"#;
        assert_eq!(count(&text, commit).as_deref(), Some("3"), "{text}");
        let ok = r#"kuayu_http_requests_total{listener="court",method="POST",route="/v1/requests",status="202"}"#;
        assert_eq!(count(&text, ok).as_deref(), Some("3"), "{text}");
        let bad = r#"kuayu_http_requests_total{listener="court",method="POST",route="/v1/requests",status="400"}"#;
        assert_eq!(count(&text, bad).as_deref(), Some("1"), "{text}");
        let duration = r#"kuayu_http_request_duration_seconds_count{listener="court",method="POST",route="/v1/requests"}"#;
        assert_eq!(count(&text, duration).as_deref(), Some("4"), "{text}");
        let refused = r#"kuayu_refusals_total{listener="court",method="POST",route="/v1/requests",code="bad-request"}"#;
        assert_eq!(count(&text, refused).as_deref(), Some("1"), "{text}");
    }
}
