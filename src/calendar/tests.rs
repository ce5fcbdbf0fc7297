//! Tests of working days and legal periods on an agreement's calendar.

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
        ..Calendar::default()
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
fn periods_that_would_outlast_the_calendar_end_at_its_last_instant() {
    // Found by fuzzing: these overflowed (a panic), or ended before they started.
    let c = calendar();
    let start = datetime!(9999-12-31 20:00 UTC);
    assert_eq!(c.local_date(start), Date::MAX);
    for period in [
        Period::Hours(10),
        Period::Days(2),
        Period::WorkingDays(5),
        Period::Months(1),
    ] {
        assert_eq!(c.due(start, period), LATEST, "{period:?}");
    }
    // 100,000 months from 2026 is past the year 9999, not the end of today.
    let start = datetime!(2026-09-30 16:30 +08:00);
    assert_eq!(c.due(start, Period::Months(100_000)), LATEST);
    assert_eq!(c.due(start, Period::WorkingDays(u32::MAX)), LATEST);
    // Local midnight of the last day, 25 hours west, is past the end in UTC.
    let west = Calendar {
        utc_offset_hours: -25,
        ..calendar()
    };
    assert_eq!(west.start_of(Date::MAX), LATEST);
}

#[test]
fn warnings_that_would_fall_before_the_calendar_begins_fall_at_its_first_instant() {
    // Found by fuzzing: these overflowed (a panic).
    let c = calendar();
    let day = Date::MIN.next_day().unwrap();
    assert_eq!(c.start_of(Date::MIN), EARLIEST);
    for period in [
        Period::Hours(100),
        Period::Days(5),
        Period::WorkingDays(5),
        Period::Months(1),
    ] {
        assert_eq!(c.before(day, period), EARLIEST, "{period:?}");
    }
    assert_eq!(
        c.before(date!(2026 - 10 - 31), Period::WorkingDays(u32::MAX)),
        EARLIEST
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
