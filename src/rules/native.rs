//! Checks evaluated natively over Arrow arrays rather than through SQL: address and identifier
//! patterns, ISO 4217 codes, decimal places, date/time parsing and per-batch uniqueness.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, SortField};
use regex::Regex;

use super::compile::{Condition, Part, expr};
use super::spark_text::value_text;
use super::spec::{FieldProblem, Rule};
use super::sql::{CompiledExpr, SqlPlanner};

/// Which native predicate a check uses.
#[derive(Debug, Clone)]
pub enum NativeKind {
    /// Valid when the text matches (NULL passes).
    Pattern(&'static Regex),
    Email,
    CurrencyCode {
        numeric: bool,
        case_sensitive: bool,
    },
    DecimalPlaces {
        limit: CompiledExpr,
    },
    /// Valid when the text is a timestamp as Spark's `try_to_timestamp` reads it: in the
    /// pattern, or without one as a cast reads it (NULL passes, dates and timestamps are valid).
    DateTime {
        pattern: Option<super::spark_datetime::SparkPattern>,
    },
    /// Fails on rows whose key occurs more than once in the batch.
    Unique {
        keys: Vec<CompiledExpr>,
        nulls_distinct: bool,
    },
}

/// Which rows fail, and per failing row the end of its message when the check has its own.
pub type NativeOutcome = (BooleanArray, Option<Vec<Option<String>>>);

#[derive(Debug, Clone)]
pub struct NativeCheck {
    /// The checked value (the first key for uniqueness).
    pub value: CompiledExpr,
    pub kind: NativeKind,
}

static UUID: LazyLock<Regex> = LazyLock::new(|| pattern(r"\A[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\z"));
static UUID_STRICT: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"\A[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[1-8][0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}\z"));
const OCTET: &str = r"(25[0-5]|2[0-4]\d|1\d{2}|[1-9]?\d)";
static IPV4: LazyLock<Regex> = LazyLock::new(|| pattern(&format!(r"\A{OCTET}\.{OCTET}\.{OCTET}\.{OCTET}\z")));
/// RFC 5322 dot-atom or quoted local part, LDH domain with an alphabetic TLD or an IP literal;
/// DQX's length look-aheads (254 overall, 64 local) are checked in code.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    let atext = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]";
    let label = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    pattern(&format!(
        r#"\A(?:{atext}+(?:\.{atext}+)*|"(?:[\x21\x23-\x5B\x5D-\x7E]|\\[\x09\x20-\x7E])*")@(?:(?:{label}\.)+[A-Za-z]{{2,63}}|\[(?:{OCTET}(?:\.{OCTET}){{3}}|IPv6:[A-Fa-f0-9:]+)\])\z"#
    ))
});
/// DQX's pattern, whose `\d` is Java's ASCII digit.
static DECIMAL_NUMBER: LazyLock<Regex> = LazyLock::new(|| pattern(r"\A[+-]?([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?\z"));
/// Looked up per row: sets, since comparing a value with each of the 178 codes in turn was
/// 7.6% of silver's CPU on the built-in purchase-order rules.
static CURRENCIES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| include_str!("iso_4217_alphabetic.txt").lines().collect());
static CURRENCY_NUMBERS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| include_str!("iso_4217_numeric.txt").lines().collect());

#[allow(clippy::expect_used)] // constant patterns, covered by the unit tests
fn pattern(text: &str) -> Regex {
    Regex::new(text).expect("built-in pattern compiles")
}

/// A planned expression, or the field and message of why it could not be planned.
type PlannedExpr = Result<CompiledExpr, FieldProblem>;

