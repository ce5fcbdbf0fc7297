//! Figures of one timed run (throughputs, percentiles) and their medians over rounds.

use std::time::Duration;

/// What one run of one load measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct Figures {
    /// Answered submissions per second (kuayu: the 202; echo: the answer from B via A).
    pub submitted_rps: f64,
    /// Submission latency, 50th and 99th percentiles, in ms.
    pub submit_p50: f64,
    pub submit_p99: f64,
    /// Requests per second until the last one reached its destination.
    pub e2e_rps: f64,
    /// End-to-end latency, 50th and 99th percentiles, in ms.
    pub e2e_p50: f64,
    pub e2e_p99: f64,
    /// Process CPU time (user and system, every thread) per request, in ms: see
    /// [`cpu_seconds`].
    pub cpu_ms: f64,
}

impl Figures {
    /// Figures from the submission and end-to-end latencies of `n` requests, the first
    /// started at 0: `submitted` and `delivered` are when the last was answered and arrived.
    pub fn of(
        mut submit: Vec<Duration>,
        mut e2e: Vec<Duration>,
        submitted: Duration,
        delivered: Duration,
    ) -> Self {
        submit.sort();
        e2e.sort();
        Figures {
            submitted_rps: submit.len() as f64 / submitted.as_secs_f64(),
            submit_p50: ms(percentile(&submit, 0.50)),
            submit_p99: ms(percentile(&submit, 0.99)),
            e2e_rps: e2e.len() as f64 / delivered.as_secs_f64(),
            e2e_p50: ms(percentile(&e2e, 0.50)),
            e2e_p99: ms(percentile(&e2e, 0.99)),
            cpu_ms: 0.0,
        }
    }

    /// The median of each figure over `rounds` (each figure separately).
    pub fn median(rounds: &[Figures]) -> Figures {
        let m = |f: fn(&Figures) -> f64| median(rounds.iter().map(f).collect());
        Figures {
            submitted_rps: m(|r| r.submitted_rps),
            submit_p50: m(|r| r.submit_p50),
            submit_p99: m(|r| r.submit_p99),
            e2e_rps: m(|r| r.e2e_rps),
            e2e_p50: m(|r| r.e2e_p50),
            e2e_p99: m(|r| r.e2e_p99),
            cpu_ms: m(|r| r.cpu_ms),
        }
    }

    /// One line: `label  submitted … req/s p50 p99 | end to end … req/s p50 p99`.
    pub fn line(&self, label: &str) -> String {
        format!(
            "{label:<16} submitted {:>7.1} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms | end to end {:>7.1} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
            self.submitted_rps,
            self.submit_p50,
            self.submit_p99,
            self.e2e_rps,
            self.e2e_p50,
            self.e2e_p99
        )
    }
}

/// The `p` quantile (0–1) of sorted durations (nearest rank).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median of `values` (the lower middle one of an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[(values.len() - 1) / 2]
}

/// Peak resident set size of this process (VmHWM), in MB.
pub fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time this process has used so far (user and system, all its threads), in seconds,
/// from `/proc/self/stat` (its `utime` and `stime`, in ticks of 1/100 s as Linux reports
/// them to user space whatever the kernel's own tick).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces), from field 3 (`state`).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
