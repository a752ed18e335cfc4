//! `quality_daily`, pure: per day, rows by verdict, the mean quality score and the failing rules,
//! kept additive so each refresh folds in only the rows silver and quarantine added.
//!
//! The day is the UTC date of `event_time`, or of the Kafka timestamp for rows that could not be
//! decoded. Scores are summed as fixed-point integers (1e-12), so the result does not depend on
//! the order rows arrive in: a replay after a crash gives the same table as one clean run.
//!
//! Each day is judged against `silver.quality_threshold`: `error_pass_share` is the share of
//! its rows that passed every error check (PASS or WARNING; undecodable rows fail), and
//! `below_threshold` says whether it is under the threshold (recorded as `quality_threshold`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array, ListBuilder, RecordBatch, StringBuilder,
    StructBuilder,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Date32Type, Field, Fields, Float64Type, Int64Type, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;

use crate::bronze::column as bronze;
use crate::rules::column as results;
use crate::silver::QUARANTINE_REASON;

/// Fixed-point scale of the score sum.
const SCORE_SCALE: i32 = 12;
/// How many rule names `top_failing_rules` lists.
const TOP_RULES: usize = 3;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The columns read from silver and quarantine rows.
pub fn input_schema() -> SchemaRef {
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    // The failure lists exactly as silver writes them (a reader cannot narrow a struct).
    let list = crate::rules::result_fields().into_iter().find(|f| f.name() == results::ERRORS).map_or(DataType::Null, |f| f.data_type().clone());
    Arc::new(Schema::new(vec![
        Field::new("event_time", utc.clone(), true),
        Field::new(bronze::TIMESTAMP, utc, true),
        Field::new(results::FLAG_CHECK, DataType::Utf8, true),
        Field::new(results::QUALITY_SCORE, DataType::Float64, true),
        Field::new(results::ERRORS, list.clone(), true),
        Field::new(results::WARNINGS, list, true),
        Field::new(QUARANTINE_REASON, DataType::Utf8, true),
    ]))
}

fn rule_struct() -> Fields {
    Fields::from(vec![
        Field::new("rule_name", DataType::Utf8, false),
        Field::new("criticality", DataType::Utf8, false),
        Field::new("failed_rows", DataType::Int64, false),
    ])
}

/// The `quality_daily` table's schema.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("day", DataType::Date32, false),
        Field::new("rows", DataType::Int64, false),
        Field::new("pass_rows", DataType::Int64, false),
        Field::new("warning_rows", DataType::Int64, false),
        Field::new("fail_rows", DataType::Int64, false),
        Field::new("undecodable_rows", DataType::Int64, false),
        Field::new("scored_rows", DataType::Int64, false),
        Field::new("quality_score_sum", DataType::Decimal128(38, SCORE_SCALE as i8), false),
        Field::new("mean_quality_score", DataType::Float64, true),
        Field::new("rule_failures", DataType::List(Arc::new(Field::new("item", DataType::Struct(rule_struct()), true))), false),
        Field::new("top_failing_rules", DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))), false),
        // Nullable: tables written before the quality gate gain them (see table::evolve).
        Field::new("error_pass_share", DataType::Float64, true),
        Field::new("quality_threshold", DataType::Float64, true),
        Field::new("below_threshold", DataType::Boolean, true),
    ]))
}

/// One day's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayQuality {
    pub rows: i64,
    pub pass: i64,
    pub warning: i64,
    pub fail: i64,
    pub undecodable: i64,
    pub scored: i64,
    /// Sum of quality scores × 1e12.
    pub score_sum: i128,
    /// (rule name, criticality) → rows failing it.
    pub rule_failures: BTreeMap<(String, String), i64>,
}

/// Days since the epoch → counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QualityDaily(pub BTreeMap<i32, DayQuality>);

