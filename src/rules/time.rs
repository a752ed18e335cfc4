//! Checks against the clock: `is_not_in_future`, `is_not_in_near_future`,
//! `is_older_than_n_days`, `is_data_fresh`. "Now" is the planner's (like Spark's
//! `current_timestamp()` within one query): the engine plans these checks again for each run
//! time it is applied at (see `RulesEngine::apply`).

use super::compile::{Condition, Part, expr};
use super::spark_text::timestamp_micros;
use super::spec::{FieldProblem, Rule};
use super::sql::SqlPlanner;

pub fn compile(rule: &Rule, planner: &SqlPlanner, c: &str) -> Result<(Condition, Vec<Part>), FieldProblem> {
    let now = planner.now_micros();
    let now_seconds = now / 1_000_000 * 1_000_000;
    let literal = |micros: i64| format!("TIMESTAMP '{}'", timestamp_micros(micros));
    let int = |key: &str| rule.arg(key).and_then(|v| v.as_i64()).unwrap_or(0);
    let column = rule.column();
    let value = || expr(planner, c, "check.arguments.column").map(Part::Value);
    let text = |s: String| Part::Text(s);
    let (condition_sql, message) = match rule.function.name {
        "is_not_in_future" => {
            let limit = now_seconds + int("offset") * 1_000_000;
            (
                format!("{c} > {}", literal(limit)),
                vec![text("Value '".into()), value()?, text(format!("' in Column '{column}' is greater than time '{}'", timestamp_micros(limit)))],
            )
        }
        "is_not_in_near_future" => {
            let limit = now_seconds + int("offset") * 1_000_000;
            (
                format!("{c} > {} AND {c} < {}", literal(now), literal(limit)),
                vec![
                    text("Value '".into()),
                    value()?,
                    text(format!("' in Column '{column}' is greater than '{} and smaller than '{}'", timestamp_micros(now), timestamp_micros(limit))),
                ],
            )
        }
        "is_older_than_n_days" => {
            let today = chrono::DateTime::from_timestamp_micros(now).unwrap_or_default().date_naive();
            let threshold = today - chrono::Duration::days(int("days"));
            let date = format!("to_date({c})");
            let negate = rule.flag("negate", false);
            let condition = format!("{date} >= DATE '{threshold}'");
            let (condition, wording) = if negate {
                (format!("NOT ({condition})"), format!("' is less than current date '{today}' for {} or more days", int("days")))
            } else {
                (condition, format!("' is not less than current date '{today}' for more than {} days", int("days")))
            };
            let date_value = expr(planner, &date, "check.arguments.column")?;
            (condition, vec![text("Value '".into()), Part::Value(date_value), text(format!("' in Column '{column}{wording}"))])
        }
        _ => {
            // Against `base_timestamp` (an ISO literal or an expression, as DQX reads limits), or now.
            let minutes = int("max_age_minutes");
            let base = rule.arg("base_timestamp").map_or_else(|| literal(now), super::compile::limit_sql);
            let base_value = expr(planner, &base, "check.arguments.base_timestamp")?;
            (
                format!("{c} < ({base}) - INTERVAL {minutes} MINUTES"),
                vec![
                    text("Value '".into()),
                    value()?,
                    text(format!("' in Column '{column}' is older than {minutes} minutes from base timestamp '")),
                    Part::Value(base_value),
                    text("'".into()),
                ],
            )
        }
    };
    let condition = planner.boolean(&condition_sql).map_err(|e| FieldProblem::new("check.arguments", e))?;
    Ok((Condition::Sql(condition), message))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{AsArray, RecordBatch, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    use crate::rules::{RuleSet, RunInfo};

    const RULES: &str = r#"
- criticality: error
  name: not_in_future
  check: {function: is_not_in_future, arguments: {column: event_time, offset: 0}}
- criticality: warn
  name: sql_now
  check: {function: sql_expression, arguments: {expression: "event_time <= current_timestamp()", msg: "after now"}}
"#;

    /// A stage runs for months: "now" is each run's time, not the time the rules were planned.
    #[test]
    fn clock_checks_compare_with_the_run_time() {
        let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let schema = Arc::new(Schema::new(vec![Field::new("event_time", utc, true)]));
        let in_a_year = chrono::Utc::now().timestamp_micros() + 365 * 86_400_000_000;
        let times = TimestampMicrosecondArray::from(vec![in_a_year]).with_timezone("UTC");
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(times)]).unwrap();
        let engine = RuleSet::parse("clock.yml", RULES).unwrap().compile(schema).unwrap();
        let flag_at = |run_time_micros| {
            let run = RunInfo { run_time_micros, run_id: "r".into(), rule_set_fingerprint: "fp".into() };
            let (checked, _) = engine.apply(&batch, &run).unwrap();
            checked.column_by_name("flag_check").unwrap().as_string::<i32>().value(0).to_owned()
        };
        assert_eq!(flag_at(chrono::Utc::now().timestamp_micros()), "FAIL", "a year ahead of now");
        assert_eq!(flag_at(in_a_year + 86_400_000_000), "PASS", "a day behind a run two days later");
        assert_eq!(flag_at(in_a_year - 1_000_000), "FAIL", "a second ahead of the run: both checks fail (FAIL wins)");
    }
}
