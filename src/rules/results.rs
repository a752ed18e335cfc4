//! The result columns: DQX's `_errors` / `_warnings` (list of structs, NULL when empty, failed
//! checks in rule order) and the per-row verdict columns silver adds after them.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, ListArray, ListBuilder, MapArray, MapBuilder, MapFieldNames, StringArray, StringBuilder,
    StructArray, TimestampMicrosecondArray, TimestampMicrosecondBuilder,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, FieldRef, Fields, TimeUnit};

use super::compile::CompiledRule;
use super::evaluate::RuleOutcome;
use super::spec::Criticality;

/// The names of the result columns the rules add (DQX's): owned here, used by every layer that
/// reads checked rows.
pub mod column {
    /// Failed error-criticality checks (null when none failed).
    pub const ERRORS: &str = "_errors";
    /// Failed warn-criticality checks (null when none failed).
    pub const WARNINGS: &str = "_warnings";
    /// PASS, WARNING or FAIL.
    pub const FLAG_CHECK: &str = "flag_check";
    /// The highest criticality that failed: `error`, `warn` or `none`.
    pub const CRITICALITY_LEVEL: &str = "dqx_criticality_level";
    pub const DESCRIPTION_FAILURE: &str = "description_failure";
    pub const RULE_RESULTS: &str = "dqx_rule_results";
    pub const QUALITY_SCORE: &str = "dqx_quality_score";
    pub const FAILED_RULES_COUNT: &str = "failed_rules_count";
    pub const PASSED_RULES_COUNT: &str = "passed_rules_count";
    pub const VALIDATION_TIMESTAMP: &str = "dqx_validation_timestamp";
    pub const LINEAGE_ID: &str = "dqx_lineage_id";
    /// Every result column, in the order they follow the checked columns.
    pub const ALL: [&str; 11] = [
        ERRORS,
        WARNINGS,
        FLAG_CHECK,
        CRITICALITY_LEVEL,
        DESCRIPTION_FAILURE,
        RULE_RESULTS,
        QUALITY_SCORE,
        FAILED_RULES_COUNT,
        PASSED_RULES_COUNT,
        VALIDATION_TIMESTAMP,
        LINEAGE_ID,
    ];
}

/// What stamps every result of one run.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub run_time_micros: i64,
    pub run_id: String,
    pub rule_set_fingerprint: String,
}

fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The key and value fields of a string → string map's entries, as Spark names them.
fn string_map_entry_fields() -> Fields {
    Fields::from(vec![Field::new("key", DataType::Utf8, false), Field::new("value", DataType::Utf8, true)])
}

fn string_map_entry() -> FieldRef {
    Arc::new(Field::new("key_value", DataType::Struct(string_map_entry_fields()), false))
}

fn string_map(name: &str) -> Field {
    Field::new(name, DataType::Map(string_map_entry(), false), true)
}

fn map_names() -> MapFieldNames {
    MapFieldNames { entry: "key_value".into(), key: "key".into(), value: "value".into() }
}

/// The fields of one `_errors` / `_warnings` item, as DQX declares them.
pub fn result_item_fields() -> Fields {
    Fields::from(vec![
        Field::new("name", DataType::Utf8, true),
        Field::new("message", DataType::Utf8, true),
        Field::new("columns", DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))), true),
        Field::new("filter", DataType::Utf8, true),
        Field::new("function", DataType::Utf8, true),
        Field::new("run_time", utc(), true),
        Field::new("run_id", DataType::Utf8, true),
        string_map("user_metadata"),
        Field::new("rule_fingerprint", DataType::Utf8, true),
        Field::new("rule_set_fingerprint", DataType::Utf8, true),
        Field::new("skipped", DataType::Boolean, true),
    ])
}

