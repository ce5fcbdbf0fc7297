//! Working days and legal periods, on the calendar an agreement carries.
//!
//! The rules, after the Civil Procedure Law (民诉法 Art 85) and common practice:
//! - a period in **days** starts the day after the event that starts it and ends at 24:00
//!   local time of its last day; if that day is not a working day, the period ends at
//!   24:00 of the next working day (法定休假日顺延);
//! - a period in **working days** ends at 24:00 of the nth working day after the event's day;
//! - a period in **hours** is exact, whatever the day;
//! - a period in **months** ends at 24:00 of the same day of the month n months on
//!   (the last day of a shorter month), with no extension.
//!
//! A day is a working day if it is a Monday to Friday that is not a public holiday, or a
//! weekend day the calendar names as an adjusted working day (调休).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

use crate::agreement::Period;

/// The parties' calendar: their time zone, public holidays and adjusted working days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Calendar {
    /// Hours east of UTC of local time (8 for China Standard Time).
    #[serde(default = "eight")]
    pub utc_offset_hours: i8,
    /// Public holidays (dates, `YYYY-MM-DD`) that fall on what would be working days.
    #[serde(default, with = "dates")]
    pub holidays: BTreeSet<Date>,
    /// Weekend days that are working days (adjusted working days, 调休).
    #[serde(default, with = "dates")]
    pub working_weekend_days: BTreeSet<Date>,
}

fn eight() -> i8 {
    8
}

impl Default for Calendar {
    /// China Standard Time, Monday to Friday, no holidays.
    fn default() -> Self {
        Calendar {
            utc_offset_hours: eight(),
            holidays: BTreeSet::new(),
            working_weekend_days: BTreeSet::new(),
        }
    }
}

/// Dates as `YYYY-MM-DD` text.
mod dates {
    use std::collections::BTreeSet;

    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;
    use time::macros::format_description;

    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
        format_description!("[year]-[month]-[day]");

    pub fn serialize<S: Serializer>(dates: &BTreeSet<Date>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(dates.iter().map(|d| d.format(FORMAT).unwrap_or_default()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<Date>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| {
                Date::parse(t, FORMAT).map_err(|e| {
                    serde::de::Error::custom(format!("{t:?} is not a YYYY-MM-DD date: {e}"))
                })
            })
            .collect()
    }
}

impl Calendar {
    fn offset(&self) -> UtcOffset {
        UtcOffset::from_hms(self.utc_offset_hours, 0, 0).unwrap_or(UtcOffset::UTC)
    }

    /// Whether `day` is a working day.
    pub fn is_working_day(&self, day: Date) -> bool {
        if self.working_weekend_days.contains(&day) {
            return true;
        }
        !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday)
            && !self.holidays.contains(&day)
    }

    /// The local date of `t`.
    pub fn local_date(&self, t: OffsetDateTime) -> Date {
        t.to_offset(self.offset()).date()
    }

    /// 24:00 local time at the end of `day`, as an instant.
    pub fn end_of(&self, day: Date) -> OffsetDateTime {
        let next = day.next_day().unwrap_or(day);
        PrimitiveDateTime::new(next, Time::MIDNIGHT)
            .assume_offset(self.offset())
            .to_offset(UtcOffset::UTC)
    }

    fn next_working_day(&self, mut day: Date) -> Date {
        loop {
            day = match day.next_day() {
                Some(d) => d,
                None => return day,
            };
            if self.is_working_day(day) {
                return day;
            }
        }
    }

    /// When a period of `period` that starts at `start` ends.
    pub fn due(&self, start: OffsetDateTime, period: Period) -> OffsetDateTime {
        let day = self.local_date(start);
        match period {
            Period::Hours(n) => start + Duration::hours(i64::from(n)),
            Period::WorkingDays(n) => {
                let mut d = day;
                for _ in 0..n.max(1) {
                    d = self.next_working_day(d);
                }
                self.end_of(d)
            }
            Period::Days(n) => {
                let last = day + Duration::days(i64::from(n));
                let last = if self.is_working_day(last) {
                    last
                } else {
                    self.next_working_day(last)
                };
                self.end_of(last)
            }
            Period::Months(n) => self.end_of(add_months(day, n)),
        }
    }
}

impl Calendar {
    /// The start (00:00 local time) of `day`.
    pub fn start_of(&self, day: Date) -> OffsetDateTime {
        PrimitiveDateTime::new(day, Time::MIDNIGHT)
            .assume_offset(self.offset())
            .to_offset(UtcOffset::UTC)
    }

    /// When to warn `period` ahead of something that ends with `day`: the start of the day
    /// that many days, working days or months before it, or that many hours before its end.
    pub fn before(&self, day: Date, period: Period) -> OffsetDateTime {
        match period {
            Period::Hours(n) => self.end_of(day) - Duration::hours(i64::from(n)),
            Period::Days(n) => self.start_of(day - Duration::days(i64::from(n))),
            Period::WorkingDays(n) => {
                let mut d = day;
                let mut left = n;
                while left > 0 {
                    d = match d.previous_day() {
                        Some(p) => p,
                        None => break,
                    };
                    if self.is_working_day(d) {
                        left -= 1;
                    }
                }
                self.start_of(d)
            }
            Period::Months(n) => self.start_of(sub_months(day, n)),
        }
    }
}

