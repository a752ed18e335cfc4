//! The silver core without broker or storage: routing by mode, quarantine reasons, metrics.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use arrow::array::{Array, AsArray, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit};

use super::*;
use crate::config::SilverMode;
use crate::rules::RuleSet;
use crate::silver::refine::SILVER_PART_ROWS;

const RULES: &str = r#"
- criticality: error
  check: {function: is_not_null, arguments: {column: order_id}}
- criticality: warn
  check: {function: is_not_greater_than, arguments: {column: quantity, limit: 100}}
"#;

fn schemas() -> SilverSchemas {
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let bronze = Schema::new(vec![
        Field::new("kafka_topic", DataType::Utf8, false),
        Field::new("kafka_partition", DataType::Int32, false),
        Field::new("kafka_offset", DataType::Int64, false),
        Field::new("kafka_timestamp", utc.clone(), true),
        Field::new("raw_payload", DataType::Binary, false),
        Field::new("decode_error", DataType::Utf8, true),
        Field::new("order_id", DataType::Utf8, true),
        Field::new("quantity", DataType::Int32, true),
        Field::new("ingestion_timestamp", utc, false),
    ]);
    SilverSchemas::from_bronze(&bronze).unwrap()
}

/// Rows: clean, error (null id), warning (quantity 500), error and warning, undecodable.
fn bronze_rows(schemas: &SilverSchemas) -> RecordBatch {
    let columns: Vec<Arc<dyn Array>> = vec![
        Arc::new(StringArray::from(vec![Some("ORD-1"), None, Some("ORD-3"), None, None])),
        Arc::new(Int32Array::from(vec![Some(1), Some(2), Some(500), Some(500), None])),
        Arc::new(Int32Array::from(vec![0, 0, 1, 1, 2])),
        Arc::new(Int64Array::from(vec![10, 11, 20, 21, 30])),
        Arc::new(TimestampMicrosecondArray::from(vec![1_000_000; 5]).with_timezone("UTC")),
        Arc::new(Int64Array::from(vec![7; 5])),
        Arc::new(StringArray::from(vec![None, None, None, None, Some("unknown magic byte 0x6e")])),
    ];
    RecordBatch::try_new(schemas.read.clone(), columns).unwrap()
}

fn refined(mode: SilverMode) -> Result<Refined, SilverError> {
    refined_against(mode, 0.95)
}

fn refined_against(mode: SilverMode, quality_threshold: f64) -> Result<Refined, SilverError> {
    let schemas = schemas();
    let engine = Arc::new(RuleSet::parse("test.yml", RULES).unwrap().compile(schemas.input.clone()).unwrap());
    let run = engine.run_info("run-1".to_owned());
    refine(&engine, &schemas, &bronze_rows(&schemas), mode, quality_threshold, &run, 7..=7)
}

fn offsets(batch: &RecordBatch) -> Vec<i64> {
    batch.column_by_name("kafka_offset").unwrap().as_primitive::<Int64Type>().values().to_vec()
}

fn strings(batch: &RecordBatch, name: &str) -> Vec<String> {
    batch.column_by_name(name).unwrap().as_string::<i32>().iter().map(|s| s.unwrap_or_default().to_owned()).collect()
}

#[test]
fn schemas_keep_business_and_lineage_columns_only() {
    let schemas = schemas();
    let names: Vec<&str> = schemas.input.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["order_id", "quantity", "kafka_partition", "kafka_offset", "kafka_timestamp", BRONZE_VERSION]);
    assert_eq!(schemas.quarantine.fields().last().unwrap().name(), QUARANTINE_REASON);
}

#[test]
fn split_sends_errors_and_undecodable_rows_to_quarantine() {
    let refined = refined(SilverMode::Split).unwrap();
    assert_eq!(offsets(&refined.silver.to_batch().unwrap()), [10, 20], "clean and warning-only rows stay");
    assert_eq!(offsets(&refined.quarantine), [11, 21, 30]);
    let reasons = strings(&refined.quarantine, QUARANTINE_REASON);
    assert_eq!(reasons[0], "failed error checks: order_id_is_null");
    assert_eq!(reasons[2], "undecodable: unknown magic byte 0x6e");
    assert_eq!(strings(&refined.quarantine, "flag_check"), ["FAIL", "FAIL", "FAIL"]);
    let counts = refined.counts;
    assert_eq!((counts.input, counts.undecodable, counts.with_errors, counts.with_warnings, counts.valid), (5, 1, 2, 2, 1));
    assert_eq!((counts.silver, counts.quarantined, counts.dropped), (2, 3, 0));
}

#[test]
fn flag_keeps_every_decoded_row_and_drop_discards_errors() {
    let flagged = refined(SilverMode::Flag).unwrap();
    assert_eq!(offsets(&flagged.silver.to_batch().unwrap()), [10, 11, 20, 21]);
    assert_eq!(strings(&flagged.silver.to_batch().unwrap(), "flag_check"), ["PASS", "FAIL", "WARNING", "FAIL"]);
    assert_eq!(offsets(&flagged.quarantine), [30], "undecodable rows cannot be flagged");
    let dropped = refined(SilverMode::Drop).unwrap();
    assert_eq!(offsets(&dropped.silver.to_batch().unwrap()), [10, 20]);
    assert_eq!(offsets(&dropped.quarantine), [30]);
    assert_eq!(dropped.counts.dropped, 2);
}

#[test]
fn fail_names_the_first_failing_row() {
    let error = refined(SilverMode::Fail).unwrap_err().to_string();
    for expected in ["2 row(s)", "bronze version 7", "partition 0", "offset 11", "order_id_is_null"] {
        assert!(error.contains(expected), "{expected:?} missing from: {error}");
    }
}