/// Every column the rules engine appends, in order.
pub fn result_fields() -> Vec<Field> {
    let list = DataType::List(Arc::new(Field::new("item", DataType::Struct(result_item_fields()), true)));
    vec![
        Field::new(column::ERRORS, list.clone(), true),
        Field::new(column::WARNINGS, list, true),
        Field::new(column::FLAG_CHECK, DataType::Utf8, false),
        // Nullable: silver tables written before it gain it empty (see table::evolve).
        Field::new(column::CRITICALITY_LEVEL, DataType::Utf8, true),
        Field::new(column::DESCRIPTION_FAILURE, DataType::Utf8, true),
        string_map(column::RULE_RESULTS),
        Field::new(column::QUALITY_SCORE, DataType::Float64, true),
        Field::new(column::FAILED_RULES_COUNT, DataType::Int32, false),
        Field::new(column::PASSED_RULES_COUNT, DataType::Int32, false),
        Field::new(column::VALIDATION_TIMESTAMP, utc(), false),
        Field::new(column::LINEAGE_ID, DataType::Utf8, false),
    ]
}

/// Parquet settings for checked rows: min/max statistics only for the checked columns. For the
/// result columns (lists of structs, a map per row) they are useless for pruning and were the
/// largest single cost of writing them (a byte comparison per value).
pub fn writer_properties(checked_columns: &arrow::datatypes::Schema) -> parquet::file::properties::WriterProperties {
    use parquet::file::properties::EnabledStatistics;
    let mut builder = crate::table::writer_properties_builder().set_statistics_enabled(EnabledStatistics::None);
    for field in checked_columns.fields() {
        builder = builder.set_column_statistics_enabled(parquet::schema::types::ColumnPath::from(field.name().as_str()), EnabledStatistics::Page);
    }
    builder.build()
}

/// Failures of one row: (rule index, message).
type RowFailures<'a> = Vec<(usize, &'a str)>;

/// The result columns of `rows` (ascending indices into the batch `outcomes` were evaluated
/// on), in that order: the whole batch at once, or a part of it at a time so that a large batch
/// never holds its result columns whole (silver writes them a part at a time).
pub fn result_columns(rules: &[CompiledRule], outcomes: &[RuleOutcome], rows: &[usize], run: &RunInfo) -> Vec<ArrayRef> {
    let mut errors: Vec<RowFailures> = vec![Vec::new(); rows.len()];
    let mut warnings: Vec<RowFailures> = vec![Vec::new(); rows.len()];
    for (index, (rule, outcome)) in rules.iter().zip(outcomes).enumerate() {
        let target = if rule.rule.criticality == Criticality::Error { &mut errors } else { &mut warnings };
        for (at, message) in failures_among(outcome, rows) {
            target[at].push((index, message));
        }
    }
    let mut columns = vec![failure_list(rules, &errors, run), failure_list(rules, &warnings, run)];
    columns.extend(verdict_columns(rules, outcomes, rows, &errors, &warnings, run));
    columns
}

/// The failures of `outcome` among `rows` (ascending): the position in `rows` of each failing
/// row, with its message. Both lists are in row order, so only the failures between the first
/// and the last of `rows` are looked up.
fn failures_among<'a>(outcome: &'a RuleOutcome, rows: &'a [usize]) -> impl Iterator<Item = (usize, &'a str)> + 'a {
    let (first, last) = (rows.first().copied().unwrap_or(0), rows.last().copied().unwrap_or(0));
    let failures = &outcome.failures;
    let from = failures.partition_point(|(row, _)| *row < first);
    let to = failures.partition_point(|(row, _)| *row <= last);
    let within = if rows.is_empty() { &[][..] } else { &failures[from..to] };
    within.iter().filter_map(|(row, message)| rows.binary_search(row).ok().map(|at| (at, message.as_str())))
}

