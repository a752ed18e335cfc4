//! Checks against the clock: `is_not_in_future`, `is_not_in_near_future`,
//! `is_older_than_n_days`, `is_data_fresh`. "Now" is fixed when the rules are planned, like
//! Spark's `current_timestamp()` within one query.

use super::compile::{Condition, Part, expr};
use super::spark_text::timestamp_micros;
use super::spec::Rule;
use super::sql::SqlPlanner;

pub fn compile(rule: &Rule, planner: &SqlPlanner, c: &str) -> Result<(Condition, Vec<Part>), (String, String)> {
    let now = chrono::Utc::now().timestamp_micros();
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
            let today = chrono::Utc::now().date_naive();
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
            let minutes = int("max_age_minutes");
            let threshold = now - minutes * 60_000_000;
            (
                format!("{c} < {}", literal(threshold)),
                vec![
                    text("Value '".into()),
                    value()?,
                    text(format!("' in Column '{column}' is older than {minutes} minutes from base timestamp '{}'", timestamp_micros(now))),
                ],
            )
        }
    };
    let condition = planner.boolean(&condition_sql).map_err(|e| ("check.arguments".to_owned(), e))?;
    Ok((Condition::Sql(condition), message))
}
