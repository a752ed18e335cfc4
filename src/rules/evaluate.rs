//! Running compiled rules over a batch: which rows each rule fails, and with which message.

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};

use super::compile::{CompiledRule, Condition, Part};
use super::spark_text::value_text;

/// What one rule found in one batch.
#[derive(Debug)]
pub struct RuleOutcome {
    /// Failing rows in row order, with their messages.
    pub failures: Vec<(usize, String)>,
    /// Rows the rule applied to (its filter held); `None`: every row.
    pub applicable: Option<BooleanArray>,
}

impl RuleOutcome {
    pub fn applies(&self, row: usize) -> bool {
        self.applicable.as_ref().is_none_or(|mask| mask.is_valid(row) && mask.value(row))
    }
}

/// `batch` with its float columns as Spark compares them: `-0.0` is `0.0` and every NaN the same
/// NaN (Arrow orders floats totally: `-0.0 < 0.0`, NaNs by their bits; Spark's NaN is one value
/// above every number, which Arrow's order already gives).
pub fn spark_comparable(batch: &RecordBatch) -> RecordBatch {
    use arrow::datatypes::{DataType, Float32Type, Float64Type};
    let floats = |array: &ArrayRef| -> ArrayRef {
        match array.data_type() {
            DataType::Float64 => {
                std::sync::Arc::new(array.as_primitive::<Float64Type>().unary::<_, Float64Type>(|v| if v.is_nan() { f64::NAN } else { v + 0.0 }))
            }
            DataType::Float32 => {
                std::sync::Arc::new(array.as_primitive::<Float32Type>().unary::<_, Float32Type>(|v| if v.is_nan() { f32::NAN } else { v + 0.0 }))
            }
            _ => array.clone(),
        }
    };
    let columns = batch.columns().iter().map(floats).collect();
    RecordBatch::try_new(batch.schema(), columns).unwrap_or_else(|_| batch.clone())
}

/// Evaluates `rule` on `batch`: conditions and filters on `comparable` (the batch as Spark
/// compares it, see [`spark_comparable`]), messages on the values as they are. Errors are
/// evaluation failures of a planned expression (say, a division by zero), named by the rule.
pub fn evaluate(rule: &CompiledRule, batch: &RecordBatch, comparable: &RecordBatch) -> Result<RuleOutcome, String> {
    let applicable = rule.filter.as_ref().map(|f| f.evaluate_bool(comparable)).transpose()?;
    let (failed, endings) = match &rule.condition {
        Condition::Sql(condition) => (condition.evaluate_bool(comparable)?, None),
        Condition::Native(native) => native.evaluate(comparable, applicable.as_ref())?,
    };
    let nulls = rule.null_fails.as_ref().map(|c| c.evaluate(comparable)).transpose()?;
    let is_true = |mask: &BooleanArray, row: usize| mask.is_valid(row) && mask.value(row);
    let rows: Vec<usize> = (0..batch.num_rows())
        .filter(|&row| applicable.as_ref().is_none_or(|a| is_true(a, row)))
        .filter(|&row| is_true(&failed, row) || nulls.as_ref().is_some_and(|n| n.is_null(row)))
        .collect();
    if rows.is_empty() {
        return Ok(RuleOutcome { failures: Vec::new(), applicable });
    }
    let parts = PartValues::evaluate(&rule.message, batch)?;
    let failures = rows
        .into_iter()
        .map(|row| {
            let message = match &nulls {
                Some(values) if values.is_null(row) => format!("Column '{}' value is null", rule.rule.column()),
                _ => parts.message(row, endings.as_ref().and_then(|e| e[row].as_deref())),
            };
            (row, message)
        })
        .collect();
    Ok(RuleOutcome { failures, applicable })
}

/// [`evaluate`], never failing the batch: when `rule` cannot be evaluated on it (an integer
/// division by zero, an overflow, a cast of a value that is none), each row is evaluated on its
/// own, and a row the rule cannot be evaluated on fails it with the reason; a dataset rule
/// (uniqueness) fails every row. One value never stops a run, and it is not silently passed.
pub fn evaluate_each_row_on_error(rule: &CompiledRule, batch: &RecordBatch, comparable: &RecordBatch) -> RuleOutcome {
    let error = match evaluate(rule, batch, comparable) {
        Ok(outcome) => return outcome,
        Err(error) => error,
    };
    let unevaluated = |message: &str| format!("Rule '{}' could not be evaluated on this row: {message}", rule.rule.name);
    let rows = batch.num_rows();
    let (failures, applies): (Vec<_>, Vec<bool>) = if rule.rule.function.dataset {
        ((0..rows).map(|row| Some((row, unevaluated(&error)))).collect(), vec![true; rows])
    } else {
        (0..rows)
            .map(|row| match evaluate(rule, &batch.slice(row, 1), &comparable.slice(row, 1)) {
                Ok(outcome) => {
                    let applies = outcome.applies(0);
                    (outcome.failures.into_iter().next().map(|(_, message)| (row, message)), applies)
                }
                Err(message) => (Some((row, unevaluated(&message))), true),
            })
            .unzip()
    };
    let failures: Vec<(usize, String)> = failures.into_iter().flatten().collect();
    tracing::warn!(rule = %rule.rule.name, %error, failed_rows = failures.len(), "a rule could not be evaluated on some rows: they fail it");
    RuleOutcome { failures, applicable: Some(BooleanArray::from(applies)) }
}

/// Message parts with their per-row values evaluated once for the batch.
struct PartValues<'a> {
    parts: &'a [Part],
    values: Vec<Vec<ArrayRef>>,
}

impl<'a> PartValues<'a> {
    fn evaluate(parts: &'a [Part], batch: &RecordBatch) -> Result<Self, String> {
        let values = parts
            .iter()
            .map(|part| match part {
                Part::Text(_) => Ok(Vec::new()),
                Part::Value(e) | Part::ValueOrNull(e) => Ok(vec![e.evaluate(batch)?]),
                Part::List(items) | Part::Struct(items) => items.iter().map(|e| e.evaluate(batch)).collect(),
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self { parts, values })
    }

    /// The message of `row`, with the native check's `ending` for that row appended.
    fn message(&self, row: usize, ending: Option<&str>) -> String {
        let mut message = String::new();
        for (part, values) in self.parts.iter().zip(&self.values) {
            match part {
                Part::Text(text) => message.push_str(text),
                Part::Value(_) => message.push_str(&value_text(values[0].as_ref(), row).unwrap_or_default()),
                Part::ValueOrNull(_) => message.push_str(&value_text(values[0].as_ref(), row).unwrap_or_else(|| "null".to_owned())),
                Part::List(_) => {
                    // concat_ws skips NULL items.
                    let items: Vec<String> = values.iter().filter_map(|v| value_text(v.as_ref(), row)).collect();
                    message.push_str(&items.join(", "));
                }
                Part::Struct(_) => {
                    let fields: Vec<String> = values.iter().map(|v| value_text(v.as_ref(), row).unwrap_or_else(|| "null".to_owned())).collect();
                    message.push_str(&format!("{{{}}}", fields.join(", ")));
                }
            }
        }
        message.push_str(ending.unwrap_or_default());
        message
    }
}