fn failure_list(rules: &[CompiledRule], per_row: &[RowFailures], run: &RunInfo) -> ArrayRef {
    let fields = result_item_fields();
    let (mut name, mut message, mut filter, mut function) = (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let mut columns = ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new("item", DataType::Utf8, true)));
    let mut run_time = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let (mut run_id, mut fingerprint, mut set_fingerprint) = (StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let mut metadata = MapBuilder::new(Some(map_names()), StringBuilder::new(), StringBuilder::new());
    let mut skipped = BooleanBuilder::new();
    for (index, text) in per_row.iter().flatten() {
        let rule = &rules[*index].rule;
        name.append_value(&rule.name);
        message.append_value(text);
        match &rule.columns {
            Some(list) => columns.append_value(list.iter().map(Some)),
            None => columns.append_null(),
        }
        filter.append_option(rule.filter.as_deref());
        function.append_value(rule.function.name);
        run_time.append_value(run.run_time_micros);
        run_id.append_value(&run.run_id);
        for (key, value) in &rule.user_metadata {
            metadata.keys().append_value(key);
            metadata.values().append_value(value);
        }
        let _ = metadata.append(true);
        fingerprint.append_value(&rule.fingerprint);
        set_fingerprint.append_value(&run.rule_set_fingerprint);
        skipped.append_null();
    }
    let children: Vec<ArrayRef> = vec![
        Arc::new(name.finish()),
        Arc::new(message.finish()),
        Arc::new(columns.finish()),
        Arc::new(filter.finish()),
        Arc::new(function.finish()),
        Arc::new(run_time.finish()),
        Arc::new(run_id.finish()),
        Arc::new(metadata.finish()),
        Arc::new(fingerprint.finish()),
        Arc::new(set_fingerprint.finish()),
        Arc::new(skipped.finish()),
    ];
    let items = StructArray::new(fields.clone(), children, None);
    let offsets = OffsetBuffer::from_lengths(per_row.iter().map(Vec::len));
    let validity = NullBuffer::from(per_row.iter().map(|f| !f.is_empty()).collect::<Vec<_>>());
    let item_field = Arc::new(Field::new("item", DataType::Struct(fields), true));
    Arc::new(ListArray::new(item_field, offsets, Arc::new(items), Some(validity)))
}

/// A rule's verdict on one row, as `dqx_rule_results` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Pass,
    Fail,
    Warn,
    NotApplicable,
}

impl Verdict {
    fn text(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Warn => "WARN",
            Verdict::NotApplicable => "NOT_APPLICABLE",
        }
    }
}

/// Every rule's verdict on each of `rows`, row-major (the first row's rules, then the
/// second's, ...), the order of the map entries. Applicability comes from the rules' masks; the
/// failures from each row's `errors` and `warnings`, already found among `rows`.
fn verdict_matrix(outcomes: &[RuleOutcome], rows: &[usize], errors: &[RowFailures], warnings: &[RowFailures]) -> Vec<Verdict> {
    let width = outcomes.len();
    let mut verdicts = vec![Verdict::Pass; rows.len() * width];
    for (index, outcome) in outcomes.iter().enumerate() {
        if outcome.applicable.is_some() {
            for (at, _) in rows.iter().enumerate().filter(|(_, row)| !outcome.applies(**row)) {
                verdicts[at * width + index] = Verdict::NotApplicable;
            }
        }
    }
    for (failed, per_row) in [(Verdict::Fail, errors), (Verdict::Warn, warnings)] {
        for (at, failures) in per_row.iter().enumerate() {
            for (index, _) in failures {
                if let Some(verdict) = verdicts.get_mut(at * width + index)
                    && *verdict == Verdict::Pass
                {
                    *verdict = failed;
                }
            }
        }
    }
    verdicts
}

/// `values` repeated `times` times as one string column, built in one allocation per buffer.
fn tiled_strings(values: &[&str], times: usize) -> StringArray {
    let data = values.concat().repeat(times);
    let offsets = OffsetBuffer::from_lengths((0..times).flat_map(|_| values.iter().map(|value| value.len())));
    StringArray::new(offsets, data.into_bytes().into(), None)
}