impl QualityDaily {
    /// Folds in rows in [`input_schema`].
    pub fn add_rows(&mut self, rows: &RecordBatch) -> Result<(), ArrowError> {
        let micros =
            |name: &str| -> Result<Int64Array, ArrowError> { Ok(cast(column(rows, name)?, &DataType::Int64)?.as_primitive::<Int64Type>().clone()) };
        let (event_time, kafka_time) = (micros("event_time")?, micros(bronze::TIMESTAMP)?);
        let flag = column(rows, results::FLAG_CHECK)?.as_string::<i32>();
        let score = column(rows, results::QUALITY_SCORE)?.as_primitive::<Float64Type>();
        let reason = column(rows, QUARANTINE_REASON)?.as_string::<i32>();
        let failures = [("error", column(rows, results::ERRORS)?), ("warn", column(rows, results::WARNINGS)?)];
        for row in 0..rows.num_rows() {
            let time = if event_time.is_valid(row) { event_time.value(row) } else { kafka_time.value(row) };
            let day = self.0.entry(time.div_euclid(MICROS_PER_DAY) as i32).or_default();
            day.rows += 1;
            match flag.is_valid(row).then(|| flag.value(row)) {
                Some("PASS") => day.pass += 1,
                Some("WARNING") => day.warning += 1,
                _ => day.fail += 1,
            }
            if reason.is_valid(row) && reason.value(row).starts_with("undecodable") {
                day.undecodable += 1;
            }
            if score.is_valid(row) {
                day.scored += 1;
                day.score_sum += (score.value(row) * 10f64.powi(SCORE_SCALE)).round() as i128;
            }
            for (criticality, list) in &failures {
                for name in failed_names(list.as_ref(), row) {
                    *day.rule_failures.entry((name, (*criticality).to_owned())).or_default() += 1;
                }
            }
        }
        Ok(())
    }

    /// Adds another set of counts (the table's existing rows) to these.
    pub fn absorb(&mut self, other: QualityDaily) {
        for (day, theirs) in other.0 {
            let ours = self.0.entry(day).or_default();
            ours.rows += theirs.rows;
            ours.pass += theirs.pass;
            ours.warning += theirs.warning;
            ours.fail += theirs.fail;
            ours.undecodable += theirs.undecodable;
            ours.scored += theirs.scored;
            ours.score_sum += theirs.score_sum;
            for (rule, count) in theirs.rule_failures {
                *ours.rule_failures.entry(rule).or_default() += count;
            }
        }
    }

