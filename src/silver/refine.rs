//! The silver core, pure and broker-free: the bronze rows of one batch → silver rows,
//! quarantine rows and the batch's quality metrics.
//!
//! Undecodable rows cannot be checked: they go to quarantine in every mode, with their decode
//! error as the reason. Decoded rows are checked by the rules engine and routed by the mode.

use std::ops::RangeInclusive;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray, new_null_array};
use arrow::compute::{concat_batches, filter_record_batch, is_not_null, not};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;

use super::SilverError;
use super::metrics::{self, RowCounts};
use crate::bronze::column as bronze;
use crate::config::SilverMode;
use crate::rules::{Criticality, RuleOutcome, RulesEngine, RunInfo, column as results, result_fields};

/// Silver's lineage column: the bronze version a row was read from.
pub const BRONZE_VERSION: &str = "bronze_version";
/// Quarantine's extra column: why the row is there.
pub const QUARANTINE_REASON: &str = "quarantine_reason";
/// Bronze columns silver keeps after the business columns, to trace a row back to Kafka.
const LINEAGE: [&str; 3] = [bronze::PARTITION, bronze::OFFSET, bronze::TIMESTAMP];
/// Bronze columns that stay in bronze (transport details, raw bytes, bronze's own bookkeeping).
const BRONZE_ONLY: [&str; 13] = [
    bronze::TOPIC,
    bronze::KEY,
    bronze::HEADERS,
    bronze::RAW_PAYLOAD,
    bronze::PAYLOAD_SIZE,
    bronze::SCHEMA_REF,
    bronze::DECODE_ERROR,
    bronze::INGESTION_TIMESTAMP,
    bronze::CONSUMER_GROUP,
    bronze::WORKER_HOST,
    bronze::WORKER_PID,
    bronze::INGESTION_HOUR,
    bronze::INGESTION_DATE,
];

/// The schemas of the silver stage, all derived from the bronze schema (so a new Avro schema or
/// topic needs no code here).
#[derive(Debug, Clone)]
pub struct SilverSchemas {
    /// What is read from bronze: `input` plus `decode_error`.
    pub read: SchemaRef,
    /// What the rules see: business columns, lineage, `bronze_version`.
    pub input: SchemaRef,
    /// The silver table: `input` plus the result columns.
    pub silver: SchemaRef,
    /// The quarantine table: `silver` plus `quarantine_reason`.
    pub quarantine: SchemaRef,
}

impl SilverSchemas {
    pub fn from_bronze(bronze: &Schema) -> Result<Self, SilverError> {
        let missing: Vec<&str> =
            LINEAGE.iter().chain([&bronze::DECODE_ERROR]).copied().filter(|name| bronze.field_with_name(name).is_err()).collect();
        if !missing.is_empty() {
            return Err(SilverError::BronzeLacks { missing: missing.into_iter().map(str::to_owned).collect() });
        }
        let business = bronze.fields().iter().filter(|f| !BRONZE_ONLY.contains(&f.name().as_str()) && !LINEAGE.contains(&f.name().as_str()));
        let mut input: Vec<Field> = business.map(|f| f.as_ref().clone()).collect();
        input.extend(LINEAGE.iter().filter_map(|name| bronze.field_with_name(name).ok()).cloned());
        input.push(Field::new(BRONZE_VERSION, DataType::Int64, false));
        let mut read = input.clone();
        read.push(Field::new(bronze::DECODE_ERROR, DataType::Utf8, true));
        let mut silver = input.clone();
        silver.extend(result_fields());
        let mut quarantine = silver.clone();
        quarantine.push(Field::new(QUARANTINE_REASON, DataType::Utf8, false));
        Ok(Self {
            read: Arc::new(Schema::new(read)),
            input: Arc::new(Schema::new(input)),
            silver: Arc::new(Schema::new(silver)),
            quarantine: Arc::new(Schema::new(quarantine)),
        })
    }
}

/// What one batch of bronze rows became.
#[derive(Debug)]
pub struct Refined {
    pub silver: SilverRows,
    pub quarantine: RecordBatch,
    pub metrics: RecordBatch,
    pub counts: RowCounts,
    /// Rows failing each rule, in the rule set's order (what `metrics` records per rule).
    pub rule_failures: Vec<RuleFailures>,
}

/// How many rows of a batch failed one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFailures {
    pub rule: String,
    /// `error` or `warn`.
    pub criticality: &'static str,
    pub rows: u64,
}

/// The rows of a batch that go to silver, built (their result columns, their copy out of the
/// batch) a part at a time as they are written: built whole, a 150,000-row batch's result
/// columns and silver's copy of its rows took twice the memory of the rows read from bronze.
#[derive(Debug)]
pub struct SilverRows {
    engine: Arc<RulesEngine>,
    /// The batch's decoded rows, in the `input` schema, and the rules' outcomes on them.
    decoded: RecordBatch,
    outcomes: Vec<RuleOutcome>,
    /// Which of `decoded` go to silver, ascending.
    rows: Vec<usize>,
    run: RunInfo,
}

