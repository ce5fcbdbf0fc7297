//! Bounds on what uploaders may do: a quota on the bytes each court or peer gateway keeps
//! here that no message lists (its uploads in waiting), an upload rate, and a free-disk
//! watermark under which uploads and ordinary work wait while reads and preservation go on.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::clock::SharedClock;
use crate::config::AttachmentsConfig;
use crate::problem::{Code, Problem};
use crate::ratelimit::GatewayClock;
use crate::store::{BlobSource, Store};

type Limiter = RateLimiter<
    String,
    HashMapStateStore<String>,
    GatewayClock,
    governor::middleware::NoOpMiddleware<governor::nanos::Nanos>,
>;

/// The bounds, shared by every upload route.
pub struct Guard {
    config: AttachmentsConfig,
    rate: Limiter,
    clock: GatewayClock,
    reserved: Arc<Mutex<HashMap<String, u64>>>,
    disk: PathBuf,
    /// The last reading of the disk's free bytes, and when it was taken.
    free: Mutex<Option<(Instant, Option<u64>)>>,
}

/// How long a reading of the disk's free bytes stands: the watermark is checked for every
/// message and upload, and under load one reading serves many of them. A gigabyte (the
/// default watermark) does not fill in this time.
const DISK_READING_STANDS: Duration = Duration::from_millis(100);

/// Bytes set aside for an upload in progress, so that concurrent uploads cannot together
/// pass the quota; released when dropped.
pub struct Reservation {
    reserved: Arc<Mutex<HashMap<String, u64>>>,
    key: String,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut reserved = self.reserved.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = reserved.get_mut(&self.key) {
            *n = n.saturating_sub(self.bytes);
            if *n == 0 {
                reserved.remove(&self.key);
            }
        }
    }
}

/// An upload let in: how many bytes it may bring, and whether the quota (rather than the
/// agreement's limit) set that.
pub struct Admitted {
    /// The most bytes the upload may have.
    pub budget: u64,
    /// Whether the uploader's quota is what bounds it.
    pub by_quota: bool,
    /// Its reservation.
    pub reservation: Reservation,
}

impl Guard {
    /// Bounds from `config`, counting rates on `clock`, watching the disk at `disk`.
    pub fn new(config: AttachmentsConfig, clock: SharedClock, disk: PathBuf) -> Self {
        let clock = GatewayClock(clock);
        let per_minute =
            NonZeroU32::new(config.uploads_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Guard {
            rate: RateLimiter::new(
                Quota::per_minute(per_minute),
                HashMapStateStore::default(),
                clock.clone(),
            ),
            clock,
            config,
            reserved: Arc::default(),
            disk,
            free: Mutex::new(None),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AttachmentsConfig {
        &self.config
    }

    /// Whether there is room on disk for new work. `urgent` work (preservation) passes
    /// regardless: a freeze must not wait for an operator to clear a disk.
    pub fn disk_room(&self, urgent: bool) -> Result<(), Problem> {
        if urgent {
            return Ok(());
        }
        match self.free_bytes() {
            Some(free) if free < self.config.min_free_bytes => {
                tracing::warn!(free, watermark = self.config.min_free_bytes, disk = %self.disk.display(), "disk space below the watermark: uploads and ordinary work wait");
                let mut p = Problem::new(
                    Code::InsufficientStorage,
                    format!(
                        "this gateway's disk has {free} bytes free, under its watermark of {}; \
                         uploads and ordinary work wait (preservation orders and reads go on): \
                         retry later",
                        self.config.min_free_bytes
                    ),
                );
                p.retry_after = Some(60);
                Err(p)
            }
            _ => Ok(()),
        }
    }

    /// Free bytes on the disk, read again if the last reading is older than
    /// [`DISK_READING_STANDS`].
    fn free_bytes(&self) -> Option<u64> {
        let now = Instant::now();
        let mut last = self.free.lock().unwrap_or_else(|p| p.into_inner());
        match *last {
            Some((at, free)) if now.saturating_duration_since(at) < DISK_READING_STANDS => free,
            _ => {
                let free = free_bytes(&self.disk);
                *last = Some((now, free));
                free
            }
        }
    }

    /// Lets in an upload by `who` that says it has `declared` bytes (if it says), within
    /// the agreements' `limit` per attachment: the upload rate, the disk, the quota.
    pub async fn admit(
        &self,
        store: &dyn Store,
        who: &BlobSource,
        declared: Option<u64>,
        limit: u64,
    ) -> Result<Admitted, Problem> {
        let key = who.to_string();
        if let Err(not_until) = self.rate.check_key(&key) {
            use governor::clock::Clock as _;
            let wait = not_until.wait_time_from(self.clock.now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut p = Problem::new(
                Code::RateLimited,
                format!(
                    "{who} is over this gateway's upload rate of {} per minute; retry in {} s",
                    self.config.uploads_per_minute,
                    seconds.max(1)
                ),
            );
            p.retry_after = Some(seconds.max(1));
            return Err(p);
        }
        self.disk_room(false)?;
        let quota = match who {
            BlobSource::Court(_) => self.config.pending_quota_bytes_per_court,
            BlobSource::Gateway(_) => self.config.pending_quota_bytes_per_peer,
        };
        let pending = store
            .pending_attachment_bytes(who)
            .await
            .map_err(Problem::internal)?;
        let mut reserved = self.reserved.lock().unwrap_or_else(|p| p.into_inner());
        let used = pending.saturating_add(reserved.get(&key).copied().unwrap_or(0));
        let left = quota.saturating_sub(used);
        let want = declared.unwrap_or(limit.min(left)).min(limit);
        if want > left || left == 0 {
            return Err(Self::over_quota(who, quota, used, declared));
        }
        *reserved.entry(key.clone()).or_default() += want;
        Ok(Admitted {
            budget: limit.min(left),
            by_quota: left < limit,
            reservation: Reservation {
                reserved: Arc::clone(&self.reserved),
                key,
                bytes: want,
            },
        })
    }

    /// The refusal for an upload that would take `who` over its quota.
    pub fn over_quota(who: &BlobSource, quota: u64, used: u64, declared: Option<u64>) -> Problem {
        let size = declared.map_or_else(|| "more bytes".to_owned(), |b| format!("{b} bytes"));
        Problem::new(
            Code::QuotaExceeded,
            format!(
                "{who} keeps {used} bytes of uploads here that no message lists yet; {size} more \
                 would pass its quota of {quota}. Nothing was kept: submit the messages that list \
                 your uploads (or let unlisted ones expire), then upload again"
            ),
        )
    }
}

/// Free bytes for an unprivileged writer on the filesystem holding `path`.
fn free_bytes(path: &std::path::Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(path).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}