/// The same day of the month `n` months earlier, or the last day of that month.
fn sub_months(day: Date, n: u32) -> Date {
    let months = i64::from(day.year()) * 12 + i64::from(day.month() as u8) - 1 - i64::from(n);
    let year = months.div_euclid(12) as i32;
    let month = Month::try_from((months.rem_euclid(12) + 1) as u8).unwrap_or(Month::January);
    let last = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, day.day().min(last)).unwrap_or(day)
}

/// The same day of the month `n` months on, or the last day of that month.
fn add_months(day: Date, n: u32) -> Date {
    let months = i64::from(day.month() as u8) - 1 + i64::from(n);
    let year = day.year() + (months / 12) as i32;
    let month = Month::try_from((months % 12 + 1) as u8).unwrap_or(Month::January);
    let last = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, day.day().min(last)).unwrap_or(day)
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    /// The 2026 National Day week: 1–7 October off, Sunday 20 September and Saturday
    /// 10 October worked instead.
    fn calendar() -> Calendar {
        Calendar {
            utc_offset_hours: 8,
            holidays: (1..=7)
                .map(|d| Date::from_calendar_date(2026, Month::October, d).unwrap())
                .collect(),
            working_weekend_days: [date!(2026 - 09 - 20), date!(2026 - 10 - 10)].into(),
        }
    }

    #[test]
    fn working_days_skip_weekends_and_holidays_but_not_adjusted_working_days() {
        let c = calendar();
        assert!(!c.is_working_day(date!(2026 - 10 - 01)));
        assert!(
            !c.is_working_day(date!(2026 - 11 - 28)),
            "an ordinary Saturday"
        );
        assert!(
            c.is_working_day(date!(2026 - 10 - 10)),
            "the adjusted working Saturday"
        );
        assert!(
            c.is_working_day(date!(2026 - 09 - 20)),
            "the adjusted working Sunday"
        );
    }

    #[test]
    fn one_working_day_from_the_eve_of_the_holiday_week_ends_after_it() {
        // Wednesday 30 September, 16:30 in Chengdu: the next working day is Thursday 8 October.
        let due = calendar().due(datetime!(2026-09-30 16:30 +08:00), Period::WorkingDays(1));
        assert_eq!(due, datetime!(2026-10-08 16:00 UTC));
        // From Friday 9 October the next working day is the adjusted Saturday.
        let due = calendar().due(datetime!(2026-10-09 10:00 +08:00), Period::WorkingDays(1));
        assert_eq!(due, datetime!(2026-10-10 16:00 UTC));
        // An ordinary weekend: Friday to Monday.
        let due = calendar().due(datetime!(2026-11-27 17:59 +08:00), Period::WorkingDays(1));
        assert_eq!(due, datetime!(2026-11-30 16:00 UTC));
    }

    #[test]
    fn a_period_in_days_ending_on_a_holiday_runs_on_to_the_next_working_day() {
        // 22 September + 10 days = 2 October, a holiday: the period ends on 8 October.
        let due = calendar().due(datetime!(2026-09-22 09:00 +08:00), Period::Days(10));
        assert_eq!(due, datetime!(2026-10-08 16:00 UTC));
        // 30 September + 10 days = 10 October, the adjusted working Saturday: it ends then.
        let due = calendar().due(datetime!(2026-09-30 16:30 +08:00), Period::Days(10));
        assert_eq!(due, datetime!(2026-10-10 16:00 UTC));
        // Local midnight decides the day: 23:30 UTC on 29 September is 30 September in China.
        let due = calendar().due(datetime!(2026-09-29 23:30 UTC), Period::Days(10));
        assert_eq!(due, datetime!(2026-10-10 16:00 UTC));
    }

    #[test]
    fn the_calendar_reads_and_writes_plain_dates() {
        let text = serde_json::to_string(&calendar()).unwrap();
        assert!(
            text.contains(r#""2026-10-01""#)
                && text.contains(r#""workingWeekendDays":["2026-09-20","2026-10-10"]"#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Calendar>(&text).unwrap(), calendar());
        assert!(serde_json::from_str::<Calendar>(r#"{"holidays": ["2026-13-01"]}"#).is_err());
    }

    #[test]
    fn hours_are_exact_and_months_keep_the_day() {
        let start = datetime!(2026-09-30 16:30 +08:00);
        assert_eq!(
            calendar().due(start, Period::Hours(48)),
            datetime!(2026-10-02 08:30 UTC)
        );
        assert_eq!(
            calendar().due(datetime!(2026-01-31 10:00 +08:00), Period::Months(1)),
            datetime!(2026-02-28 16:00 UTC)
        );
        assert_eq!(
            calendar().due(start, Period::Months(12)),
            datetime!(2027-09-30 16:00 UTC)
        );
    }

    #[test]
    fn warnings_fall_ahead_of_the_end() {
        let c = calendar();
        // A freeze that ends with 2026-10-31 warns from the start of 1 October (30 days),
        // of 31 August (2 months), or of 23 October (5 working days: 26-30 Oct).
        assert_eq!(
            c.before(date!(2026 - 10 - 31), Period::Days(30)),
            datetime!(2026-09-30 16:00 UTC)
        );
        assert_eq!(
            c.before(date!(2026 - 10 - 31), Period::Months(2)),
            datetime!(2026-08-30 16:00 UTC)
        );
        assert_eq!(
            c.before(date!(2026 - 10 - 31), Period::WorkingDays(5)),
            datetime!(2026-10-25 16:00 UTC)
        );
        assert_eq!(
            c.before(date!(2026 - 10 - 31), Period::Hours(24)),
            datetime!(2026-10-30 16:00 UTC)
        );
    }
}