impl SilverRows {
    pub fn num_rows(&self) -> usize {
        self.rows.len()
    }

    /// The rows, at most `rows_per_part` at a time, each part built when it is asked for.
    pub fn parts(&self, rows_per_part: usize) -> impl Iterator<Item = Result<RecordBatch, ArrowError>> + Send + '_ {
        self.rows.chunks(rows_per_part.max(1)).map(|rows| self.engine.checked_rows(&self.decoded, &self.outcomes, rows, &self.run))
    }

    /// Every row as one batch (for tests and tools; silver writes [`Self::parts`]).
    pub fn to_batch(&self) -> Result<RecordBatch, ArrowError> {
        let parts: Vec<RecordBatch> = self.parts(SILVER_PART_ROWS).collect::<Result<_, _>>()?;
        concat_batches(&self.engine.output_schema(), &parts)
    }
}

/// Rows per part of silver's rows (see [`SilverRows::parts`]); two parts are built and encoded
/// at once (see `StageTable::append_parts`).
pub const SILVER_PART_ROWS: usize = 8 * 1024;

/// Checks `batch` (in the `read` schema, bronze versions `versions`) and routes its rows by `mode`.
/// In `fail` mode a row with errors is an error naming it; nothing is returned to commit. The
/// metrics judge the batch against `quality_threshold` (see [`metrics`]).
pub fn refine(
    engine: &Arc<RulesEngine>,
    schemas: &SilverSchemas,
    batch: &RecordBatch,
    mode: SilverMode,
    quality_threshold: f64,
    run: &RunInfo,
    versions: RangeInclusive<u64>,
) -> Result<Refined, SilverError> {
    let arrow = |context: &'static str| move |e: arrow::error::ArrowError| SilverError::Arrow { context, message: e.to_string() };
    let undecodable =
        is_not_null(batch.column(schemas.read.index_of(bronze::DECODE_ERROR).map_err(arrow(bronze::DECODE_ERROR))?)).map_err(arrow("mask"))?;
    let input_columns: Vec<usize> = (0..schemas.input.fields().len()).collect();
    let decoded = filter_record_batch(batch, &not(&undecodable).map_err(arrow("mask"))?)
        .and_then(|b| b.project(&input_columns))
        .map_err(arrow("decoded rows"))?;
    let outcomes = engine.evaluate_at_run_time(&decoded, run)?;
    let failed = FailedRows::of(engine, &outcomes, decoded.num_rows());
    let error_rows: Vec<usize> = (0..decoded.num_rows()).filter(|row| failed.errors[*row]).collect();
    if mode == SilverMode::Fail
        && let Some(first) = error_rows.first()
    {
        let row = engine.checked_rows(&decoded, &outcomes, &[*first], run).map_err(arrow("failing row"))?;
        return Err(first_failure(&row, error_rows.len()));
    }
    let mut quarantine_parts = Vec::new();
    if mode == SilverMode::Split && !error_rows.is_empty() {
        let rejected = engine.checked_rows(&decoded, &outcomes, &error_rows, run).map_err(arrow("rejected rows"))?;
        quarantine_parts.push(with_reason(&rejected, rejection_reasons(&rejected), &schemas.quarantine)?);
    }
    let unchecked = filter_record_batch(batch, &undecodable).map_err(arrow("undecodable rows"))?;
    if unchecked.num_rows() > 0 {
        quarantine_parts.push(undecodable_rows(&unchecked, schemas, run)?);
    }
    let quarantine = concat_batches(&schemas.quarantine, &quarantine_parts).map_err(arrow("quarantine rows"))?;
    let silver_rows: Vec<usize> = match mode {
        SilverMode::Flag | SilverMode::Fail => (0..decoded.num_rows()).collect(),
        SilverMode::Split | SilverMode::Drop => (0..decoded.num_rows()).filter(|row| !failed.errors[*row]).collect(),
    };
    let counts = RowCounts {
        input: batch.num_rows() as u64,
        undecodable: unchecked.num_rows() as u64,
        with_errors: error_rows.len() as u64,
        with_warnings: failed.warnings.iter().filter(|w| **w).count() as u64,
        valid: failed.errors.iter().zip(&failed.warnings).filter(|(e, w)| !**e && !**w).count() as u64,
        silver: silver_rows.len() as u64,
        quarantined: quarantine.num_rows() as u64,
        dropped: if mode == SilverMode::Drop { error_rows.len() as u64 } else { 0 },
    };
    let metrics = metrics::batch_metrics(engine, &outcomes, &counts, run, mode, quality_threshold, versions)?;
    let rule_failures = engine
        .rules
        .iter()
        .zip(&outcomes)
        .map(|(rule, outcome)| RuleFailures {
            rule: rule.rule.key.clone(),
            criticality: rule.rule.criticality.as_str(),
            rows: outcome.failures.len() as u64,
        })
        .collect();
    let silver = SilverRows { engine: Arc::clone(engine), decoded, outcomes, rows: silver_rows, run: run.clone() };
    Ok(Refined { silver, quarantine, metrics, counts, rule_failures })
}