/// Plans the checks implemented here.
pub fn compile(rule: &Rule, planner: &SqlPlanner, c: &str) -> Result<(Condition, Vec<Part>), FieldProblem> {
    let column = rule.column();
    let value = |sql: &str| expr(planner, sql, "check.arguments.column");
    let value_message =
        |suffix: String| -> Result<Vec<Part>, FieldProblem> { Ok(vec![Part::Text("Value '".into()), Part::Value(value(c)?), Part::Text(suffix)]) };
    let native = |kind| -> Result<Condition, FieldProblem> { Ok(Condition::Native(NativeCheck { value: value(c)?, kind })) };
    let pattern_name = |name: &str| format!("' in Column '{column}' does not match pattern '{name}'");
    match rule.function.name {
        "is_valid_email" => Ok((native(NativeKind::Email)?, value_message(pattern_name("EMAIL_ADDRESS"))?)),
        "is_valid_ipv4_address" => Ok((native(NativeKind::Pattern(&IPV4))?, value_message(pattern_name("IPV4_ADDRESS"))?)),
        "is_valid_uuid" if rule.flag("strict", false) => {
            Ok((native(NativeKind::Pattern(&UUID_STRICT))?, value_message(pattern_name("UUID_STRICT"))?))
        }
        "is_valid_uuid" => Ok((native(NativeKind::Pattern(&UUID))?, value_message(pattern_name("UUID"))?)),
        "is_valid_currency_code" => {
            let format = rule.text("code_format").unwrap_or("alphabetic").to_lowercase();
            if format != "alphabetic" && format != "numeric" {
                return Err(FieldProblem::new("check.arguments.code_format", format!("{format:?} is not `alphabetic` or `numeric`")));
            }
            let kind = NativeKind::CurrencyCode { numeric: format == "numeric", case_sensitive: rule.flag("case_sensitive", true) };
            Ok((native(kind)?, value_message(format!("' in Column '{column}' is not a valid ISO 4217 currency code"))?))
        }
        "has_num_decimal_places" => {
            // The ending (why the value fails) is the check's own: see `decimal_places_ending`.
            let limit_sql = super::compile::limit_sql(rule.arg("limit").unwrap_or(&serde_yaml::Value::Null));
            let limit = expr(planner, &limit_sql, "check.arguments.limit")?;
            Ok((native(NativeKind::DecimalPlaces { limit })?, value_message(format!("' in Column '{column}' "))?))
        }
        "is_valid_date" | "is_valid_timestamp" => date_time(rule, c, &value),
        "is_unique" => unique(rule, planner),
        "is_not_in_future" | "is_not_in_near_future" | "is_older_than_n_days" | "is_data_fresh" => super::time::compile(rule, planner, c),
        other => Err(FieldProblem::new("check.function", format!("{other} is not implemented"))),
    }
}

fn date_time(rule: &Rule, c: &str, value: &dyn Fn(&str) -> PlannedExpr) -> Result<(Condition, Vec<Part>), FieldProblem> {
    let date_only = rule.function.name == "is_valid_date";
    let (key, what) = if date_only { ("date_format", "date") } else { ("timestamp_format", "timestamp") };
    let pattern = rule
        .text(key)
        .map(super::spark_datetime::SparkPattern::compile)
        .transpose()
        .map_err(|e| FieldProblem::new(format!("check.arguments.{key}"), e))?;
    let mut suffix = format!("' in Column '{}' is not a valid {what}", rule.column());
    if let Some(format) = rule.text(key) {
        suffix.push_str(&format!(" with format '{format}'"));
    }
    let check = NativeCheck { value: value(c)?, kind: NativeKind::DateTime { pattern } };
    Ok((Condition::Native(check), vec![Part::Text("Value '".into()), Part::Value(value(c)?), Part::Text(suffix)]))
}

