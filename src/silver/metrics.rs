//! The `quality_metrics` table: per batch, one `rule` row per rule (rows checked, rows failed)
//! and one `batch` row of totals — what DLT's event log and DQX's summary metrics report.
//!
//! Totals follow DQX's observer: `error_rows` have at least one error, `warning_rows` at least
//! one warning (a row can be both), `valid_rows` neither. Undecodable rows are counted apart:
//! `input_rows = undecodable_rows + rows checked`, and
//! `input_rows = silver_rows + quarantined_rows + dropped_rows`.
//!
//! The quality gate: `error_pass_share` is the share of input rows that passed every error
//! check (`valid_rows + warning-only rows`, over `input_rows`), `below_threshold` whether it is
//! under `silver.quality_threshold` (also recorded, as `quality_threshold`).

use std::ops::RangeInclusive;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::SilverError;
use crate::config::SilverMode;
use crate::rules::{Criticality, RuleOutcome, RulesEngine, RunInfo};

/// Row counts of one batch (also summed into the stage summary).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RowCounts {
    /// Rows read from bronze.
    pub input: u64,
    /// Rows bronze could not decode (quarantined unchecked).
    pub undecodable: u64,
    /// Checked rows with at least one error.
    pub with_errors: u64,
    /// Checked rows with at least one warning.
    pub with_warnings: u64,
    /// Checked rows with neither.
    pub valid: u64,
    /// Rows written to silver.
    pub silver: u64,
    /// Rows written to quarantine.
    pub quarantined: u64,
    /// Rows discarded (`drop` mode).
    pub dropped: u64,
}

impl RowCounts {
    /// The share of input rows that passed every error check; `None` without input.
    pub fn error_pass_share(&self) -> Option<f64> {
        let passed = self.input.saturating_sub(self.undecodable).saturating_sub(self.with_errors);
        (self.input > 0).then(|| passed as f64 / self.input as f64)
    }

    pub fn add(&mut self, other: &RowCounts) {
        self.input += other.input;
        self.undecodable += other.undecodable;
        self.with_errors += other.with_errors;
        self.with_warnings += other.with_warnings;
        self.valid += other.valid;
        self.silver += other.silver;
        self.quarantined += other.quarantined;
        self.dropped += other.dropped;
    }
}

const TOTALS: [&str; 8] =
    ["input_rows", "undecodable_rows", "error_rows", "warning_rows", "valid_rows", "silver_rows", "quarantined_rows", "dropped_rows"];

/// The table's columns. Rule columns are null on `batch` rows, totals null on `rule` rows.
pub fn metrics_schema() -> SchemaRef {
    let text = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
    let long = |name: &str, nullable| Field::new(name, DataType::Int64, nullable);
    let mut fields = vec![
        long("bronze_version_from", false),
        long("bronze_version_to", false),
        text("run_id", false),
        Field::new("run_time", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        text("mode", false),
        text("rule_set_fingerprint", false),
        text("kind", false),
        text("rule_name", true),
        text("criticality", true),
        text("function", true),
        text("rule_fingerprint", true),
        long("checked_rows", true),
        long("failed_rows", true),
    ];
    fields.extend(TOTALS.iter().map(|name| long(name, true)));
    fields.push(Field::new("error_pass_share", DataType::Float64, true));
    fields.push(Field::new("quality_threshold", DataType::Float64, true));
    fields.push(Field::new("below_threshold", DataType::Boolean, true));
    Arc::new(Schema::new(fields))
}

/// The metric rows of one batch: one per rule, then the totals; none for a batch without rows
/// (bronze versions without data, such as compaction and VACUUM, only move silver's position).
pub fn batch_metrics(
    engine: &RulesEngine,
    outcomes: &[RuleOutcome],
    counts: &RowCounts,
    run: &RunInfo,
    mode: SilverMode,
    quality_threshold: f64,
    versions: RangeInclusive<u64>,
) -> Result<RecordBatch, SilverError> {
    if counts.input == 0 {
        return Ok(RecordBatch::new_empty(metrics_schema()));
    }
    let rows = engine.rules.len() + 1;
    let checked_rows = (counts.input - counts.undecodable) as i64;
    let (mut kind, mut name, mut criticality, mut function, mut fingerprint) =
        (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let (mut checked, mut failed) = (Int64Builder::new(), Int64Builder::new());
    for (rule, outcome) in engine.rules.iter().zip(outcomes) {
        kind.append_value("rule");
        name.append_value(&rule.rule.key);
        criticality.append_value(if rule.rule.criticality == Criticality::Error { "error" } else { "warn" });
        function.append_value(rule.rule.function.name);
        fingerprint.append_value(&rule.rule.fingerprint);
        checked.append_value(outcome.applicable.as_ref().map_or(checked_rows, |mask| mask.true_count() as i64));
        failed.append_value(outcome.failures.len() as i64);
    }
    kind.append_value("batch");
    for builder in [&mut name, &mut criticality, &mut function, &mut fingerprint] {
        builder.append_null();
    }
    checked.append_null();
    failed.append_null();
    let totals =
        [counts.input, counts.undecodable, counts.with_errors, counts.with_warnings, counts.valid, counts.silver, counts.quarantined, counts.dropped];
    let same = |value: String| -> ArrayRef { Arc::new(arrow::array::StringArray::from(vec![value; rows])) };
    let version = |v: u64| -> ArrayRef { Arc::new(arrow::array::Int64Array::from(vec![v as i64; rows])) };
    let mut columns: Vec<ArrayRef> = vec![
        version(*versions.start()),
        version(*versions.end()),
        same(run.run_id.clone()),
        Arc::new(TimestampMicrosecondArray::from(vec![run.run_time_micros; rows]).with_timezone("UTC")),
        same(mode.as_str().to_owned()),
        same(run.rule_set_fingerprint.clone()),
        Arc::new(kind.finish()),
        Arc::new(name.finish()),
        Arc::new(criticality.finish()),
        Arc::new(function.finish()),
        Arc::new(fingerprint.finish()),
        Arc::new(checked.finish()),
        Arc::new(failed.finish()),
    ];
    for total in totals {
        let mut column = Int64Builder::with_capacity(rows);
        column.append_nulls(rows - 1);
        column.append_value(total as i64);
        columns.push(Arc::new(column.finish()));
    }
    let on_batch_row = |value: Option<f64>| -> ArrayRef {
        let mut values = vec![None; rows - 1];
        values.push(value);
        Arc::new(Float64Array::from(values))
    };
    let share = counts.error_pass_share();
    columns.push(on_batch_row(share));
    columns.push(on_batch_row(Some(quality_threshold)));
    let mut below = vec![None; rows - 1];
    below.push(share.map(|share| share < quality_threshold));
    columns.push(Arc::new(BooleanArray::from(below)));
    RecordBatch::try_new(metrics_schema(), columns).map_err(|e| SilverError::Arrow { context: "quality metrics", message: e.to_string() })
}