/// Which rows failed an error check, and which a warning check.
struct FailedRows {
    errors: Vec<bool>,
    warnings: Vec<bool>,
}

impl FailedRows {
    fn of(engine: &RulesEngine, outcomes: &[RuleOutcome], rows: usize) -> Self {
        let (mut errors, mut warnings) = (vec![false; rows], vec![false; rows]);
        for (rule, outcome) in engine.rules.iter().zip(outcomes) {
            let failed = if rule.rule.criticality == Criticality::Error { &mut errors } else { &mut warnings };
            for (row, _) in &outcome.failures {
                if let Some(flag) = failed.get_mut(*row) {
                    *flag = true;
                }
            }
        }
        Self { errors, warnings }
    }
}

/// `fail` mode: the first failing row (`row`, with its result columns), named by its Kafka and
/// bronze coordinates.
fn first_failure(row: &RecordBatch, count: usize) -> SilverError {
    let int = |name: &str| -> Option<i64> {
        let column = row.column_by_name(name)?;
        match column.data_type() {
            DataType::Int32 => Some(i64::from(column.as_primitive::<arrow::datatypes::Int32Type>().value(0))),
            DataType::Int64 => Some(column.as_primitive::<arrow::datatypes::Int64Type>().value(0)),
            _ => None,
        }
    };
    SilverError::RowsFailed {
        count,
        bronze_version: int(BRONZE_VERSION).unwrap_or(-1),
        partition: int(bronze::PARTITION).unwrap_or(-1),
        offset: int(bronze::OFFSET).unwrap_or(-1),
        rules: failed_rule_names(row, 0).join(", "),
    }
}

/// Names of the error rules row `row` failed, from its `_errors` list.
fn failed_rule_names(checked: &RecordBatch, row: usize) -> Vec<String> {
    let Some(errors) = checked.column_by_name(results::ERRORS).and_then(|c| c.as_list_opt::<i32>()) else { return Vec::new() };
    if errors.is_null(row) {
        return Vec::new();
    }
    let items = errors.value(row);
    let names = items.as_struct().column_by_name("name").map(|c| c.as_string::<i32>().clone());
    names.map(|n| n.iter().flatten().map(str::to_owned).collect()).unwrap_or_default()
}

fn rejection_reasons(rejected: &RecordBatch) -> StringArray {
    (0..rejected.num_rows()).map(|row| Some(format!("failed error checks: {}", failed_rule_names(rejected, row).join(", ")))).collect()
}

fn with_reason(rows: &RecordBatch, reasons: StringArray, schema: &SchemaRef) -> Result<RecordBatch, SilverError> {
    let mut columns = rows.columns().to_vec();
    columns.push(Arc::new(reasons));
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| SilverError::Arrow { context: "quarantine rows", message: e.to_string() })
}

/// Undecodable rows in the quarantine schema: null business columns, verdict FAIL, the decode
/// error as description and reason, no rule results (no rule could run).
fn undecodable_rows(rows: &RecordBatch, schemas: &SilverSchemas, run: &RunInfo) -> Result<RecordBatch, SilverError> {
    let n = rows.num_rows();
    let errors = rows.column_by_name(bronze::DECODE_ERROR).map(|c| c.as_string::<i32>().clone()).unwrap_or_else(|| StringArray::from(vec![""; n]));
    let mut columns: Vec<ArrayRef> = rows.columns()[..schemas.input.fields().len()].to_vec();
    for field in result_fields() {
        let column: ArrayRef = match field.name().as_str() {
            results::FLAG_CHECK => Arc::new(StringArray::from(vec!["FAIL"; n])),
            results::CRITICALITY_LEVEL => Arc::new(StringArray::from(vec!["error"; n])),
            results::DESCRIPTION_FAILURE => Arc::new(errors.clone()),
            results::FAILED_RULES_COUNT | results::PASSED_RULES_COUNT => Arc::new(Int32Array::from(vec![0; n])),
            results::VALIDATION_TIMESTAMP => Arc::new(TimestampMicrosecondArray::from(vec![run.run_time_micros; n]).with_timezone("UTC")),
            results::LINEAGE_ID => Arc::new(StringArray::from(vec![run.run_id.as_str(); n])),
            _ => new_null_array(field.data_type(), n),
        };
        columns.push(column);
    }
    let reasons: StringArray = errors.iter().map(|e| Some(format!("undecodable: {}", e.unwrap_or("unknown error")))).collect();
    columns.push(Arc::new(reasons));
    RecordBatch::try_new(schemas.quarantine.clone(), columns).map_err(|e| SilverError::Arrow { context: "undecodable rows", message: e.to_string() })
}