/// DQX's window count over the key (trimmed keys with `trim_strings`), counting only the rows
/// the filter keeps (and, with `nulls_distinct`, only rows without a NULL key); the message shows
/// the key as written: one value, or Spark's text of the key struct.
fn unique(rule: &Rule, planner: &SqlPlanner) -> Result<(Condition, Vec<Part>), FieldProblem> {
    let field = "check.arguments.columns";
    let columns: Vec<&str> =
        rule.arg("columns").and_then(|v| v.as_sequence()).map(|s| s.iter().filter_map(|c| c.as_str()).collect()).unwrap_or_default();
    let shown = columns.iter().map(|c| expr(planner, c, field)).collect::<Result<Vec<_>, _>>()?;
    let trim = rule.flag("trim_strings", false);
    let keys = columns
        .iter()
        .zip(&shown)
        .map(|(column, value)| match planner.data_type(value) {
            Ok(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) if trim => expr(planner, &format!("btrim(({column}), ' ')"), field),
            _ => Ok(value.clone()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let first = shown.first().cloned().ok_or_else(|| FieldProblem::new(field, "no columns"))?;
    let nulls_distinct = rule.flag("nulls_distinct", true);
    let (name, value) = match shown.as_slice() {
        [_] if nulls_distinct => (columns[0].to_owned(), Part::Value(first.clone())),
        [_] => (columns[0].to_owned(), Part::ValueOrNull(first.clone())),
        _ => (format!("struct({})", columns.join(", ")), Part::Struct(shown)),
    };
    let kind = NativeKind::Unique { keys, nulls_distinct };
    let message = vec![Part::Text("Value '".into()), value, Part::Text(format!("' in column '{name}' is not unique, found "))];
    Ok((Condition::Native(NativeCheck { value: first, kind }), message))
}

impl NativeCheck {
    /// Which rows fail, and for uniqueness the duplicate count to append to the message.
    /// Which rows fail, and for some checks the end of each failing row's message (the
    /// duplicate count, why a value has no acceptable decimal places). `applicable`: the rows
    /// the rule's filter keeps (`None`: every row).
    pub fn evaluate(&self, batch: &RecordBatch, applicable: Option<&BooleanArray>) -> Result<NativeOutcome, String> {
        if let NativeKind::Unique { keys, nulls_distinct } = &self.kind {
            return unique_rows(keys, *nulls_distinct, applicable, batch);
        }
        let values = self.value.evaluate(batch)?;
        if matches!(self.kind, NativeKind::DateTime { .. })
            && matches!(values.data_type(), DataType::Date32 | DataType::Date64 | DataType::Timestamp(..))
        {
            // Already a date or timestamp: Spark takes it as it is.
            return Ok((BooleanArray::from(vec![false; batch.num_rows()]), None));
        }
        let limits = match &self.kind {
            NativeKind::DecimalPlaces { limit } => Some(limit.evaluate(batch)?),
            _ => None,
        };
        // Strings are checked in place; other types as Spark would cast them to text.
        let strings = values.as_string_opt::<i32>();
        let text_of = |row: usize| match strings {
            Some(strings) if strings.is_null(row) => None,
            Some(strings) => Some(std::borrow::Cow::Borrowed(strings.value(row))),
            None => value_text(values.as_ref(), row).map(std::borrow::Cow::Owned),
        };
        if let Some(limits) = limits {
            let endings: Vec<Option<String>> = (0..batch.num_rows())
                .map(|row| text_of(row).and_then(|text| decimal_places_ending(&text, value_text(limits.as_ref(), row))))
                .collect();
            let failed = endings.iter().map(|ending| Some(ending.is_some())).collect();
            return Ok((failed, Some(endings)));
        }
        let failed: BooleanArray = (0..batch.num_rows()).map(|row| Some(text_of(row).is_some_and(|text| !self.valid(&text)))).collect();
        Ok((failed, None))
    }

    fn valid(&self, text: &str) -> bool {
        match &self.kind {
            NativeKind::Pattern(regex) => regex.is_match(text),
            NativeKind::Email => {
                let local = text.split('@').next().unwrap_or_default();
                (1..=254).contains(&text.len()) && (1..=64).contains(&local.len()) && local.len() < text.len() && EMAIL.is_match(text)
            }
            NativeKind::CurrencyCode { numeric: true, .. } => CURRENCY_NUMBERS.contains(text),
            NativeKind::CurrencyCode { case_sensitive: true, .. } => CURRENCIES.contains(text),
            // The codes are upper-case ASCII letters: equal to them ignoring ASCII case is equal
            // to them once upper-cased.
            NativeKind::CurrencyCode { .. } => text.len() == 3 && CURRENCIES.contains(text.to_ascii_uppercase().as_str()),
            NativeKind::DecimalPlaces { .. } => true,
            NativeKind::DateTime { pattern: Some(pattern) } => pattern.matches(text),
            NativeKind::DateTime { pattern: None } => super::spark_datetime::cast_timestamp(text, chrono::Utc::now().date_naive()).is_some(),
            NativeKind::Unique { .. } => true,
        }
    }
}

/// Why `text` fails `has_num_decimal_places` against `limit` (the limit's text; `None`: NULL),
/// in DQX's words, or `None` when it passes.
fn decimal_places_ending(text: &str, limit: Option<String>) -> Option<String> {
    let Some(limit) = limit else { return Some("has a null limit".to_owned()) };
    let Some(places) = decimal_places(text) else { return Some("is not numeric".to_owned()) };
    let allowed = limit.parse::<f64>().ok();
    // Spark compares the count with the limit as numbers; a limit that is not one never passes.
    allowed.is_none_or(|allowed| places as f64 > allowed).then(|| format!("has more than {limit} decimal places"))
}

/// Decimal places of a plain or exponent number (`None`: not a number), trailing zeros ignored.
pub fn decimal_places(text: &str) -> Option<i64> {
    let captures = DECIMAL_NUMBER.captures(text)?;
    let integer = captures.get(1).map_or("", |m| m.as_str());
    let fraction = captures.get(2).map_or("", |m| m.as_str());
    if integer.is_empty() && fraction.is_empty() {
        return None;
    }
    let exponent: i64 = captures.get(3).map_or(Some(0), |m| m.as_str().parse().ok())?;
    let significand = format!("{integer}{fraction}");
    let trimmed = significand.trim_end_matches('0');
    if trimmed.is_empty() {
        return Some(0);
    }
    let trailing_zeros = (significand.len() - trimmed.len()) as i64;
    Some((fraction.len() as i64 - trailing_zeros - exponent).max(0))
}

fn unique_rows(keys: &[CompiledExpr], nulls_distinct: bool, applicable: Option<&BooleanArray>, batch: &RecordBatch) -> Result<NativeOutcome, String> {
    let arrays = keys.iter().map(|k| k.evaluate(batch)).collect::<Result<Vec<_>, _>>()?;
    let converter = RowConverter::new(arrays.iter().map(|a| SortField::new(a.data_type().clone())).collect()).map_err(|e| e.to_string())?;
    let rows = converter.convert_columns(&arrays).map_err(|e| e.to_string())?;
    let kept = |row: usize| applicable.is_none_or(|mask| mask.is_valid(row) && mask.value(row));
    let counted = |row: usize| kept(row) && (!nulls_distinct || arrays.iter().all(|a| !a.is_null(row)));
    let mut counts: HashMap<&[u8], usize> = HashMap::new();
    for row in (0..batch.num_rows()).filter(|&r| counted(r)) {
        *counts.entry(rows.row(row).data()).or_default() += 1;
    }
    let count_of = |row: usize| if counted(row) { counts.get(rows.row(row).data()).copied().unwrap_or(0) } else { 0 };
    let failed: BooleanArray = (0..batch.num_rows()).map(|row| Some(count_of(row) > 1)).collect();
    let endings = (0..batch.num_rows()).map(|row| (count_of(row) > 1).then(|| format!("{} duplicates", count_of(row)))).collect();
    Ok((failed, Some(endings)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_places_ignore_trailing_zeros_and_follow_exponents() {
        for (text, places) in
            [("1", Some(0)), ("1.250", Some(2)), ("100e-2", Some(0)), ("1.5e-3", Some(4)), (".5", Some(1)), ("abc", None), ("NaN", None)]
        {
            assert_eq!(decimal_places(text), places, "{text}");
        }
    }

    #[test]
    fn patterns_accept_and_reject() {
        assert!(UUID.is_match("123e4567-e89b-12d3-a456-426614174000"));
        assert!(!UUID.is_match("123e4567e89b12d3a456426614174000"));
        assert!(IPV4.is_match("192.168.0.1") && !IPV4.is_match("256.1.1.1"));
        assert!(EMAIL.is_match("a.b@example.com") && !EMAIL.is_match("a@b") && !EMAIL.is_match("a@@example.com"));
        assert!(CURRENCIES.contains("EUR") && CURRENCIES.len() == 178);
        assert!(CURRENCIES.iter().all(|code| code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())));
    }
}
