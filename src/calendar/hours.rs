//! Working hours: periods counted in minutes of the working day (an acknowledgement owed
//! "within 30 minutes of working time"). A minute counts if it lies in one of the
//! calendar's working spans (by default 09:00–12:00 and 14:00–17:30 local time) on a
//! working day; a period that starts outside them starts with the next span.

use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time};

use super::{Calendar, EARLIEST, LATEST};

/// One span of working time in a working day, local time: from `from` until `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingSpan {
    /// Start, e.g. 09:00.
    pub from: Time,
    /// End, e.g. 12:00 (later than `from`).
    pub until: Time,
}

impl WorkingSpan {
    fn length(&self) -> Duration {
        self.until - self.from
    }
}

/// 09:00–12:00 and 14:00–17:30, a court's office hours.
pub fn office_hours() -> Vec<WorkingSpan> {
    vec![
        WorkingSpan {
            from: Time::from_hms(9, 0, 0).unwrap_or(Time::MIDNIGHT),
            until: Time::from_hms(12, 0, 0).unwrap_or(Time::MIDNIGHT),
        },
        WorkingSpan {
            from: Time::from_hms(14, 0, 0).unwrap_or(Time::MIDNIGHT),
            until: Time::from_hms(17, 30, 0).unwrap_or(Time::MIDNIGHT),
        },
    ]
}

/// Spans as `[{"from": "09:00", "until": "12:00"}, …]`, in order and not overlapping.
pub(super) mod spans {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use time::Time;
    use time::macros::format_description;

    use super::WorkingSpan;

    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
        format_description!("[hour]:[minute]");

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Text {
        from: String,
        until: String,
    }

