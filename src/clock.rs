//! Time as a dependency: the system clock in production, a hand-driven clock in tests.
//!
//! Deadlines, expiry and retry backoff all read the time through [`Clock`], so a test
//! can move time forward by days without sleeping.

use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

/// Where the gateway reads the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that moves only when told to. For tests and simulations.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: OffsetDateTime) -> Arc<Self> {
        Arc::new(ManualClock(Mutex::new(start)))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.lock() += by;
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: OffsetDateTime) {
        *self.lock() = to;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OffsetDateTime> {
        // A poisoned lock only means another thread panicked while holding a plain value.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.lock()
    }
}

/// Milliseconds since the Unix epoch, the form kept in the database for ordering.
pub fn unix_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The inverse of [`unix_millis`].
pub fn from_unix_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The first instant RFC 3339 can write: 0000-01-01T00:00:00Z.
const FIRST: OffsetDateTime = time::macros::datetime!(0000-01-01 00:00 UTC);

/// RFC 3339 text of `t` with millisecond precision, e.g. `2026-11-25T08:30:00.123Z`
/// (an instant before 0000-01-01T00:00:00Z or after 9999-12-31T23:59:59.999Z is written
/// as that end, so the text always reads back).
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = match t.checked_to_offset(time::UtcOffset::UTC) {
        Some(utc) if utc >= FIRST => utc,
        None if t.year() > 0 => crate::calendar::LATEST,
        _ => FIRST,
    };
    // The date and the time each worked out once (`year()`, `month()` and `day()` would
    // each work the date out again): receipts and envelopes write several a message.
    let (year, month, day) = t.to_calendar_date();
    let (hour, minute, second, ms) = t.to_hms_milli();
    format!(
        "{year:04}-{:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{ms:03}Z",
        u8::from(month),
    )
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(datetime!(2026-11-25 08:00 UTC));
        assert_eq!(clock.now(), datetime!(2026-11-25 08:00 UTC));
        clock.advance(Duration::days(3));
        assert_eq!(clock.now(), datetime!(2026-11-28 08:00 UTC));
    }

    #[test]
    fn times_that_utc_cannot_name_are_refused_when_read_and_never_panic_when_written() {
        // Found by fuzzing: a peer's `9999-12-31T23:59:59-23:59` parsed, and writing it
        // in UTC (to seal, store or report it) panicked.
        #[derive(serde::Deserialize)]
        struct At {
            #[serde(with = "ts")]
            at: OffsetDateTime,
        }
        let err = serde_json::from_str::<At>(r#"{"at": "9999-12-31T23:59:59-23:59"}"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("between 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z"),
            "{err}"
        );
        let at = serde_json::from_str::<At>(r#"{"at": "9999-12-31T23:59:59+08:00"}"#).unwrap();
        assert_eq!(rfc3339(at.at), "9999-12-31T15:59:59.000Z");
        let beyond = datetime!(9999-12-31 23:59:59 -23:59);
        assert_eq!(rfc3339(beyond), "9999-12-31T23:59:59.999Z");
        let before = datetime!(-9999-01-01 00:00 +23:59);
        assert_eq!(rfc3339(before), "0000-01-01T00:00:00.000Z");
        // Found by fuzzing: year -1 in UTC was written "-001-12-31T19:00:00.000Z", which
        // no RFC 3339 reader (kuayu's included) reads back.
        let err = serde_json::from_str::<At>(r#"{"at": "0000-01-01T00:00:00+05:00"}"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("between 0000-01-01T00:00:00Z"), "{err}");
        assert_eq!(
            rfc3339(datetime!(-0001-12-31 19:00 UTC)),
            "0000-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn millis_round_trip_and_text_is_rfc3339() {
        let t = datetime!(2026-11-25 08:30:00.123 +08:00);
        assert_eq!(from_unix_millis(unix_millis(t)), t);
        assert_eq!(rfc3339(t), "2026-11-25T00:30:00.123Z");
    }
}

/// Serde for timestamps as RFC 3339 text (written with millisecond precision in UTC).
pub mod ts {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    /// Writes `t` as RFC 3339 text.
    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(*t))
    }

    /// Reads RFC 3339 text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    /// RFC 3339 text as a time that can also be written in UTC (so stores, receipts and
    /// deadlines can work with it): `9999-12-31T23:00:00-05:00` is past the end, and
    /// `0000-01-01T00:00:00+05:00` before the beginning.
    fn parse(text: &str) -> Result<OffsetDateTime, String> {
        let t = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|e| format!("{text:?} is not an RFC 3339 time: {e}"))?;
        match t.checked_to_offset(time::UtcOffset::UTC) {
            Some(utc) if utc >= super::FIRST => Ok(t),
            _ => Err(format!(
                "{text:?} is not an RFC 3339 time between 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z"
            )),
        }
    }

    /// The same for optional timestamps.
    pub mod option {
        use super::*;

        /// Writes `t` as RFC 3339 text, or null.
        pub fn serialize<S: Serializer>(
            t: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&super::super::rfc3339(*t)),
                None => s.serialize_none(),
            }
        }

        /// Reads RFC 3339 text or null.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            let text = Option::<String>::deserialize(d)?;
            text.map(|text| parse(&text).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}
