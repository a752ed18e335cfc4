//! Values printed as Spark's `cast(x as string)` prints them, for DQX-identical messages:
//! doubles as Java's `Double.toString` (`55862.2`, `1.0E7`), decimals with their scale,
//! timestamps as `yyyy-MM-dd HH:mm:ss[.ffffff]` in UTC.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt32Type, UInt64Type,
};

use super::fingerprint::{plain, shortest_digits};

/// The value at `row`, or `None` when null.
pub fn value_text(array: &dyn Array, row: usize) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    let text = match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(row).to_owned(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(row).to_owned(),
        DataType::Utf8View => array.as_string_view().value(row).to_owned(),
        DataType::Boolean => array.as_boolean().value(row).to_string(),
        DataType::Int8 => array.as_primitive::<Int8Type>().value(row).to_string(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(row).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).to_string(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row).to_string(),
        DataType::Float64 => java_double(array.as_primitive::<Float64Type>().value(row)),
        DataType::Float32 => java_float(array.as_primitive::<Float32Type>().value(row)),
        DataType::Decimal128(_, scale) => decimal(array.as_primitive::<Decimal128Type>().value(row), *scale),
        DataType::Date32 => date(array.as_primitive::<Date32Type>().value(row)),
        DataType::Timestamp(unit, _) => timestamp(array, row, *unit)?,
        _ => arrow::util::display::ArrayFormatter::try_new(array, &Default::default()).ok()?.value(row).to_string(),
    };
    Some(text)
}

/// Java's `Double.toString`: plain between 10^-3 and 10^7, else `d.dddE±n`; always a fraction.
pub fn java_double(value: f64) -> String {
    // Java before 19 prints the smallest subnormal with two digits, not the shortest one.
    let smallest = value.abs() == f64::from_bits(1);
    java_number(value, value.is_nan(), value.is_infinite(), smallest.then_some("4.9E-324"), || shortest_digits(value))
}

/// Java's `Float.toString`: the shortest digits of the float (not of the double it widens to).
pub fn java_float(value: f32) -> String {
    let smallest = value.abs() == f32::from_bits(1);
    let digits = || {
        let text = format!("{:e}", value.abs());
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        (value.is_sign_negative(), mantissa.chars().filter(char::is_ascii_digit).collect(), exponent.parse().unwrap_or(0))
    };
    java_number(f64::from(value), value.is_nan(), value.is_infinite(), smallest.then_some("1.4E-45"), digits)
}

fn java_number(value: f64, nan: bool, infinite: bool, smallest: Option<&str>, digits: impl Fn() -> (bool, String, i32)) -> String {
    if nan {
        return "NaN".to_owned();
    }
    if infinite {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    if let Some(smallest) = smallest {
        return if value < 0.0 { format!("-{smallest}") } else { smallest.to_owned() };
    }
    let (negative, digits, exponent) = digits();
    let sign = if negative { "-" } else { "" };
    if (-3..7).contains(&exponent) {
        format!("{sign}{}", plain(&digits, exponent, ".0"))
    } else {
        let fraction = if digits.len() > 1 { &digits[1..] } else { "0" };
        format!("{sign}{}.{fraction}E{exponent}", &digits[..1])
    }
}

fn decimal(unscaled: i128, scale: i8) -> String {
    if scale <= 0 {
        return (unscaled * 10_i128.pow(u32::from(scale.unsigned_abs()))).to_string();
    }
    let scale = scale as u32;
    let divisor = 10_i128.pow(scale);
    let sign = if unscaled < 0 { "-" } else { "" };
    let magnitude = unscaled.unsigned_abs();
    format!("{sign}{}.{:0width$}", magnitude / divisor as u128, magnitude % divisor as u128, width = scale as usize)
}

fn date(days: i32) -> String {
    chrono::DateTime::from_timestamp(i64::from(days) * 86_400, 0).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

fn timestamp(array: &dyn Array, row: usize, unit: TimeUnit) -> Option<String> {
    let micros = match unit {
        TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row) * 1_000_000,
        TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(row) * 1_000,
        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(row),
        TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(row) / 1_000,
    };
    Some(timestamp_micros(micros))
}

/// Spark's timestamp text: seconds always, the fraction only when non-zero, trailing zeros cut.
pub fn timestamp_micros(micros: i64) -> String {
    let Some(time) = chrono::DateTime::from_timestamp_micros(micros) else { return micros.to_string() };
    let base = time.format("%Y-%m-%d %H:%M:%S").to_string();
    let fraction = micros.rem_euclid(1_000_000);
    if fraction == 0 { base } else { format!("{base}.{}", format!("{fraction:06}").trim_end_matches('0')) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        for (value, text) in [
            (55862.2, "55862.2"),
            (50000.0, "50000.0"),
            (1e7, "1.0E7"),
            (12345678.9, "1.23456789E7"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (-0.5, "-0.5"),
            (5e-324, "4.9E-324"),
            (-0.0, "-0.0"),
        ] {
            assert_eq!(java_double(value), text, "{value}");
        }
        for (value, text) in [(0.1_f32, "0.1"), (1e7_f32, "1.0E7"), (f32::from_bits(1), "1.4E-45"), (-2.5_f32, "-2.5")] {
            assert_eq!(java_float(value), text, "{value}");
        }
    }

    #[test]
    fn decimals_keep_their_scale_and_timestamps_trim_fractions() {
        assert_eq!(decimal(-1250, 2), "-12.50");
        assert_eq!(decimal(5, 2), "0.05");
        assert_eq!(timestamp_micros(1_735_689_600_000_000), "2025-01-01 00:00:00");
        assert_eq!(timestamp_micros(1_735_689_600_120_000), "2025-01-01 00:00:00.12");
    }
}