#[test]
fn metrics_have_a_row_per_rule_and_totals_that_add_up() {
    let refined = refined(SilverMode::Split).unwrap();
    let metrics = &refined.metrics;
    assert_eq!(strings(metrics, "kind"), ["rule", "rule", "batch"]);
    assert_eq!(strings(metrics, "rule_name")[..2], ["order_id_is_null", "quantity_greater_than_limit"]);
    let long = |name: &str| metrics.column_by_name(name).unwrap().as_primitive::<Int64Type>().clone();
    assert_eq!((long("checked_rows").value(0), long("failed_rows").value(0)), (4, 2));
    assert_eq!((long("checked_rows").value(1), long("failed_rows").value(1)), (4, 2));
    assert!(long("checked_rows").is_null(2) && long("input_rows").is_null(0));
    let total = |name: &str| long(name).value(2);
    assert_eq!(total("input_rows"), 5);
    assert_eq!(total("input_rows"), total("silver_rows") + total("quarantined_rows") + total("dropped_rows"));
    assert_eq!((long("bronze_version_from").value(0), long("bronze_version_to").value(2)), (7, 7));
}

#[test]
fn the_batch_row_judges_the_share_passing_the_error_checks() {
    // 5 rows: 1 undecodable and 2 with errors, so 2 of 5 pass the error checks.
    for (threshold, below) in [(0.95, true), (0.4, false), (0.41, true), (0.0, false)] {
        let refined = refined_against(SilverMode::Split, threshold).unwrap();
        let metrics = &refined.metrics;
        let share = metrics.column_by_name("error_pass_share").unwrap().as_primitive::<arrow::datatypes::Float64Type>().clone();
        let recorded = metrics.column_by_name("quality_threshold").unwrap().as_primitive::<arrow::datatypes::Float64Type>().clone();
        let flag = metrics.column_by_name("below_threshold").unwrap().as_boolean().clone();
        assert!(share.is_null(0) && flag.is_null(1), "only the batch row is judged");
        assert_eq!((share.value(2), recorded.value(2), flag.value(2)), (0.4, threshold, below), "threshold {threshold}");
    }
    assert_eq!(RowCounts::default().error_pass_share(), None, "a batch without rows is not judged");
}

/// `rows` rows in the order of [`bronze_rows`]' columns: every 7th without an order id (an
/// error), every 5th over the quantity limit (a warning), every 1,000th undecodable.
fn many_bronze_rows(schemas: &SilverSchemas, rows: i64) -> RecordBatch {
    let undecodable = |row: i64| row % 1_000 == 999;
    let columns: Vec<Arc<dyn Array>> = vec![
        Arc::new(StringArray::from_iter((0..rows).map(|row| (row % 7 != 3 && !undecodable(row)).then(|| format!("ORD-{row}"))))),
        Arc::new(Int32Array::from_iter((0..rows).map(|row| (!undecodable(row)).then_some(if row % 5 == 1 { 500 } else { 1 })))),
        Arc::new(Int32Array::from_iter_values((0..rows).map(|row| (row % 3) as i32))),
        Arc::new(Int64Array::from_iter_values(0..rows)),
        Arc::new(TimestampMicrosecondArray::from_iter_values((0..rows).map(|row| 1_000_000 + row)).with_timezone("UTC")),
        Arc::new(Int64Array::from(vec![7; rows as usize])),
        Arc::new(StringArray::from_iter((0..rows).map(|row| undecodable(row).then_some("unknown magic byte 0x6e")))),
    ];
    RecordBatch::try_new(schemas.read.clone(), columns).unwrap()
}

#[test]
fn silver_rows_built_a_part_at_a_time_are_the_checked_rows_without_errors() {
    // More rows than a part, so that parts start and end among scattered error rows.
    let rows = 2 * SILVER_PART_ROWS as i64 + 4_321;
    let schemas = schemas();
    let engine = Arc::new(RuleSet::parse("test.yml", RULES).unwrap().compile(schemas.input.clone()).unwrap());
    let run = engine.run_info("run-1".to_owned());
    let bronze = many_bronze_rows(&schemas, rows);
    let refined = refine(&engine, &schemas, &bronze, SilverMode::Split, 0.95, &run, 7..=7).unwrap();

    // The whole batch checked at once, its error rows filtered out afterwards.
    let decoded = arrow::compute::filter_record_batch(&bronze, &arrow::compute::is_null(bronze.column(6)).unwrap()).unwrap();
    let decoded = decoded.project(&(0..schemas.input.fields().len()).collect::<Vec<_>>()).unwrap();
    let (checked, _) = engine.apply(&decoded, &run).unwrap();
    let without_errors = arrow::compute::is_null(checked.column_by_name("_errors").unwrap()).unwrap();
    let expected = arrow::compute::filter_record_batch(&checked, &without_errors).unwrap();

    assert_eq!(refined.silver.num_rows(), expected.num_rows());
    assert_eq!(refined.silver.to_batch().unwrap(), expected);
    let odd_parts: Vec<RecordBatch> = refined.silver.parts(7_001).collect::<Result<_, _>>().unwrap();
    assert_eq!(odd_parts.len(), expected.num_rows().div_ceil(7_001));
    assert_eq!(arrow::compute::concat_batches(&engine.output_schema(), &odd_parts).unwrap(), expected);
    let warned = strings(&expected, "flag_check").iter().filter(|flag| *flag == "WARNING").count();
    assert!(warned as i64 > rows / 10, "warning rows are among silver's: {warned}");
    let counts = refined.counts;
    assert_eq!(counts.quarantined, counts.with_errors + counts.undecodable);
    assert_eq!(counts.silver + counts.quarantined, rows as u64);
}
