//! Running compiled rules over a batch: which rows each rule fails, and with which message.

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};

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

/// Evaluates `rule` on `batch`. Errors are evaluation failures of a planned expression (say, a
/// division by zero in an expression), named by the rule.
pub fn evaluate(rule: &CompiledRule, batch: &RecordBatch) -> Result<RuleOutcome, String> {
    let applicable = rule.filter.as_ref().map(|f| f.evaluate_bool(batch)).transpose()?;
    let (failed, counts) = match &rule.condition {
        Condition::Sql(condition) => (condition.evaluate_bool(batch)?, None),
        Condition::Native(native) => native.evaluate(batch)?,
    };
    let nulls = rule.null_fails.as_ref().map(|c| c.evaluate(batch)).transpose()?;
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
                _ => parts.message(row, counts.as_ref().map(|c| c[row])),
            };
            (row, message)
        })
        .collect();
    Ok(RuleOutcome { failures, applicable })
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
                Part::List(items) => items.iter().map(|e| e.evaluate(batch)).collect(),
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self { parts, values })
    }

    fn message(&self, row: usize, duplicates: Option<usize>) -> String {
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
            }
        }
        if let Some(count) = duplicates {
            message.push_str(&format!("{count} duplicates"));
        }
        message
    }
}