    pub fn serialize<S: Serializer>(spans: &[WorkingSpan], s: S) -> Result<S::Ok, S::Error> {
        let text = |t: Time| t.format(FORMAT).unwrap_or_default();
        s.collect_seq(spans.iter().map(|w| Text {
            from: text(w.from),
            until: text(w.until),
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<WorkingSpan>, D::Error> {
        let time = |t: &str| {
            Time::parse(t, FORMAT).map_err(|e| {
                serde::de::Error::custom(format!("{t:?} is not a time of day HH:MM: {e}"))
            })
        };
        let mut out: Vec<WorkingSpan> = Vec::new();
        for span in Vec::<Text>::deserialize(d)? {
            let w = WorkingSpan {
                from: time(&span.from)?,
                until: time(&span.until)?,
            };
            if w.until <= w.from || out.last().is_some_and(|last| last.until > w.from) {
                return Err(serde::de::Error::custom(format!(
                    "working hours {}–{} must end after they start and begin after the span before them ends",
                    span.from, span.until
                )));
            }
            out.push(w);
        }
        Ok(out)
    }
}

impl Calendar {
    /// Working time in one working day.
    fn working_day_length(&self) -> Duration {
        self.working_hours.iter().map(WorkingSpan::length).sum()
    }

    /// The local date and time of `t`, if the calendar can name it.
    fn local(&self, t: OffsetDateTime) -> Option<PrimitiveDateTime> {
        t.checked_to_offset(self.offset())
            .map(|l| PrimitiveDateTime::new(l.date(), l.time()))
    }

    /// Whether `n` minutes of working time are more than the working days left from `day`
    /// to the calendar's last day (or back to its first) could hold.
    fn beyond(&self, day: Date, n: u32, forward: bool) -> bool {
        let per_day = self.working_day_length().whole_minutes();
        let days = if forward {
            Date::MAX.to_julian_day() - day.to_julian_day()
        } else {
            day.to_julian_day() - Date::MIN.to_julian_day()
        };
        per_day == 0 || i64::from(n) / per_day > i64::from(days)
    }

    /// The instant `n` minutes of working time after `start` ([`LATEST`] if the calendar
    /// ends first, or has no working hours).
    pub(super) fn after_working_minutes(&self, start: OffsetDateTime, n: u32) -> OffsetDateTime {
        let Some(local) = self.local(start) else {
            return LATEST;
        };
        if n == 0 {
            return start;
        }
        if self.beyond(local.date(), n, true) {
            return LATEST;
        }
        let mut left = Duration::minutes(i64::from(n));
        let (mut day, mut now) = (local.date(), local.time());
        loop {
            if self.is_working_day(day) {
                for span in &self.working_hours {
                    let begin = span.from.max(now);
                    if begin >= span.until {
                        continue;
                    }
                    let room = span.until - begin;
                    if room >= left {
                        return self.instant(PrimitiveDateTime::new(day, begin + left));
                    }
                    left -= room;
                }
            }
            day = match day.next_day() {
                Some(d) => d,
                None => return LATEST,
            };
            now = Time::MIDNIGHT;
        }
    }

    /// The instant `n` minutes of working time before `end` ([`EARLIEST`] if the calendar
    /// begins later, or has no working hours).
    pub(super) fn before_working_minutes(&self, end: OffsetDateTime, n: u32) -> OffsetDateTime {
        let Some(local) = self.local(end) else {
            return EARLIEST;
        };
        if n == 0 {
            return end;
        }
        if self.beyond(local.date(), n, false) {
            return EARLIEST;
        }
        let mut left = Duration::minutes(i64::from(n));
        // `None`: the whole day is before the instant (from the day before `end` on).
        let (mut day, mut now) = (local.date(), Some(local.time()));
        loop {
            if self.is_working_day(day) {
                for span in self.working_hours.iter().rev() {
                    let finish = now.map_or(span.until, |t| span.until.min(t));
                    if finish <= span.from {
                        continue;
                    }
                    let room = finish - span.from;
                    if room >= left {
                        return self.instant(PrimitiveDateTime::new(day, finish - left));
                    }
                    left -= room;
                }
            }
            day = match day.previous_day() {
                Some(d) => d,
                None => return EARLIEST,
            };
            now = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;
    use crate::agreement::Period;

    fn calendar() -> Calendar {
        Calendar {
            holidays: [date!(2026 - 10 - 01), date!(2026 - 10 - 02)].into(),
            working_weekend_days: [date!(2026 - 10 - 10)].into(),
            ..Calendar::default()
        }
    }

    #[test]
    fn thirty_working_minutes_skip_lunch_nights_weekends_and_holidays() {
        let c = calendar();
        let due = |t| c.due(t, Period::WorkingMinutes(30));
        // Within a span: exact.
        assert_eq!(
            due(datetime!(2026-11-25 10:00 +08:00)),
            datetime!(2026-11-25 02:30 UTC)
        );
        // Across lunch: 10 minutes before noon, 20 after two.
        assert_eq!(
            due(datetime!(2026-11-25 11:50 +08:00)),
            datetime!(2026-11-25 06:20 UTC)
        );
        // At lunch: from two o'clock.
        assert_eq!(
            due(datetime!(2026-11-25 12:40 +08:00)),
            datetime!(2026-11-25 06:30 UTC)
        );
        // Friday 17:20: 10 minutes, then Monday 09:20.
        assert_eq!(
            due(datetime!(2026-11-27 17:20 +08:00)),
            datetime!(2026-11-30 01:20 UTC)
        );
        // Wednesday 30 September 20:00: 1 and 2 October are holidays, then the weekend.
        assert_eq!(
            due(datetime!(2026-09-30 20:00 +08:00)),
            datetime!(2026-10-05 01:30 UTC)
        );
        // A Saturday worked instead counts.
        assert_eq!(
            due(datetime!(2026-10-09 18:00 +08:00)),
            datetime!(2026-10-10 01:30 UTC)
        );
        // A whole day and a bit: 6.5 hours a day.
        assert_eq!(
            c.due(
                datetime!(2026-11-25 09:00 +08:00),
                Period::WorkingMinutes(390 + 15)
            ),
            datetime!(2026-11-26 01:15 UTC)
        );
    }

    #[test]
    fn warnings_in_working_minutes_count_back_from_the_end_of_the_day() {
        let c = calendar();
        // Before the end of Wednesday 25 November: 17:00 local.
        assert_eq!(
            c.before(date!(2026 - 11 - 25), Period::WorkingMinutes(30)),
            datetime!(2026-11-25 09:00 UTC)
        );
        // 4 hours back: 3.5 hours of the afternoon and 30 minutes of the morning.
        assert_eq!(
            c.before(date!(2026 - 11 - 25), Period::WorkingMinutes(240)),
            datetime!(2026-11-25 03:30 UTC)
        );
    }

    #[test]
    fn working_hours_read_and_write_and_must_be_in_order() {
        let c: Calendar = serde_json::from_str(
            r#"{"workingHours": [{"from": "08:30", "until": "12:00"}, {"from": "13:30", "until": "17:00"}]}"#,
        )
        .unwrap();
        assert_eq!(c.working_day_length(), Duration::minutes(420));
        let text = serde_json::to_string(&c).unwrap();
        assert!(
            text.contains(r#"{"from":"08:30","until":"12:00"}"#),
            "{text}"
        );
        for bad in [
            r#"{"workingHours": [{"from": "12:00", "until": "09:00"}]}"#,
            r#"{"workingHours": [{"from": "09:00", "until": "12:00"}, {"from": "11:00", "until": "17:00"}]}"#,
            r#"{"workingHours": [{"from": "9h", "until": "12:00"}]}"#,
        ] {
            assert!(serde_json::from_str::<Calendar>(bad).is_err(), "{bad}");
        }
        // No working hours: a period in working minutes never ends.
        let none = Calendar {
            working_hours: Vec::new(),
            ..Calendar::default()
        };
        assert_eq!(
            none.due(
                datetime!(2026-11-25 10:00 +08:00),
                Period::WorkingMinutes(30)
            ),
            LATEST
        );
        assert_eq!(
            c.due(
                datetime!(2026-11-25 10:00 +08:00),
                Period::WorkingMinutes(u32::MAX)
            ),
            LATEST
        );
    }
}
