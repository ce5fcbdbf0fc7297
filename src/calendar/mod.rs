//! Working days and legal periods, on the calendar an agreement carries.
//!
//! The rules, after the Civil Procedure Law (民诉法 Art 85) and common practice:
//! - a period in **days** starts the day after the event that starts it and ends at 24:00
//!   local time of its last day; if that day is not a working day, the period ends at
//!   24:00 of the next working day (法定休假日顺延);
//! - a period in **working days** ends at 24:00 of the nth working day after the event's day;
//! - a period in **hours** is exact, whatever the day;
//! - a period in **months** ends at 24:00 of the same day of the month n months on
//!   (the last day of a shorter month), with no extension;
//! - a period in **working minutes** counts only the working hours of working days
//!   (`hours`): 30 minutes from 11:50 on a Friday end at 14:20 that day, from 17:20 at
//!   09:20 on the next working day.
//!
//! A day is a working day if it is a Monday to Friday that is not a public holiday, or a
//! weekend day the calendar names as an adjusted working day (调休).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

use crate::agreement::Period;

mod hours;
pub use hours::WorkingSpan;

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
    /// The working hours of a working day, in local time (periods in working minutes
    /// count only these); by default 09:00–12:00 and 14:00–17:30.
    #[serde(default = "hours::office_hours", with = "hours::spans")]
    pub working_hours: Vec<WorkingSpan>,
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
            working_hours: hours::office_hours(),
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

/// The last instant the calendar can name: a period that would end later ends here.
pub const LATEST: OffsetDateTime = PrimitiveDateTime::MAX.assume_utc();

/// The first instant the calendar can name: a warning that would fall earlier falls here.
pub const EARLIEST: OffsetDateTime = PrimitiveDateTime::MIN.assume_utc();

impl Calendar {
    pub(crate) fn offset(&self) -> UtcOffset {
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

    /// The local date of `t` (the first or last day the calendar has, for an instant
    /// beyond them in local time).
    pub fn local_date(&self, t: OffsetDateTime) -> Date {
        match t.checked_to_offset(self.offset()) {
            Some(local) => local.date(),
            None if t.year() > 0 => Date::MAX,
            None => Date::MIN,
        }
    }

    /// The instant of local time `local`, in UTC ([`EARLIEST`] or [`LATEST`] beyond them).
    pub(crate) fn instant(&self, local: PrimitiveDateTime) -> OffsetDateTime {
        let beyond = if local.year() > 0 { LATEST } else { EARLIEST };
        local
            .assume_offset(self.offset())
            .checked_to_offset(UtcOffset::UTC)
            .unwrap_or(beyond)
    }

    /// 24:00 local time at the end of `day`, as an instant.
    pub fn end_of(&self, day: Date) -> OffsetDateTime {
        match day.next_day() {
            Some(next) => self.instant(PrimitiveDateTime::new(next, Time::MIDNIGHT)),
            None => LATEST,
        }
    }

    /// The first working day after `day`, if the calendar has one.
    fn next_working_day(&self, mut day: Date) -> Option<Date> {
        loop {
            day = day.next_day()?;
            if self.is_working_day(day) {
                return Some(day);
            }
        }
    }

    /// When a period of `period` that starts at `start` ends ([`LATEST`] if the calendar
    /// ends first).
    pub fn due(&self, start: OffsetDateTime, period: Period) -> OffsetDateTime {
        let day = self.local_date(start);
        let last = match period {
            Period::Hours(n) => {
                return start
                    .checked_to_offset(UtcOffset::UTC)
                    .and_then(|s| s.checked_add(Duration::hours(i64::from(n))))
                    .unwrap_or(LATEST);
            }
            Period::WorkingDays(n) => {
                // Each working day is a later day: more of them than days left cannot fit.
                if i64::from(n) > i64::from(Date::MAX.to_julian_day() - day.to_julian_day()) {
                    return LATEST;
                }
                let mut d = day;
                for _ in 0..n.max(1) {
                    match self.next_working_day(d) {
                        Some(next) => d = next,
                        None => return LATEST,
                    }
                }
                d
            }
            Period::Days(n) => {
                let Some(nth) = day.checked_add(Duration::days(i64::from(n))) else {
                    return LATEST;
                };
                if self.is_working_day(nth) {
                    nth
                } else {
                    match self.next_working_day(nth) {
                        Some(d) => d,
                        None => return LATEST,
                    }
                }
            }
            Period::Months(n) => match add_months(day, n) {
                Some(d) => d,
                None => return LATEST,
            },
            Period::WorkingMinutes(n) => return self.after_working_minutes(start, n),
        };
        self.end_of(last)
    }
}

impl Calendar {
    /// The start (00:00 local time) of `day`.
    pub fn start_of(&self, day: Date) -> OffsetDateTime {
        self.instant(PrimitiveDateTime::new(day, Time::MIDNIGHT))
    }

    /// When to warn `period` ahead of something that ends with `day`: the start of the day
    /// that many days, working days or months before it, or that many hours before its end
    /// ([`EARLIEST`] if the calendar begins later).
    pub fn before(&self, day: Date, period: Period) -> OffsetDateTime {
        match period {
            Period::Hours(n) => self
                .end_of(day)
                .checked_sub(Duration::hours(i64::from(n)))
                .unwrap_or(EARLIEST),
            Period::Days(n) => day
                .checked_sub(Duration::days(i64::from(n)))
                .map_or(EARLIEST, |d| self.start_of(d)),
            Period::WorkingDays(n) => {
                if i64::from(n) > i64::from(day.to_julian_day() - Date::MIN.to_julian_day()) {
                    return EARLIEST;
                }
                let mut d = day;
                let mut left = n;
                while left > 0 {
                    d = match d.previous_day() {
                        Some(p) => p,
                        None => return EARLIEST,
                    };
                    if self.is_working_day(d) {
                        left -= 1;
                    }
                }
                self.start_of(d)
            }
            Period::Months(n) => sub_months(day, n).map_or(EARLIEST, |d| self.start_of(d)),
            Period::WorkingMinutes(n) => self.before_working_minutes(self.end_of(day), n),
        }
    }
}

/// The same day of the month `n` months earlier, or the last day of that month; `None`
/// before the calendar begins.
fn sub_months(day: Date, n: u32) -> Option<Date> {
    let months = i64::from(day.year()) * 12 + i64::from(day.month() as u8) - 1 - i64::from(n);
    month_day(months, day.day())
}

/// The same day of the month `n` months on, or the last day of that month; `None` after
/// the calendar ends.
fn add_months(day: Date, n: u32) -> Option<Date> {
    let months = i64::from(day.year()) * 12 + i64::from(day.month() as u8) - 1 + i64::from(n);
    month_day(months, day.day())
}

/// Day `day` (or the last day) of the month `months` months after January of year 0.
fn month_day(months: i64, day: u8) -> Option<Date> {
    let year = i32::try_from(months.div_euclid(12)).ok()?;
    let month = Month::try_from(u8::try_from(months.rem_euclid(12) + 1).ok()?).ok()?;
    // Checks the year is in range before asking how long its month is.
    let first = Date::from_calendar_date(year, month, 1).ok()?;
    let last = time::util::days_in_month(month, first.year());
    Date::from_calendar_date(year, month, day.min(last)).ok()
}

#[cfg(test)]
mod tests;
