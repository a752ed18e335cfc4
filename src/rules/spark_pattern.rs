//! Spark's datetime patterns (Java's DateTimeFormatter letters, parsed strictly and
//! case-insensitively): `yyyy` takes exactly four digits unsigned (more only after `+`), `MM`
//! exactly two, `M` one or more, `SSS` one to three; every letter must match and nothing may
//! follow; the result must be a real date and time (no `02-30`, no `23:59:60`). A letter this
//! engine does not read is refused when the rule is loaded, naming it.

use chrono::{NaiveDate, NaiveTime};

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Literal(String),
    /// A number: the field, its letter count.
    Number(Field, usize),
    MonthName {
        full: bool,
    },
    AmPm,
    /// `X`, `XX`, `XXX` (with `Z` for zero), `x…`, `Z` (without).
    Offset {
        colon: bool,
        zulu: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Year,
    Month,
    Day,
    Hour24,
    Hour12,
    Minute,
    Second,
    Fraction,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct SparkPattern {
    pieces: Vec<Piece>,
}

/// The values a text gave, before they are checked.
#[derive(Default)]
struct Values {
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
    hour: Option<i64>,
    hour12: Option<i64>,
    pm: Option<bool>,
    minute: i64,
    second: i64,
    micros: i64,
    offset_seconds: i64,
}

impl SparkPattern {
    /// Compiles `pattern`; the error names what Spark's patterns have that this one cannot read.
    pub fn compile(pattern: &str) -> Result<Self, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut pieces = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                let end = chars[i + 1..].iter().position(|&q| q == '\'').map(|p| i + 1 + p).ok_or("an unclosed quote")?;
                let text: String = if end == i + 1 { "'".into() } else { chars[i + 1..end].iter().collect() };
                pieces.push(Piece::Literal(text));
                i = end + 1;
                continue;
            }
            let count = chars[i..].iter().take_while(|&&x| x == c).count();
            i += count;
            pieces.push(match c {
                'y' | 'u' => Piece::Number(Field::Year, count),
                'M' | 'L' if count >= 3 => Piece::MonthName { full: count >= 4 },
                'M' | 'L' => Piece::Number(Field::Month, count),
                'd' => Piece::Number(Field::Day, count),
                'H' => Piece::Number(Field::Hour24, count),
                'h' => Piece::Number(Field::Hour12, count),
                'm' => Piece::Number(Field::Minute, count),
                's' => Piece::Number(Field::Second, count),
                'S' => Piece::Number(Field::Fraction, count),
                'a' => Piece::AmPm,
                'X' => Piece::Offset { colon: count >= 3, zulu: true },
                'x' => Piece::Offset { colon: count >= 3, zulu: false },
                'Z' => Piece::Offset { colon: count >= 4, zulu: false },
                letter if letter.is_ascii_alphabetic() => return Err(format!("the pattern letter {letter:?} is not supported")),
                other => Piece::Literal(std::iter::repeat_n(other, count).collect()),
            });
        }
        Ok(Self { pieces })
    }

    /// Whether `text` is a date-time in this pattern.
    pub fn matches(&self, text: &str) -> bool {
        self.parse(text).is_some()
    }

    /// `text` as microseconds since the epoch (UTC), when it is a date-time in this pattern.
    pub fn parse(&self, text: &str) -> Option<i64> {
        let mut values = Values::default();
        let mut rest = text;
        for (index, piece) in self.pieces.iter().enumerate() {
            rest = self.read(index, piece, rest, &mut values)?;
        }
        if !rest.is_empty() {
            return None;
        }
        values.resolve()
    }

    /// `micros` (since the epoch, UTC) written in this pattern, as Spark's `date_format` writes it.
    pub fn format(&self, micros: i64) -> Option<String> {
        let time = chrono::DateTime::from_timestamp_micros(micros)?.naive_utc();
        let mut text = String::new();
        for piece in &self.pieces {
            use chrono::{Datelike, Timelike};
            let number = |value: i64, width: usize| format!("{value:0width$}");
            match piece {
                Piece::Literal(literal) => text.push_str(literal),
                Piece::Number(Field::Year, 2) => text.push_str(&number(i64::from(time.year()).rem_euclid(100), 2)),
                Piece::Number(Field::Year, count) => {
                    let year = i64::from(time.year());
                    let sign = if year > 9999 && *count >= 4 { "+" } else { "" };
                    text.push_str(&format!("{sign}{}", number(year, *count)));
                }
                Piece::Number(Field::Month, count) => text.push_str(&number(i64::from(time.month()), *count)),
                Piece::Number(Field::Day, count) => text.push_str(&number(i64::from(time.day()), *count)),
                Piece::Number(Field::Hour24, count) => text.push_str(&number(i64::from(time.hour()), *count)),
                Piece::Number(Field::Hour12, count) => text.push_str(&number(i64::from((time.hour() + 11) % 12 + 1), *count)),
                Piece::Number(Field::Minute, count) => text.push_str(&number(i64::from(time.minute()), *count)),
                Piece::Number(Field::Second, count) => text.push_str(&number(i64::from(time.second()), *count)),
                Piece::Number(Field::Fraction, count) => {
                    let nanos = format!("{:09}", time.nanosecond());
                    text.push_str(&nanos[..(*count).min(9)]);
                }
                Piece::MonthName { full } => {
                    let name = time.format("%B").to_string();
                    text.push_str(if *full { &name } else { &name[..3] });
                }
                Piece::AmPm => text.push_str(if time.hour() < 12 { "AM" } else { "PM" }),
                Piece::Offset { zulu: true, .. } => text.push('Z'),
                Piece::Offset { colon, zulu: false } => text.push_str(if *colon { "+00:00" } else { "+0000" }),
            }
        }
        Some(text)
    }

    /// Reads `piece` at the start of `text` into `values`, returning what follows.
    fn read<'t>(&self, index: usize, piece: &Piece, text: &'t str, values: &mut Values) -> Option<&'t str> {
        match piece {
            Piece::Literal(literal) => {
                let head = text.get(..literal.len())?;
                head.eq_ignore_ascii_case(literal).then(|| &text[literal.len()..])
            }
            Piece::Number(field, count) => self.number(index, *field, *count, text, values),
            Piece::MonthName { full } => {
                const MONTHS: [&str; 12] =
                    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
                MONTHS.iter().enumerate().find_map(|(i, name)| {
                    let name = if *full { name } else { &name[..3] };
                    let head = text.get(..name.len())?;
                    head.eq_ignore_ascii_case(name).then(|| {
                        values.month = Some(i as i64 + 1);
                        &text[name.len()..]
                    })
                })
            }
            Piece::AmPm => {
                let head = text.get(..2)?;
                values.pm = Some(match head.to_ascii_uppercase().as_str() {
                    "AM" => false,
                    "PM" => true,
                    _ => return None,
                });
                Some(&text[2..])
            }
            Piece::Offset { colon, zulu } => offset(text, *colon, *zulu, values),
        }
    }

    /// A number field: fixed width for two letters (and `yyyy`'s four), else as many digits as
    /// there are, less those the adjacent number fields after it need (Java's adjacent parsing).
    fn number<'t>(&self, index: usize, field: Field, count: usize, text: &'t str, values: &mut Values) -> Option<&'t str> {
        let (sign, body) = match text.as_bytes().first() {
            Some(b'+') if field == Field::Year && count >= 4 => (1, &text[1..]),
            Some(b'-') if field == Field::Year && count >= 4 => (-1, &text[1..]),
            _ => (0, text),
        };
        let available = body.bytes().take_while(u8::is_ascii_digit).count();
        let reserved: usize = self.pieces[index + 1..]
            .iter()
            .map_while(|p| match p {
                Piece::Number(_, width) => Some(*width),
                _ => None,
            })
            .sum();
        let (min, max) = match (field, count) {
            (Field::Fraction, n) => (1, n),
            (Field::Year, 2) => (2, 2),
            (Field::Year, n) if n >= 4 && sign == 1 => (n + 1, 10),
            (Field::Year, n) if n >= 4 && sign == -1 => (n, 10),
            (Field::Year, n) if n >= 3 => (n, n),
            (_, 2) => (2, 2),
            (_, n) => (n, 19),
        };
        let width = available.saturating_sub(reserved).min(max);
        if width < min {
            return None;
        }
        let digits = &body[..width];
        let value: i64 = digits.parse().ok()?;
        match field {
            Field::Year if count == 2 => values.year = Some(2000 + value),
            Field::Year => values.year = Some(if sign == -1 { -value } else { value }),
            Field::Month => values.month = Some(value),
            Field::Day => values.day = Some(value),
            Field::Hour24 => values.hour = Some(value),
            Field::Hour12 => values.hour12 = Some(value),
            Field::Minute => values.minute = value,
            Field::Second => values.second = value,
            Field::Fraction => values.micros = format!("{digits:0<6}")[..6].parse().ok()?,
        }
        Some(&body[width..])
    }
}

