//! Values at the edges of their types never stop a run: each rule either plans or is refused at
//! load, and every row gets a verdict.

use std::sync::Arc;

use arrow::array::{BooleanArray, Int64Array, RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use super::{RuleSet, RunInfo};

/// 9999-12-31T00:00:00Z, the common "end of time" sentinel, beyond what nanoseconds can hold.
const END_OF_TIME: i64 = 253_402_214_400_000_000;
const JAN_2024: i64 = 1_704_067_200_000_000;

fn batch() -> RecordBatch {
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", utc, true),
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Int64, true),
        Field::new("x", DataType::Boolean, true),
        Field::new("ntz", DataType::Timestamp(TimeUnit::Microsecond, None), true),
    ]));
    let ts = TimestampMicrosecondArray::from(vec![Some(END_OF_TIME), Some(JAN_2024), None, Some(i64::MIN / 2)]).with_timezone("UTC");
    let a = Int64Array::from(vec![Some(1), None, None, Some(0)]);
    let b = Int64Array::from(vec![None, Some(2), None, Some(0)]);
    let x = BooleanArray::from(vec![Some(true), None, Some(false), Some(true)]);
    let ntz = TimestampMicrosecondArray::from(vec![Some(END_OF_TIME), Some(JAN_2024), None, Some(i64::MIN / 2)]);
    RecordBatch::try_new(schema, vec![Arc::new(ts), Arc::new(a), Arc::new(b), Arc::new(x), Arc::new(ntz)]).unwrap()
}

/// The failing rule names of each row.
fn failures(rules: &str) -> Vec<Vec<String>> {
    let batch = batch();
    let engine = RuleSet::parse("edges.yml", rules).unwrap().compile(batch.schema()).unwrap();
    let run = RunInfo { run_time_micros: JAN_2024 + 86_400_000_000, run_id: "r".into(), rule_set_fingerprint: "fp".into() };
    let outcomes = engine.evaluate(&batch);
    let _ = engine.apply(&batch, &run).unwrap();
    (0..batch.num_rows())
        .map(|row| {
            engine.rules.iter().zip(&outcomes).filter(|(_, o)| o.failures.iter().any(|(r, _)| *r == row)).map(|(r, _)| r.rule.name.clone()).collect()
        })
        .collect()
}

fn rule(name: &str, check: &str) -> String {
    format!("- criticality: error\n  name: {name}\n  check: {check}\n")
}

#[test]
fn timestamps_beyond_2262_compare_in_microseconds() {
    let rules = [
        rule("sql_literal", r#"{function: sql_expression, arguments: {expression: "ts < TIMESTAMP '2030-01-01 00:00:00'"}}"#),
        rule("sql_now", r#"{function: sql_expression, arguments: {expression: "ts <= now()"}}"#),
        rule("sql_cast", r#"{function: sql_expression, arguments: {expression: "ts < CAST('2030-01-01' AS TIMESTAMP)"}}"#),
        rule("sql_to_timestamp", r#"{function: sql_expression, arguments: {expression: "ts < to_timestamp('2030-01-01')"}}"#),
        rule("sql_date", r#"{function: sql_expression, arguments: {expression: "ts < DATE '2030-01-01'"}}"#),
        rule("equal_iso", r#"{function: is_equal_to, arguments: {column: ts, value: "2024-01-01T00:00:00"}}"#),
        rule("not_less_iso", r#"{function: is_not_less_than, arguments: {column: ts, limit: "2020-01-01"}}"#),
        rule("in_range_iso", r#"{function: is_in_range, arguments: {column: ts, min_limit: "2020-01-01", max_limit: "2030-01-01T00:00:00"}}"#),
        rule(
            "not_in_range_iso",
            r#"{function: is_not_in_range, arguments: {column: ts, min_limit: "2020-01-01", max_limit: "2030-01-01 00:00:00"}}"#,
        ),
        rule("fresh", "{function: is_data_fresh, arguments: {column: ts, max_age_minutes: 60}}"),
    ]
    .concat();
    let failed = failures(&rules);
    assert_eq!(failed, failures(&rules.replace("column: ts", "column: ntz").replace("ts ", "ntz ")), "the same without a time zone");
    let all = ["sql_literal", "sql_now", "sql_cast", "sql_to_timestamp", "sql_date", "equal_iso", "in_range_iso"];
    assert_eq!(failed[0], all, "9999-12-31 is after every limit");
    assert_eq!(failed[1], ["not_in_range_iso", "fresh"]);
    assert!(failed[2].is_empty(), "NULL passes");
}

#[test]
fn coalesce_and_nvl_plan_everywhere() {
    let rules = [
        rule("nvl", r#"{function: sql_expression, arguments: {expression: "nvl(x, false)"}}"#),
        rule("coalesce_sum", r#"{function: sql_expression, arguments: {expression: "coalesce(a, 0) + coalesce(b, 0) > 0"}}"#),
        rule("ifnull", r#"{function: sql_expression, arguments: {expression: "ifnull(a, 0) >= 0"}}"#),
        rule("nvl2", r#"{function: sql_expression, arguments: {expression: "nvl2(a, true, false)"}}"#),
        rule("equal_coalesce", r#"{function: is_equal_to, arguments: {column: "coalesce(a, b)", value: 1}}"#),
    ]
    .concat();
    let failed = failures(&rules);
    assert_eq!(failed[0], Vec::<String>::new());
    assert_eq!(failed[1], ["nvl", "nvl2", "equal_coalesce"]);
    assert_eq!(failed[2], ["nvl", "coalesce_sum", "nvl2"], "coalesce(NULL, NULL) is NULL: passes");
    assert_eq!(failed[3], ["coalesce_sum", "equal_coalesce"]);
}

/// A value a rule cannot be evaluated on (text that is no integer, cast as one) fails that rule
/// on that row with the reason; the other rows and rules are judged as usual.
#[test]
fn a_row_a_rule_cannot_evaluate_fails_it_and_stops_nothing() {
    let rules = [
        rule("casts", r#"{function: sql_expression, arguments: {expression: "CAST(CAST(a AS VARCHAR) || 'x' AS INT) > 0"}}"#),
        rule("divides", r#"{function: sql_expression, arguments: {expression: "10 / (a - 1) > 0"}}"#),
        rule("a_present", "{function: is_not_null, arguments: {column: a}}"),
    ]
    .concat();
    let batch = batch();
    let engine = RuleSet::parse("edges.yml", &rules).unwrap().compile(batch.schema()).unwrap();
    let outcomes = engine.evaluate(&batch);
    let casts: Vec<usize> = outcomes[0].failures.iter().map(|(row, _)| *row).collect();
    assert_eq!(casts, [0, 3], "a = 1 and a = 0 are no integers with an x; NULL casts to NULL");
    assert!(outcomes[0].failures.iter().all(|(_, message)| message.starts_with("Rule 'casts' could not be evaluated on this row: ")));
    let divides: Vec<(usize, &str)> = outcomes[1].failures.iter().map(|(row, message)| (*row, message.as_str())).collect();
    assert_eq!(divides, [(3, "Value is not matching expression: 10 / (a - 1) > 0")], "Spark divides by zero as NULL (a = 1), -10 fails");
    assert_eq!(outcomes[2].failures.iter().map(|(row, _)| *row).collect::<Vec<_>>(), [1, 2]);
}
