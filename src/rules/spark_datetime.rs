//! Text to dates and timestamps as Spark reads them: `CAST(s AS DATE|TIMESTAMP)` (and
//! `to_date`/`to_timestamp` without a pattern), and DateTimeFormatter patterns (`yyyy-MM-dd`,
//! `yyyy-MM-dd'T'HH:mm:ss.SSS`, …) parsed strictly, as `try_to_timestamp(s, fmt)` does for
//! DQX's `is_valid_date`/`is_valid_timestamp`.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone};

/// A parsed local date-time and the UTC offset it was written with (seconds; `None`: UTC).
type Parsed = (NaiveDateTime, Option<i32>);

/// Spark's `CAST(text AS TIMESTAMP)`, as microseconds since the epoch (UTC session time zone).
/// `today` is the date a time-only text (`10:20:30`, `T10:20:30`) falls on.
pub fn cast_timestamp(text: &str, today: NaiveDate) -> Option<i64> {
    let text = trim_all(text);
    let (date, rest) = match text.strip_prefix('T') {
        Some(time) => (today, Some(time)),
        None if time_only(text) => (today, Some(text)),
        None => {
            let (date, rest) = date_prefix(text)?;
            match rest.chars().next() {
                None => (date, None),
                Some(' ' | 'T') => (date, Some(&rest[1..])),
                Some(_) => return None,
            }
        }
    };
    let (local, offset) = match rest {
        None => (date.and_time(NaiveTime::MIN), None),
        Some(rest) => time_and_zone(date, rest)?,
    };
    to_utc_micros(local, offset)
}

/// Spark's `CAST(text AS DATE)`: a date, then nothing or anything after a space or `T`.
pub fn cast_date(text: &str) -> Option<NaiveDate> {
    let (date, rest) = date_prefix(trim_all(text))?;
    matches!(rest.chars().next(), None | Some(' ' | 'T')).then_some(date)
}

/// Spark trims whitespace and control characters from both ends before casting.
fn trim_all(text: &str) -> &str {
    text.trim_matches(|c: char| c <= ' ')
}

fn time_only(text: &str) -> bool {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    (1..=2).contains(&digits) && text.as_bytes().get(digits) == Some(&b':')
}

/// `[+-]yyyy[y..][-[m]m[-[d]d]]` and what follows it.
fn date_prefix(text: &str) -> Option<(NaiveDate, &str)> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (year, mut rest) = digits(body, 4, 7)?;
    let mut fields = [1u32, 1u32];
    for field in &mut fields {
        let Some(after_dash) = rest.strip_prefix('-') else { break };
        let (value, after) = digits(after_dash, 1, 2)?;
        *field = u32::try_from(value).ok()?;
        rest = after;
    }
    let year = i32::try_from(year).ok()?;
    let date = NaiveDate::from_ymd_opt(if negative { -year } else { year }, fields[0], fields[1])?;
    Some((date, rest))
}

/// `min..=max` ASCII digits at the start of `text`, and what follows them.
fn digits(text: &str, min: usize, max: usize) -> Option<(i64, &str)> {
    let count = text.bytes().take_while(u8::is_ascii_digit).count();
    if count < min || count > max {
        return None;
    }
    Some((text[..count].parse().ok()?, &text[count..]))
}

/// `[h]h[:[m]m[:[s]s[.fraction]]]` then an optional zone.
fn time_and_zone(date: NaiveDate, text: &str) -> Option<Parsed> {
    let (hour, mut rest) = digits(text, 1, 2)?;
    let mut parts = [0i64, 0i64];
    let mut parsed = 0;
    for part in &mut parts {
        let Some(after_colon) = rest.strip_prefix(':') else { break };
        let (value, after) = digits(after_colon, 1, 2)?;
        *part = value;
        rest = after;
        parsed += 1;
    }
    let mut micros = 0;
    if let Some(fraction) = rest.strip_prefix('.').filter(|_| parsed == 2) {
        // Digits beyond microseconds are dropped, as Spark does.
        let count = fraction.bytes().take_while(u8::is_ascii_digit).count();
        let kept: String = fraction[..count].chars().chain(std::iter::repeat('0')).take(6).collect();
        micros = kept.parse().ok()?;
        rest = &fraction[count..];
    }
    let time = NaiveTime::from_hms_micro_opt(u32::try_from(hour).ok()?, u32::try_from(parts[0]).ok()?, u32::try_from(parts[1]).ok()?, micros)?;
    let offset = zone_offset(rest.trim_start_matches(' '), date.and_time(time))?;
    Some((date.and_time(time), offset))
}

/// A zone after a time: none, `Z`, `±h[h][[:]mm]`, `UTC`/`GMT`/`UT` with an optional offset, or
/// a region (`Europe/Paris`, `PST`); `None` when it is not a zone. Returns the offset in seconds.
fn zone_offset(zone: &str, local: NaiveDateTime) -> Option<Option<i32>> {
    if zone.is_empty() {
        return Some(None);
    }
    if zone == "Z" {
        return Some(Some(0));
    }
    for prefix in ["UTC", "GMT", "UT"] {
        if let Some(offset) = zone.strip_prefix(prefix) {
            return if offset.is_empty() { Some(Some(0)) } else { numeric_offset(offset).map(Some) };
        }
    }
    if zone.starts_with(['+', '-']) {
        return numeric_offset(zone).map(Some);
    }
    let id = short_zone_id(zone).unwrap_or(zone);
    let tz: chrono_tz::Tz = id.parse().ok()?;
    let offset = tz.offset_from_local_datetime(&local).earliest()?;
    Some(Some(chrono::Offset::fix(&offset).local_minus_utc()))
}