/// `Z` (when allowed) or `±HH[[:]MM]`.
fn offset<'t>(text: &'t str, colon: bool, zulu: bool, values: &mut Values) -> Option<&'t str> {
    if zulu && let Some(rest) = text.strip_prefix(['Z', 'z']) {
        return Some(rest);
    }
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours: i64 = text.get(1..3)?.parse().ok()?;
    let after_hours = &text[3..];
    let (minutes, rest) = if colon {
        let minutes = after_hours.strip_prefix(':')?;
        (minutes.get(..2)?.parse().ok()?, &minutes[2..])
    } else {
        match after_hours.get(..2).and_then(|m| m.parse::<i64>().ok()) {
            Some(minutes) => (minutes, &after_hours[2..]),
            None => (0, after_hours),
        }
    };
    values.offset_seconds = sign * (hours * 3600 + minutes * 60);
    Some(rest)
}

impl Values {
    /// The instant, when every field is in range (Spark's STRICT resolver).
    fn resolve(&self) -> Option<i64> {
        let hour = match (self.hour, self.hour12, self.pm) {
            (Some(hour), _, _) => hour,
            (None, Some(hour12), pm) if (1..=12).contains(&hour12) => hour12 % 12 + if pm == Some(true) { 12 } else { 0 },
            (None, Some(_), _) => return None,
            (None, None, _) => 0,
        };
        let year = i32::try_from(self.year.unwrap_or(1970)).ok()?;
        let date = NaiveDate::from_ymd_opt(year, u32::try_from(self.month.unwrap_or(1)).ok()?, u32::try_from(self.day.unwrap_or(1)).ok()?)?;
        let time = NaiveTime::from_hms_micro_opt(
            u32::try_from(hour).ok()?,
            u32::try_from(self.minute).ok()?,
            u32::try_from(self.second).ok()?,
            u32::try_from(self.micros).ok()?,
        )?;
        (self.second < 60).then_some(())?;
        date.and_time(time).and_utc().timestamp_micros().checked_sub(self.offset_seconds * 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (pattern, texts Spark 4.3's try_to_timestamp accepts, texts it refuses).
    #[test]
    fn patterns_accept_what_spark_accepts() {
        let cases: [(&str, &[&str], &[&str]); 6] = [
            (
                "yyyy-MM-dd",
                &["2024-01-31", "2024-02-29", "+10000-01-01", "-2024-01-31", "0000-01-01", "9999-12-31"],
                &["2024-1-5", " 2024-01-31", "2024-01-31 ", "+2024-01-31", "10000-01-01", "2024-02-30", "2023-02-29", "20240131", "24-01-31"],
            ),
            ("yyyy-M-d", &["2024-1-5", "2010-05-11", "2024-001-01", "2024-01-5"], &["2024-13-01", "2024-1-", "2024/1/5"]),
            ("yyyyMMdd", &["20240131"], &["202401", "2024013", "2024-01-31"]),
            ("dd-MM-yyyy", &["31-01-2024"], &["24-01-31", "1-01-2024"]),
            (
                "yyyy-MM-dd'T'HH:mm:ss.SSS",
                &["2024-01-31T10:20:30.123", "2024-01-31t10:20:30.1"],
                &["2024-01-31T10:20:30.123Z", "2024-01-31T10:20:30.1234"],
            ),
            ("yyyy-MM-dd HH:mm:ss", &["2024-01-31 10:20:30"], &["2024-01-31 23:59:60", "2024-01-31 24:00:00", "2024-01-31 10:20"]),
        ];
        for (pattern, accepted, refused) in cases {
            let compiled = SparkPattern::compile(pattern).unwrap();
            for text in accepted {
                assert!(compiled.matches(text), "{pattern} accepts {text:?}");
            }
            for text in refused {
                assert!(!compiled.matches(text), "{pattern} refuses {text:?}");
            }
        }
        assert!(SparkPattern::compile("yyyy-ww").unwrap_err().contains("'w'"));
        let moment = SparkPattern::compile("yyyy-MM-dd HH:mm:ss").unwrap().parse("2024-01-31 15:04:05").unwrap() + 120_000;
        assert_eq!(SparkPattern::compile("yyyy-MM dd.MMM h a SSS 'T'").unwrap().format(moment).unwrap(), "2024-01 31.Jan 3 PM 120 T");
    }
}
