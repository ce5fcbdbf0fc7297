//! Target `calendar`: working days and legal periods on any calendar, from any instant.
//!
//! Each case makes a calendar (any offset, holidays and adjusted working days near
//! 2026 or anywhere in the supported range, sometimes read back from changed JSON),
//! a start and a period, and checks what the rules in `kuayu::calendar` promise:
//! - a period never ends before it starts, and a longer period never ends earlier;
//! - a period ends at 24:00 local time of its last day;
//! - a period in days ends on a working day at least n days on, with no working day
//!   between the nth day and its end; one in working days ends on the nth working day;
//! - one in months ends on the same day of the month (or the month's last day);
//! - a warning before a day never falls after that day ends;
//! - the calendar reads back what it writes.
//!
//! Then the agreement's deadlines are computed on it from payloads with those dates.

use kuayu::agreement::Period;
use kuayu::calendar::Calendar;
use kuayu::ids::MessageKind;
use kuayu::workflow::deadlines;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::macros::date;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

use super::input::Input;
use super::world::world;

/// Periods longer than this are checked for ordering only (the exact rules are counted
/// day by day, which would make such cases slow).
const EXACT: u32 = 2000;

/// One case.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let mut calendar = calendar(&mut input);
    let text = serde_json::to_string(&calendar).expect("a calendar serialises");
    let back: Calendar = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("a calendar does not read back what it wrote: {e}\n{text}"));
    assert_eq!(back, calendar, "a calendar changed on its way through JSON");
    if mode & 1 == 1 {
        // Read a changed calendar, as an agreement would carry it.
        let mut json: Value = serde_json::from_str(&text).expect("calendar JSON parses");
        super::json::mutate(&mut json, &mut input, &world().agreement_dict);
        match serde_json::from_value(json) {
            Ok(c) => calendar = c,
            Err(_) => return,
        }
    }
    let start = instant(&mut input);
    let period = period(&mut input);
    periods(&calendar, start, period);
    let day = date(&mut input);
    warnings(&calendar, day, period);
    working_days(&calendar, day);
    if mode & 2 == 2 {
        agreement_deadlines(calendar, start, day, &mut input);
    }
}

fn date(input: &mut Input) -> Date {
    let min = Date::MIN.to_julian_day();
    let max = Date::MAX.to_julian_day();
    let base = date!(2026 - 01 - 01).to_julian_day();
    let jd = match input.byte() % 8 {
        0 => min + i32::from(input.byte()),
        1 => max - i32::from(input.byte()),
        2 => min + (input.u32() % (max - min + 1) as u32) as i32,
        _ => base + i32::from(i16::from_le_bytes([input.byte(), input.byte()])),
    };
    Date::from_julian_day(jd).unwrap_or(date!(2026 - 01 - 01))
}

fn offset(input: &mut Input) -> UtcOffset {
    match input.byte() % 4 {
        0 => UtcOffset::UTC,
        1 => UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC),
        _ => {
            let h = (input.byte() % 51) as i8 - 25;
            let m = (input.byte() % 119) as i8 - 59;
            let s = (input.byte() % 119) as i8 - 59;
            UtcOffset::from_hms(h, m, s).unwrap_or(UtcOffset::UTC)
        }
    }
}

fn instant(input: &mut Input) -> OffsetDateTime {
    let day = date(input);
    let time = Time::from_hms_milli(
        input.byte() % 24,
        input.byte() % 60,
        input.byte() % 60,
        u16::from(input.byte()) * 4 % 1000,
    )
    .unwrap_or(Time::MIDNIGHT);
    PrimitiveDateTime::new(day, time).assume_offset(offset(input))
}

fn period(input: &mut Input) -> Period {
    let n = input.count();
    match input.byte() % 5 {
        0 => Period::Days(n),
        1 => Period::WorkingDays(n),
        2 => Period::Hours(n),
        3 => Period::WorkingMinutes(n),
        _ => Period::Months(n),
    }
}

fn with_n(period: Period, n: u32) -> Period {
    match period {
        Period::Days(_) => Period::Days(n),
        Period::WorkingDays(_) => Period::WorkingDays(n),
        Period::Hours(_) => Period::Hours(n),
        Period::Months(_) => Period::Months(n),
        Period::WorkingMinutes(_) => Period::WorkingMinutes(n),
    }
}

fn n_of(period: Period) -> u32 {
    match period {
        Period::Days(n)
        | Period::WorkingDays(n)
        | Period::Hours(n)
        | Period::Months(n)
        | Period::WorkingMinutes(n) => n,
    }
}

fn calendar(input: &mut Input) -> Calendar {
    let utc_offset_hours = match input.byte() % 4 {
        0 => input.byte() as i8,
        _ => (input.byte() % 27) as i8 - 12,
    };
    let holidays = (0..input.below(24)).map(|_| date(input)).collect();
    let working_weekend_days = (0..input.below(8)).map(|_| date(input)).collect();
    Calendar {
        utc_offset_hours,
        holidays,
        working_weekend_days,
        ..Calendar::default()
    }
}

/// Whether `d` lies far enough from the ends of the supported range that no period
/// checked exactly can reach them.
fn inside(d: Date) -> bool {
    (-9000..=9000).contains(&d.year())
}