    /// The table rows, one per day in date order, judged against `quality_threshold`.
    pub fn to_batch(&self, quality_threshold: f64) -> Result<RecordBatch, ArrowError> {
        let days = self.0.values();
        let ints = |get: fn(&DayQuality) -> i64| Arc::new(Int64Array::from_iter_values(days.clone().map(get))) as ArrayRef;
        let sums = Decimal128Array::from_iter_values(days.clone().map(|d| d.score_sum)).with_precision_and_scale(38, SCORE_SCALE as i8)?;
        let means: Float64Array = days.clone().map(DayQuality::mean_score).collect();
        let mut failures = ListBuilder::new(StructBuilder::from_fields(rule_struct(), 0)).with_field(Arc::new(Field::new(
            "item",
            DataType::Struct(rule_struct()),
            true,
        )));
        let mut top = ListBuilder::new(StringBuilder::new());
        for day in days.clone() {
            let ranked = day.ranked_failures();
            for ((name, criticality), count) in &ranked {
                let entry = failures.values();
                if let Some(builder) = entry.field_builder::<StringBuilder>(0) {
                    builder.append_value(name);
                }
                if let Some(builder) = entry.field_builder::<StringBuilder>(1) {
                    builder.append_value(criticality);
                }
                if let Some(builder) = entry.field_builder::<arrow::array::Int64Builder>(2) {
                    builder.append_value(**count);
                }
                entry.append(true);
            }
            failures.append(true);
            day.top_failing_rules().into_iter().for_each(|name| top.values().append_value(name));
            top.append(true);
        }
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Date32Array::from_iter_values(self.0.keys().copied())),
            ints(|d| d.rows),
            ints(|d| d.pass),
            ints(|d| d.warning),
            ints(|d| d.fail),
            ints(|d| d.undecodable),
            ints(|d| d.scored),
            Arc::new(sums),
            Arc::new(means),
            Arc::new(failures.finish()),
            Arc::new(top.finish()),
        ];
        let shares: Float64Array = days.clone().map(DayQuality::error_pass_share).collect();
        let below: BooleanArray = shares.iter().map(|share| share.map(|share| share < quality_threshold)).collect();
        columns.push(Arc::new(shares));
        columns.push(Arc::new(Float64Array::from(vec![quality_threshold; self.0.len()])));
        columns.push(Arc::new(below));
        RecordBatch::try_new(schema(), columns)
    }

    /// Reads counts back from `quality_daily` rows.
    pub fn from_batch(batch: &RecordBatch) -> Result<Self, ArrowError> {
        let int = |name: &str| -> Result<Int64Array, ArrowError> { Ok(column(batch, name)?.as_primitive::<Int64Type>().clone()) };
        let days = column(batch, "day")?.as_primitive::<Date32Type>();
        let (rows, pass, warning, fail, undecodable, scored) =
            (int("rows")?, int("pass_rows")?, int("warning_rows")?, int("fail_rows")?, int("undecodable_rows")?, int("scored_rows")?);
        let sums = column(batch, "quality_score_sum")?.as_primitive::<arrow::datatypes::Decimal128Type>();
        let failures = column(batch, "rule_failures")?.as_list::<i32>();
        let mut daily = QualityDaily::default();
        for row in 0..batch.num_rows() {
            let mut day = DayQuality {
                rows: rows.value(row),
                pass: pass.value(row),
                warning: warning.value(row),
                fail: fail.value(row),
                undecodable: undecodable.value(row),
                scored: scored.value(row),
                score_sum: sums.value(row),
                rule_failures: BTreeMap::new(),
            };
            let entries = failures.value(row);
            let entries = entries.as_struct();
            let (names, criticalities) = (entries.column(0).as_string::<i32>(), entries.column(1).as_string::<i32>());
            let counts = entries.column(2).as_primitive::<Int64Type>();
            for i in 0..entries.len() {
                day.rule_failures.insert((names.value(i).to_owned(), criticalities.value(i).to_owned()), counts.value(i));
            }
            daily.0.insert(days.value(row), day);
        }
        Ok(daily)
    }
}

impl DayQuality {
    /// The share of the day's rows that passed every error check; `None` without rows.
    pub fn error_pass_share(&self) -> Option<f64> {
        (self.rows > 0).then(|| (self.pass + self.warning) as f64 / self.rows as f64)
    }

    /// The mean quality score of the rows that have one.
    pub fn mean_score(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.score_sum as f64 / 10f64.powi(SCORE_SCALE) / self.scored as f64)
    }

    /// The names of the most failed rules, most first.
    pub fn top_failing_rules(&self) -> Vec<&str> {
        self.ranked_failures().into_iter().take(TOP_RULES).map(|((name, _), _)| name.as_str()).collect()
    }

    /// Failing rules, most failures first (then by name, so ties are stable).
    fn ranked_failures(&self) -> Vec<(&(String, String), &i64)> {
        let mut ranked: Vec<_> = self.rule_failures.iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        ranked
    }
}

/// The `name` of every entry of row `row` of a `_errors`/`_warnings` list.
fn failed_names(list: &dyn Array, row: usize) -> Vec<String> {
    let Some(list) = list.as_list_opt::<i32>() else { return Vec::new() };
    if list.is_null(row) {
        return Vec::new();
    }
    let items = list.value(row);
    let Some(names) = items.as_struct_opt().and_then(|s| s.column_by_name("name")).and_then(|c| c.as_string_opt::<i32>().cloned()) else {
        return Vec::new();
    };
    let unique: BTreeSet<&str> = names.iter().flatten().collect();
    unique.into_iter().map(str::to_owned).collect()
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, ArrowError> {
    batch.column_by_name(name).ok_or_else(|| ArrowError::SchemaError(format!("column {name} is missing")))
}