/// `±h`, `±hh`, `±hh:mm`, `±hhmm` as seconds east of UTC.
fn numeric_offset(text: &str) -> Option<i32> {
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &text[1..];
    let (hours, minutes) = match (body.len(), body.find(':')) {
        (1 | 2, None) => (body, "0"),
        (4, None) => (&body[..2], &body[2..]),
        (_, Some(colon)) => (&body[..colon], &body[colon + 1..]),
        _ => return None,
    };
    if !hours.bytes().chain(minutes.bytes()).all(|b| b.is_ascii_digit()) || hours.is_empty() || hours.len() > 2 || minutes.len() > 2 {
        return None;
    }
    let (hours, minutes): (i32, i32) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours <= 18 && minutes < 60).then_some(sign * (hours * 3600 + minutes * 60))
}

/// Java's `ZoneId.SHORT_IDS`, which Spark accepts (EST, MST and HST are fixed offsets).
fn short_zone_id(id: &str) -> Option<&'static str> {
    const SHORT_IDS: [(&str, &str); 28] = [
        ("ACT", "Australia/Darwin"),
        ("AET", "Australia/Sydney"),
        ("AGT", "America/Argentina/Buenos_Aires"),
        ("ART", "Africa/Cairo"),
        ("AST", "America/Anchorage"),
        ("BET", "America/Sao_Paulo"),
        ("BST", "Asia/Dhaka"),
        ("CAT", "Africa/Harare"),
        ("CNT", "America/St_Johns"),
        ("CST", "America/Chicago"),
        ("CTT", "Asia/Shanghai"),
        ("EAT", "Africa/Addis_Ababa"),
        ("ECT", "Europe/Paris"),
        ("IET", "America/Indiana/Indianapolis"),
        ("IST", "Asia/Kolkata"),
        ("JST", "Asia/Tokyo"),
        ("MIT", "Pacific/Apia"),
        ("NET", "Asia/Yerevan"),
        ("NST", "Pacific/Auckland"),
        ("PLT", "Asia/Karachi"),
        ("PNT", "America/Phoenix"),
        ("PRT", "America/Puerto_Rico"),
        ("PST", "America/Los_Angeles"),
        ("SST", "Pacific/Guadalcanal"),
        ("VST", "Asia/Ho_Chi_Minh"),
        ("EST", "Etc/GMT+5"),
        ("MST", "Etc/GMT+7"),
        ("HST", "Etc/GMT+10"),
    ];
    SHORT_IDS.iter().find(|(short, _)| *short == id).map(|(_, long)| *long)
}

fn to_utc_micros(local: NaiveDateTime, offset: Option<i32>) -> Option<i64> {
    let utc = local.and_utc().timestamp_micros();
    utc.checked_sub(i64::from(offset.unwrap_or(0)) * 1_000_000)
}

pub use super::spark_pattern::SparkPattern;

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()
    }

    /// Spark 4.3's `try_cast(s AS TIMESTAMP)` and `try_cast(s AS DATE)` on the same texts.
    #[test]
    fn casts_read_text_as_spark_does() {
        let valid_timestamps = [
            "\t2024-01-31\n",
            " 2024-01-31",
            "+2024-01-31",
            "-2024-01-31",
            "0000-01-01",
            "10000-01-01",
            "202401",
            "2024",
            "2024-1",
            "2024-1-5 1:2:3",
            "2024-01-31T10",
            "2024-01-31T10:20:30.",
            "2024-01-31T10:20:30.1234567Z",
            "2024-01-31 10:20:30 UTC+01:00",
            "2024-01-31 10:20:30GMT+1",
            "2024-01-31T10:20:30-0800",
            "2024-01-31 10:20:30 Europe/Paris",
            "2024-01-31T10:20:30 PST",
            "10:20:30",
            "T10:20:30",
        ];
        for text in valid_timestamps {
            assert!(cast_timestamp(text, today()).is_some(), "{text:?} is a timestamp");
        }
        let invalid = ["", "1-01-01", "123-01-01", "20240131", "24-01-31", "2024-", "2024-01-", "2024-02-30", "2024-13-01", "2024-01-31x"];
        for text in invalid.iter().chain(&["2024-01-31 x", "2024-01-31 24:00:00", "2024-01-31 23:59:60", "2024-01-31T25:00:00", "2024/01/31"]) {
            assert!(cast_timestamp(text, today()).is_none(), "{text:?} is not a timestamp");
        }
        assert_eq!(cast_timestamp("2024-01-31 10:20:30 +01:00", today()), cast_timestamp("2024-01-31T09:20:30Z", today()));
        assert_eq!(cast_timestamp("2024-01-31T10:20:30 PST", today()), cast_timestamp("2024-01-31 18:20:30", today()));
        for text in ["2024-01-31 x", "2024-01-31Tx", "2024-01-31 23:59:60", "202401"] {
            assert!(cast_date(text).is_some(), "{text:?} is a date");
        }
        for text in invalid.iter().chain(&["10:20:30", "T10:20:30"]) {
            assert!(cast_date(text).is_none(), "{text:?} is not a date");
        }
    }
}