fn periods(calendar: &Calendar, start: OffsetDateTime, period: Period) {
    let due = calendar.due(start, period);
    if start.checked_to_offset(UtcOffset::UTC).is_none() {
        // Local time past either end of the calendar in UTC (what a payload's RFC 3339
        // text can say): any answer will do, as long as there is one.
        return;
    }
    assert!(
        due >= start,
        "{period:?} from {start} ends before it starts, at {due}"
    );
    let n = n_of(period);
    if let Some(next) = n.checked_add(1) {
        let longer = calendar.due(start, with_n(period, next));
        assert!(
            longer >= due,
            "{:?} from {start} ends at {longer}, before {period:?} ({due})",
            with_n(period, next)
        );
    }
    let day = calendar.local_date(start);
    if !inside(day) || n > EXACT {
        return;
    }
    if let Period::WorkingMinutes(_) = period {
        // Ends within working hours on a working day, checked by the calendar's own tests.
        return;
    }
    if let Period::Hours(n) = period {
        assert_eq!(
            due,
            start + Duration::hours(i64::from(n)),
            "hours are exact"
        );
        return;
    }
    let last = calendar.local_date(due - Duration::nanoseconds(1));
    assert_eq!(
        calendar.end_of(last),
        due,
        "{period:?} does not end at 24:00 local time"
    );
    match period {
        Period::Days(n) => {
            let nth = day + Duration::days(i64::from(n));
            assert!(last >= nth, "{period:?} from {day} ends on {last}");
            assert!(
                calendar.is_working_day(last),
                "{period:?} ends on a day off, {last}"
            );
            let mut d = nth;
            while d < last {
                assert!(
                    !calendar.is_working_day(d),
                    "{period:?} runs past working day {d}"
                );
                d = d.next_day().expect("inside the range");
            }
        }
        Period::WorkingDays(n) => {
            assert!(
                calendar.is_working_day(last),
                "{period:?} ends on a day off, {last}"
            );
            let mut count = 0;
            let mut d = day;
            while d < last {
                d = d.next_day().expect("inside the range");
                count += u32::from(calendar.is_working_day(d));
            }
            assert_eq!(count, n.max(1), "{period:?} from {day} ends on {last}");
        }
        Period::Months(n) => {
            let months = |d: Date| i64::from(d.year()) * 12 + i64::from(u8::from(d.month()));
            assert_eq!(
                months(last) - months(day),
                i64::from(n),
                "{period:?} from {day}"
            );
            let days = time::util::days_in_month(last.month(), last.year());
            assert_eq!(
                last.day(),
                day.day().min(days),
                "{period:?} from {day} ends on {last}"
            );
        }
        Period::Hours(_) | Period::WorkingMinutes(_) => {}
    }
}

fn warnings(calendar: &Calendar, day: Date, period: Period) {
    let end = calendar.end_of(day);
    let warn = calendar.before(day, period);
    assert!(
        warn <= end,
        "a warning {period:?} before {day} falls after it ends: {warn}"
    );
    if let Some(next) = n_of(period).checked_add(1) {
        let earlier = calendar.before(day, with_n(period, next));
        assert!(
            earlier <= warn,
            "a longer warning falls later: {earlier} > {warn}"
        );
    }
}

fn working_days(calendar: &Calendar, day: Date) {
    let weekend = matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday);
    let expected = calendar.working_weekend_days.contains(&day)
        || (!weekend && !calendar.holidays.contains(&day));
    assert_eq!(
        calendar.is_working_day(day),
        expected,
        "{day} ({})",
        day.weekday()
    );
    let start = calendar.start_of(day);
    assert!(start <= calendar.end_of(day), "{day} ends before it starts");
}

/// The agreement's deadlines on this calendar, from payloads that carry these dates.
fn agreement_deadlines(calendar: Calendar, start: OffsetDateTime, day: Date, input: &mut Input) {
    const NAMES: &[&str] = &[
        "acknowledge",
        "service.serve",
        "evidence.complete_or_explain",
        "preservation.decide",
        "preservation.lift",
        "preservation.lift_urgent",
        "printing.post",
        "freeze.expiry_warning",
        "freeze.bank_deposit",
        "freeze.movable",
        "freeze.real_estate",
        "freeze.other_right",
        "filing.acknowledge",
        "filing.docket_or_rule",
    ];
    let mut terms = world().sample.terms.clone();
    terms.calendar = Some(calendar);
    for _ in 0..input.below(6) {
        let name = *input.pick(NAMES);
        terms.deadlines.insert(name.to_owned(), period(input));
    }
    let text_date = format!("{day}");
    let text_time = start.format(&Rfc3339).unwrap_or_default();
    let asset = |kind: &str| json!({"type": kind, "expiresAt": text_date, "description": "x"});
    let result = json!({
        "status": "frozen",
        "frozenAt": text_time,
        "expiresAt": text_date,
        "assets": [asset("bank_deposit"), asset("movable"), asset("real_estate"), asset("other_right")],
    });
    let request = json!({
        "respondBy": text_date,
        "deadline": text_date,
        "mode": if input.bool() { "lift" } else { "freeze" },
        "urgency": if input.bool() { "URGENT" } else { "NORMAL" },
    });
    let kind = |k: &str| MessageKind::parse(k).expect("a message kind");
    for k in [
        "service.request",
        "printing.request",
        "evidence.request",
        "preservation.request",
        "filing.request",
    ] {
        for due in deadlines::on_receipt(&terms, &kind(k), &request, start) {
            let _ = kuayu::clock::unix_millis(due.due_at);
        }
    }
    let _ = deadlines::on_update(
        &terms,
        "delay_notice",
        &json!({"expectedCompletion": text_date}),
    );
    let _ = deadlines::on_update(
        &terms,
        "correction_needed",
        &json!({"correctBy": text_date}),
    );
    let _ = deadlines::restarted_by(&terms, &kind("filing.correction"), start);
    let _ = deadlines::on_result(&terms, &kind("preservation.result"), &result);
    let _ = deadlines::check_freeze_periods(&terms, &kind("preservation.result"), &result);
}