/// `dqx_rule_results`: a map per row from every rule name to its verdict. Every row has the same
/// keys in the same order, so the key column is the rule names tiled, not built row by row.
fn rule_results_map(rules: &[CompiledRule], verdicts: &[Verdict], rows: usize) -> ArrayRef {
    let names: Vec<&str> = rules.iter().map(|rule| rule.rule.key.as_str()).collect();
    let keys = tiled_strings(&names, rows);
    let values = StringArray::from_iter_values(verdicts.iter().map(|verdict| verdict.text()));
    let entries = StructArray::new(string_map_entry_fields(), vec![Arc::new(keys), Arc::new(values)], None);
    let offsets = OffsetBuffer::from_lengths(std::iter::repeat_n(names.len(), rows));
    Arc::new(MapArray::new(string_map_entry(), offsets, entries, None, false))
}

fn verdict_columns(
    rules: &[CompiledRule],
    outcomes: &[RuleOutcome],
    checked: &[usize],
    errors: &[RowFailures],
    warnings: &[RowFailures],
    run: &RunInfo,
) -> Vec<ArrayRef> {
    let rows = checked.len();
    let verdicts = verdict_matrix(outcomes, checked, errors, warnings);
    let worst = |(row_errors, row_warnings): (&RowFailures, &RowFailures)| {
        if !row_errors.is_empty() {
            ("FAIL", "error")
        } else if !row_warnings.is_empty() {
            ("WARNING", "warn")
        } else {
            ("PASS", "none")
        }
    };
    let flag = StringArray::from_iter_values(errors.iter().zip(warnings).map(|row| worst(row).0));
    let level = StringArray::from_iter_values(errors.iter().zip(warnings).map(|row| worst(row).1));
    let description: StringArray = errors
        .iter()
        .zip(warnings)
        .map(|(row_errors, row_warnings)| {
            let messages: Vec<&str> = row_errors.iter().chain(row_warnings).map(|(_, m)| *m).collect();
            (!messages.is_empty()).then(|| messages.join("; "))
        })
        .collect();
    let (mut score, mut failed_count, mut passed_count) =
        (Float64Builder::with_capacity(rows), Int32Builder::with_capacity(rows), Int32Builder::with_capacity(rows));
    for row in 0..rows {
        let row_verdicts = &verdicts[row * rules.len()..(row + 1) * rules.len()];
        let applicable = row_verdicts.iter().filter(|v| **v != Verdict::NotApplicable).count();
        let failed = row_verdicts.iter().filter(|v| matches!(v, Verdict::Fail | Verdict::Warn)).count();
        score.append_option((applicable > 0).then(|| (applicable - failed) as f64 / applicable as f64));
        failed_count.append_value(failed as i32);
        passed_count.append_value((applicable - failed) as i32);
    }
    let timestamp = TimestampMicrosecondArray::from(vec![run.run_time_micros; rows]).with_timezone("UTC");
    vec![
        Arc::new(flag),
        Arc::new(level),
        Arc::new(description),
        rule_results_map(rules, &verdicts, rows),
        Arc::new(score.finish()),
        Arc::new(failed_count.finish()),
        Arc::new(passed_count.finish()),
        Arc::new(timestamp),
        Arc::new(tiled_strings(&[&run.run_id], rows)),
    ]
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray, Int32Array, RecordBatch};
    use arrow::datatypes::{Float64Type, Int32Type, Schema, TimestampMicrosecondType};

    use super::*;
    use crate::rules::RuleSet;

    const RULES: &str = r#"
- criticality: error
  name: quantity_positive
  check: {function: sql_expression, arguments: {expression: "quantity > 0", msg: "quantity not positive"}}
- criticality: warn
  name: big_quantity_reviewed
  filter: "quantity > 100"
  check: {function: sql_expression, arguments: {expression: "quantity < 1000", msg: "huge quantity"}}
