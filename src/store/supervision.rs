//! What the supervision dashboard (`crate::dashboard`) reads from the store. Each read is
//! bounded by an index (migration 0013 on SQLite, 0003 on PostgreSQL) or by a table kept
//! small on purpose (`request_volume`: one row per day, kind, side, court and partner
//! region, kept in the transaction that opens a request), so the dashboard stays fast with
//! millions of requests stored.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{PrintJob, RequestRecord, StoreError};
use crate::ids::MessageId;

/// Days are counted in China Standard Time (UTC+8), the time of every party's courts.
pub const DAY_OFFSET_MS: i64 = 8 * 3_600_000;
/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// The local day number (days since 1970-01-01, UTC+8) of `unix_ms`.
pub fn local_day(unix_ms: i64) -> i64 {
    (unix_ms + DAY_OFFSET_MS).div_euclid(DAY_MS)
}

/// Requests counted over three periods ending today.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Buckets {
    /// Today (local day).
    pub today: i64,
    /// The last 7 local days, today included.
    pub week: i64,
    /// Every day read (from the first day asked for).
    pub all: i64,
}

/// Requests opened here from a local day on, counted in `request_volume`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Volumes {
    /// Per (local day, kind, `requester` or `executor`).
    pub days: Vec<(i64, String, String, i64)>,
    /// Per court of ours.
    pub courts: Vec<(String, Buckets)>,
    /// Per partner region.
    pub partners: Vec<(String, Buckets)>,
}

/// Open requests in one state, of one kind and side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCount {
    /// The state.
    pub state: String,
    /// The kind of work.
    pub family: String,
    /// `requester` or `executor`.
    pub role: String,
    /// How many.
    pub requests: i64,
}

/// A deadline (or warning) of a request, unmet.
#[derive(Debug, Clone)]
pub struct DueItem {
    /// The request.
    pub request: RequestRecord,
    /// The deadline's name.
    pub deadline: String,
    /// When it falls (fell) due.
    pub due_at: OffsetDateTime,
}

/// How long one met deadline took, from the request's commit here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CycleSample {
    /// Milliseconds from the request's commit to the answer that met it.
    pub took_ms: i64,
    /// Milliseconds the deadline allowed from the same start.
    pub allowed_ms: i64,
}

/// Print jobs (the postal fallback of failed electronic service) opened in a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostalSummary {
    /// Jobs by their state now (`delivered`, `mail_returned`, `posted`, …).
    pub by_state: Vec<(String, i64)>,
    /// Service requests with at least one job.
    pub requests: i64,
}

/// Messages waiting to be relayed to one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    /// The peer region.
    pub peer: String,
    /// Pending messages.
    pub pending: i64,
    /// When the oldest of them was committed (Unix ms).
    pub oldest_ms: i64,
}

/// A message a peer refused for good (or that expired), with the reason recorded.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The peer region.
    pub peer: String,
    /// The message.
    pub message_id: String,
    /// Its request.
    pub request_id: String,
    /// When the relay gave up.
    pub at: OffsetDateTime,
    /// The peer's problem code, if it answered with one.
    pub code: Option<String>,
    /// The peer's (or the relay's) reason.
    pub reason: String,
}

/// The reads of the supervision dashboard.
#[async_trait]
pub trait Supervision: Send + Sync {
    /// Group commits made so far by this store (and its clones) since it was opened, and
    /// the commits of the pipeline (units) in them: units over groups is how many
    /// commits shared each transaction and its fsync.
    fn group_commits(&self) -> (u64, u64);

    /// Requests opened on local days `from_day` and later; `today` names the day the
    /// buckets end.
    async fn volumes(&self, from_day: i64, today: i64) -> Result<Volumes, StoreError>;

    /// Open requests, by state, kind and side.
    async fn open_work(&self) -> Result<Vec<OpenCount>, StoreError>;

    /// Unmet deadlines of open requests due after `after_ms` (exclusive, `None`: any time)
    /// and by `until_ms`: how many, and the first `limit`, earliest first.
    async fn deadlines_due(
        &self,
        after_ms: Option<i64>,
        until_ms: i64,
        limit: i64,
    ) -> Result<(i64, Vec<DueItem>), StoreError>;

    /// Open requests with a deadline unmet at `now_ms`, by kind (kinds with none left
    /// out).
    async fn overdue_by_kind(&self, now_ms: i64) -> Result<Vec<(String, i64)>, StoreError>;

    /// The latest `limit` times deadline `name` was met.
    async fn cycle_times(&self, name: &str, limit: i64) -> Result<Vec<CycleSample>, StoreError>;

    /// Unclosed warnings (not deadlines: kind `warning`) named `name` due after `after_ms` and by
    /// `until_ms`, earliest first, at most `limit`, whatever the request's state (a
    /// completed freeze still holds its asset).
    async fn warnings_due(
        &self,
        name: &str,
        after_ms: i64,
        until_ms: i64,
        limit: i64,
    ) -> Result<Vec<DueItem>, StoreError>;

    /// Print jobs opened at or after `since_ms`.
    async fn postal_summary(&self, since_ms: i64) -> Result<PostalSummary, StoreError>;

    /// Messages waiting for each peer that has any.
    async fn backlog(&self) -> Result<Vec<Backlog>, StoreError>;

    /// When a message was last delivered to `peer` (Unix ms), to within a second: a
    /// delivery less than a second after the one kept does not move it.
    async fn last_delivery(&self, peer: &str) -> Result<Option<i64>, StoreError>;

    /// The latest `limit` messages given up for `peer`, newest first.
    async fn dead_letters(&self, peer: &str, limit: i64) -> Result<Vec<DeadLetter>, StoreError>;

    /// Messages given up since `since_ms`, by peer and the peer's problem code (`""`: no
    /// code, e.g. expired).
    async fn refusals(&self, since_ms: i64) -> Result<Vec<(String, String, i64)>, StoreError>;

    /// The print jobs of a request, oldest first.
    async fn print_jobs_of(&self, request: &MessageId) -> Result<Vec<PrintJob>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_days_turn_at_midnight_in_beijing() {
        // 2026-11-24T16:00Z is 2026-11-25T00:00 in UTC+8.
        let midnight = 1_795_536_000_000;
        assert_eq!(local_day(midnight) - local_day(midnight - 1), 1);
        assert_eq!(local_day(midnight), local_day(midnight + DAY_MS - 1));
    }
}
