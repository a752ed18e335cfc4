//! The calendar dimensions: `dim_date` (one row per day, with fiscal quarter, ISO week and US
//! retail holidays) and `dim_time` (one row per 15-minute slot of a day).

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Date32Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{Field, Schema};
use chrono::{Datelike, NaiveDate, Weekday};

use crate::generate::fiscal_quarter;

/// Years of `dim_date` before the year it is written in, and after.
pub const YEARS_BACK: i32 = 3;
pub const YEARS_FORWARD: i32 = 1;

/// Minutes in one `dim_time` slot.
pub const SLOT_MINUTES: u32 = 15;

/// `dim_date` for the calendar years `first_year..=last_year`.
pub fn dim_date(first_year: i32, last_year: i32) -> Result<RecordBatch, arrow::error::ArrowError> {
    let days: Vec<NaiveDate> =
        NaiveDate::from_ymd_opt(first_year, 1, 1).into_iter().flat_map(|first| first.iter_days()).take_while(|day| day.year() <= last_year).collect();
    let text = |f: &dyn Fn(&NaiveDate) -> String| Arc::new(StringArray::from_iter_values(days.iter().map(f))) as ArrayRef;
    let int = |f: &dyn Fn(&NaiveDate) -> i32| Arc::new(Int32Array::from_iter_values(days.iter().map(f))) as ArrayRef;
    let flag = |f: &dyn Fn(&NaiveDate) -> bool| Arc::new(BooleanArray::from_iter(days.iter().map(|d| Some(f(d))))) as ArrayRef;
    let holidays: Vec<Option<&'static str>> = days.iter().map(|d| holiday(*d)).collect();
    let columns: Vec<(&str, bool, ArrayRef)> = vec![
        ("date_key", false, Arc::new(Date32Array::from_iter_values(days.iter().map(|d| d.to_epoch_days())))),
        ("year", false, int(&|d| d.year())),
        ("quarter", false, int(&|d| d.month0() as i32 / 3 + 1)),
        ("month", false, int(&|d| d.month() as i32)),
        ("month_name", false, text(&|d| d.format("%B").to_string())),
        ("day_of_month", false, int(&|d| d.day() as i32)),
        ("day_of_week", false, int(&|d| d.weekday().number_from_monday() as i32)),
        ("day_name", false, text(&|d| d.format("%A").to_string())),
        ("iso_year", false, int(&|d| d.iso_week().year())),
        ("iso_week", false, int(&|d| d.iso_week().week() as i32)),
        ("fiscal_quarter", false, text(&|d| fiscal_quarter(*d))),
        ("is_weekend", false, flag(&|d| matches!(d.weekday(), Weekday::Sat | Weekday::Sun))),
        ("is_holiday", false, flag(&|d| holiday(*d).is_some())),
        ("holiday_name", true, Arc::new(StringArray::from(holidays))),
    ];
    batch(columns)
}

/// `dim_time`: slot 0 is 00:00–00:15, slot 95 is 23:45–24:00.
pub fn dim_time() -> Result<RecordBatch, arrow::error::ArrowError> {
    let slots: Vec<u32> = (0..24 * 60 / SLOT_MINUTES).collect();
    let minutes = |slot: u32| slot * SLOT_MINUTES;
    let int = |f: &dyn Fn(u32) -> u32| Arc::new(Int32Array::from_iter_values(slots.iter().map(|s| f(*s) as i32))) as ArrayRef;
    let columns: Vec<(&str, bool, ArrayRef)> = vec![
        ("time_slot", false, int(&|s| s)),
        (
            "slot_start",
            false,
            Arc::new(StringArray::from_iter_values(slots.iter().map(|s| format!("{:02}:{:02}", minutes(*s) / 60, minutes(*s) % 60)))),
        ),
        ("hour", false, int(&|s| minutes(s) / 60)),
        ("minute", false, int(&|s| minutes(s) % 60)),
        ("day_part", false, Arc::new(StringArray::from_iter_values(slots.iter().map(|s| day_part(minutes(*s) / 60))))),
        ("is_business_hours", false, Arc::new(BooleanArray::from_iter(slots.iter().map(|s| Some((9..18).contains(&(minutes(*s) / 60))))))),
    ];
    batch(columns)
}

/// The slot of a time of day, as facts carry it: `hour * 4 + minute / 15`.
pub fn time_slot(hour: u32, minute: u32) -> u32 {
    (hour * 60 + minute) / SLOT_MINUTES
}

fn day_part(hour: u32) -> &'static str {
    match hour {
        0..6 => "night",
        6..12 => "morning",
        12..18 => "afternoon",
        _ => "evening",
    }
}

/// The US retail holidays (fixed dates and the weekday rules), by name.
pub fn holiday(day: NaiveDate) -> Option<&'static str> {
    let nth = |weekday: Weekday, n: u8| NaiveDate::from_weekday_of_month_opt(day.year(), day.month(), weekday, n) == Some(day);
    let last_monday = day.weekday() == Weekday::Mon && (day + chrono::Days::new(7)).month() != day.month();
    match (day.month(), day.day()) {
        (1, 1) => Some("New Year's Day"),
        (7, 4) => Some("Independence Day"),
        (12, 24) => Some("Christmas Eve"),
        (12, 25) => Some("Christmas Day"),
        (12, 31) => Some("New Year's Eve"),
        (1, _) if nth(Weekday::Mon, 3) => Some("Martin Luther King Jr. Day"),
        (5, _) if last_monday => Some("Memorial Day"),
        (9, _) if nth(Weekday::Mon, 1) => Some("Labor Day"),
        (11, _) if nth(Weekday::Thu, 4) => Some("Thanksgiving"),
        (11, _) if day.pred_opt().is_some_and(|eve| eve.weekday() == Weekday::Thu && holiday(eve) == Some("Thanksgiving")) => Some("Black Friday"),
        _ => None,
    }
}

/// A batch of named columns, each typed as its array is.
pub(super) fn batch(columns: Vec<(&str, bool, ArrayRef)>) -> Result<RecordBatch, arrow::error::ArrowError> {
    let fields: Vec<Field> = columns.iter().map(|(name, nullable, array)| Field::new(*name, array.data_type().clone(), *nullable)).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns.into_iter().map(|(_, _, array)| array).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holidays_follow_their_rules() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(holiday(day(2026, 11, 26)), Some("Thanksgiving"));
        assert_eq!(holiday(day(2026, 11, 27)), Some("Black Friday"));
        assert_eq!(holiday(day(2026, 5, 25)), Some("Memorial Day"));
        assert_eq!(holiday(day(2026, 9, 7)), Some("Labor Day"));
        assert_eq!(holiday(day(2026, 12, 25)), Some("Christmas Day"));
        assert_eq!(holiday(day(2026, 11, 19)), None);
    }

    #[test]
    fn calendars_cover_their_span() {
        let dates = dim_date(2023, 2027).unwrap();
        assert_eq!(dates.num_rows(), 365 * 5 + 1, "2024 is a leap year");
        assert_eq!(dim_time().unwrap().num_rows(), 96);
        assert_eq!(time_slot(23, 59), 95);
    }
}