- criticality: warn
  name: quantity_even
  check: {function: sql_expression, arguments: {expression: "quantity % 2 = 0", msg: "odd quantity"}}
"#;

    fn map_row(map: &MapArray, row: usize) -> Vec<(String, String)> {
        let entries = map.value(row);
        let (keys, values) = (entries.column(0).as_string::<i32>(), entries.column(1).as_string::<i32>());
        (0..entries.len()).map(|i| (keys.value(i).to_owned(), values.value(i).to_owned())).collect()
    }

    #[test]
    fn verdict_columns_per_row() {
        let schema = Arc::new(Schema::new(vec![Field::new("quantity", DataType::Int32, true)]));
        let quantity = Int32Array::from(vec![Some(2), Some(-3), Some(5000), Some(200), None]);
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(quantity)]).unwrap();
        let engine = RuleSet::parse("test.yml", RULES).unwrap().compile(schema).unwrap();
        let run = RunInfo { run_time_micros: 1_700_000_000_000_000, run_id: "run-1".into(), rule_set_fingerprint: "fp".into() };
        let (checked, _) = engine.apply(&batch, &run).unwrap();
        let column = |name: &str| checked.column_by_name(name).unwrap();

        let flags: Vec<&str> = column("flag_check").as_string::<i32>().iter().map(Option::unwrap).collect();
        assert_eq!(flags, ["PASS", "FAIL", "WARNING", "PASS", "PASS"]);
        let levels: Vec<&str> = column("dqx_criticality_level").as_string::<i32>().iter().map(Option::unwrap).collect();
        assert_eq!(levels, ["none", "error", "warn", "none", "none"], "row 1 failed an error and a warning: error is the highest");
        let descriptions: Vec<Option<&str>> = column("description_failure").as_string::<i32>().iter().collect();
        assert_eq!(descriptions, [None, Some("quantity not positive; odd quantity"), Some("huge quantity"), None, None]);

        let results = column("dqx_rule_results");
        let map = results.as_map();
        let verdicts = |row| map_row(map, row).into_iter().map(|(_, v)| v).collect::<Vec<_>>();
        let names: Vec<String> = map_row(map, 0).into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["quantity_positive", "big_quantity_reviewed", "quantity_even"]);
        assert_eq!(verdicts(0), ["PASS", "NOT_APPLICABLE", "PASS"]);
        assert_eq!(verdicts(1), ["FAIL", "NOT_APPLICABLE", "WARN"]);
        assert_eq!(verdicts(2), ["PASS", "WARN", "PASS"]);
        assert_eq!(verdicts(3), ["PASS", "PASS", "PASS"]);
        // NULL passes every check; a NULL filter does not apply.
        assert_eq!(verdicts(4), ["PASS", "NOT_APPLICABLE", "PASS"]);
        assert_eq!(map.null_count(), 0);

        let scores: Vec<Option<f64>> = column("dqx_quality_score").as_primitive::<Float64Type>().iter().collect();
        assert_eq!(scores, [Some(1.0), Some(0.0), Some(2.0 / 3.0), Some(1.0), Some(1.0)]);
        let failed: Vec<i32> = column("failed_rules_count").as_primitive::<Int32Type>().values().to_vec();
        let passed: Vec<i32> = column("passed_rules_count").as_primitive::<Int32Type>().values().to_vec();
        assert_eq!((failed, passed), (vec![0, 2, 1, 0, 0], vec![2, 0, 2, 3, 2]));
        let stamps = column("dqx_validation_timestamp");
        assert!(stamps.as_primitive::<TimestampMicrosecondType>().values().iter().all(|t| *t == run.run_time_micros));
        assert!(column("dqx_lineage_id").as_string::<i32>().iter().all(|id| id == Some("run-1")));
        assert_eq!(checked.schema().fields()[1..].to_vec(), result_fields().into_iter().map(Arc::new).collect::<Vec<_>>());
    }
}
