//! The result columns: DQX's `_errors` / `_warnings` (list of structs, NULL when empty, failed
//! checks in rule order) and the per-row verdict columns silver adds after them.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, ListArray, ListBuilder, MapBuilder, MapFieldNames, StringBuilder, StructArray,
    TimestampMicrosecondBuilder,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, Fields, TimeUnit};

use super::compile::CompiledRule;
use super::evaluate::RuleOutcome;
use super::spec::Criticality;

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

fn string_map(name: &str) -> Field {
    let entries = Fields::from(vec![Field::new("key", DataType::Utf8, false), Field::new("value", DataType::Utf8, true)]);
    Field::new(name, DataType::Map(Arc::new(Field::new("key_value", DataType::Struct(entries), false)), false), true)
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
        Field::new("_errors", list.clone(), true),
        Field::new("_warnings", list, true),
        Field::new("flag_check", DataType::Utf8, false),
        Field::new("description_failure", DataType::Utf8, true),
        string_map("dqx_rule_results"),
        Field::new("dqx_quality_score", DataType::Float64, true),
        Field::new("failed_rules_count", DataType::Int32, false),
        Field::new("passed_rules_count", DataType::Int32, false),
        Field::new("dqx_validation_timestamp", utc(), false),
        Field::new("dqx_lineage_id", DataType::Utf8, false),
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

/// Builds the result columns for a batch of `rows` rows.
pub fn result_columns(rules: &[CompiledRule], outcomes: &[RuleOutcome], rows: usize, run: &RunInfo) -> Vec<ArrayRef> {
    let mut errors: Vec<RowFailures> = vec![Vec::new(); rows];
    let mut warnings: Vec<RowFailures> = vec![Vec::new(); rows];
    for (index, (rule, outcome)) in rules.iter().zip(outcomes).enumerate() {
        let target = if rule.rule.criticality == Criticality::Error { &mut errors } else { &mut warnings };
        for (row, message) in &outcome.failures {
            target[*row].push((index, message));
        }
    }
    let mut columns = vec![failure_list(rules, &errors, run), failure_list(rules, &warnings, run)];
    columns.extend(verdict_columns(rules, outcomes, &errors, &warnings, run));
    columns
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

fn verdict_columns(rules: &[CompiledRule], outcomes: &[RuleOutcome], errors: &[RowFailures], warnings: &[RowFailures], run: &RunInfo) -> Vec<ArrayRef> {
    let rows = errors.len();
    let mut flag = StringBuilder::new();
    let mut description = StringBuilder::new();
    let mut results = MapBuilder::new(Some(map_names()), StringBuilder::new(), StringBuilder::new());
    let (mut score, mut failed_count, mut passed_count) = (Float64Builder::new(), Int32Builder::new(), Int32Builder::new());
    for row in 0..rows {
        let (row_errors, row_warnings) = (&errors[row], &warnings[row]);
        flag.append_value(if !row_errors.is_empty() { "FAIL" } else if !row_warnings.is_empty() { "WARNING" } else { "PASS" });
        let messages: Vec<&str> = row_errors.iter().chain(row_warnings).map(|(_, m)| *m).collect();
        description.append_option((!messages.is_empty()).then(|| messages.join("; ")));
        let (mut applicable, mut failed) = (0, 0);
        for (index, (rule, outcome)) in rules.iter().zip(outcomes).enumerate() {
            let verdict = if !outcome.applies(row) {
                "NOT_APPLICABLE"
            } else if row_errors.iter().any(|(i, _)| *i == index) {
                "FAIL"
            } else if row_warnings.iter().any(|(i, _)| *i == index) {
                "WARN"
            } else {
                "PASS"
            };
            applicable += usize::from(verdict != "NOT_APPLICABLE");
            failed += usize::from(verdict == "FAIL" || verdict == "WARN");
            results.keys().append_value(&rule.rule.name);
            results.values().append_value(verdict);
        }
        let _ = results.append(true);
        score.append_option((applicable > 0).then(|| (applicable - failed) as f64 / applicable as f64));
        failed_count.append_value(failed as i32);
        passed_count.append_value((applicable - failed) as i32);
    }
    let mut timestamp = TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC");
    let mut lineage = StringBuilder::new();
    for _ in 0..rows {
        timestamp.append_value(run.run_time_micros);
        lineage.append_value(&run.run_id);
    }
    vec![
        Arc::new(flag.finish()),
        Arc::new(description.finish()),
        Arc::new(results.finish()),
        Arc::new(score.finish()),
        Arc::new(failed_count.finish()),
        Arc::new(passed_count.finish()),
        Arc::new(timestamp.finish()),
        Arc::new(lineage.finish()),
    ]
}
