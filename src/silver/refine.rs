//! The silver core, pure and broker-free: the bronze rows of one batch → silver rows,
//! quarantine rows and the batch's quality metrics.
//!
//! Undecodable rows cannot be checked: they go to quarantine in every mode, with their decode
//! error as the reason. Decoded rows are checked by the rules engine and routed by the mode.

use std::ops::RangeInclusive;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray, new_null_array};
use arrow::compute::{concat_batches, filter_record_batch, is_not_null, not};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::SilverError;
use super::metrics::{self, RowCounts};
use crate::bronze::column as bronze;
use crate::config::SilverMode;
use crate::rules::{RulesEngine, RunInfo, column as results, result_fields};

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
    pub silver: RecordBatch,
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

/// Checks `batch` (in the `read` schema, bronze versions `versions`) and routes its rows by `mode`.
/// In `fail` mode a row with errors is an error naming it; nothing is returned to commit. The
/// metrics judge the batch against `quality_threshold` (see [`metrics`]).
pub fn refine(
    engine: &RulesEngine,
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
    let (checked, outcomes) = engine.apply(&decoded, run)?;
    let has_errors = is_not_null(checked.column(schemas.silver.index_of(results::ERRORS).map_err(arrow(results::ERRORS))?)).map_err(arrow("mask"))?;
    let has_warnings =
        is_not_null(checked.column(schemas.silver.index_of(results::WARNINGS).map_err(arrow(results::WARNINGS))?)).map_err(arrow("mask"))?;
    let error_rows = has_errors.true_count();
    if mode == SilverMode::Fail && error_rows > 0 {
        return Err(first_failure(&checked, &has_errors, error_rows));
    }
    let (silver, rejected) = match mode {
        SilverMode::Flag | SilverMode::Fail => (checked.clone(), None),
        SilverMode::Split | SilverMode::Drop => {
            let passed = filter_record_batch(&checked, &not(&has_errors).map_err(arrow("mask"))?).map_err(arrow("silver rows"))?;
            (passed, Some(filter_record_batch(&checked, &has_errors).map_err(arrow("rejected rows"))?))
        }
    };
    let mut quarantine_parts = Vec::new();
    if mode == SilverMode::Split
        && let Some(rejected) = &rejected
    {
        quarantine_parts.push(with_reason(rejected, rejection_reasons(rejected), &schemas.quarantine)?);
    }
    let unchecked = filter_record_batch(batch, &undecodable).map_err(arrow("undecodable rows"))?;
    if unchecked.num_rows() > 0 {
        quarantine_parts.push(undecodable_rows(&unchecked, schemas, run)?);
    }
    let quarantine = concat_batches(&schemas.quarantine, &quarantine_parts).map_err(arrow("quarantine rows"))?;
    let valid_rows = (0..checked.num_rows()).filter(|&i| !has_errors.value(i) && !has_warnings.value(i)).count();
    let counts = RowCounts {
        input: batch.num_rows() as u64,
        undecodable: unchecked.num_rows() as u64,
        with_errors: error_rows as u64,
        with_warnings: has_warnings.true_count() as u64,
        valid: valid_rows as u64,
        silver: silver.num_rows() as u64,
        quarantined: quarantine.num_rows() as u64,
        dropped: if mode == SilverMode::Drop { error_rows as u64 } else { 0 },
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
    Ok(Refined { silver, quarantine, metrics, counts, rule_failures })
}

/// `fail` mode: the first failing row, named by its Kafka and bronze coordinates.
fn first_failure(checked: &RecordBatch, has_errors: &BooleanArray, count: usize) -> SilverError {
    let row = (0..has_errors.len()).find(|&i| has_errors.value(i)).unwrap_or_default();
    let int = |name: &str| -> Option<i64> {
        let column = checked.column_by_name(name)?;
        match column.data_type() {
            DataType::Int32 => Some(i64::from(column.as_primitive::<arrow::datatypes::Int32Type>().value(row))),
            DataType::Int64 => Some(column.as_primitive::<arrow::datatypes::Int64Type>().value(row)),
            _ => None,
        }
    };
    SilverError::RowsFailed {
        count,
        bronze_version: int(BRONZE_VERSION).unwrap_or(-1),
        partition: int(bronze::PARTITION).unwrap_or(-1),
        offset: int(bronze::OFFSET).unwrap_or(-1),
        rules: failed_rule_names(checked, row).join(", "),
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
