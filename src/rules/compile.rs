//! Rules planned against an input schema: each check becomes a failure condition (a DataFusion
//! physical expression, or a native Arrow predicate for patterns, code lists and uniqueness) and
//! a message template. Everything that can be wrong is found here, before any row is read.

use serde_yaml::Value;

use super::fingerprint::python_float_repr;
use super::native::NativeCheck;
use super::spec::{FieldProblem, Rule};
use super::sql::{CompiledExpr, SqlPlanner};

/// A message piece: text, or a value per row (Spark's string form).
#[derive(Debug, Clone)]
pub enum Part {
    Text(String),
    /// The expression's value; NULL prints nothing (Spark's `concat_ws` skips it).
    Value(CompiledExpr),
    /// The expression's value; NULL prints `null`.
    ValueOrNull(CompiledExpr),
    /// Values joined by `, `.
    List(Vec<CompiledExpr>),
    /// Spark's text of `struct(values…)`: `{B, 2, null}`.
    Struct(Vec<CompiledExpr>),
}

/// How a check decides which rows fail.
#[derive(Debug, Clone)]
pub enum Condition {
    /// Fails where the expression is TRUE (NULL passes).
    Sql(CompiledExpr),
    /// Fails where the native predicate says so.
    Native(NativeCheck),
}

/// A rule ready to run on batches of one schema.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub rule: Rule,
    /// Rows where this is not TRUE are not checked (`filter`).
    pub filter: Option<CompiledExpr>,
    pub condition: Condition,
    pub message: Vec<Part>,
    /// `allow_nulls: false`: a NULL in this column fails with "value is null".
    pub null_fails: Option<CompiledExpr>,
}

/// Plans `rule`; the error says what cannot be planned (unknown column, bad SQL, wrong type).
pub fn compile(rule: &Rule, planner: &SqlPlanner) -> Result<CompiledRule, FieldProblem> {
    let filter = rule.filter.as_deref().map(|sql| planner.boolean(sql)).transpose().map_err(|e| FieldProblem::new("filter", e))?;
    let (condition, message) = body(rule, planner)?;
    let null_fails = if rule.function.param("allow_nulls").is_some() && !rule.flag("allow_nulls", true) {
        Some(expr(planner, rule.column(), "check.arguments.column")?)
    } else {
        None
    };
    Ok(CompiledRule { rule: rule.clone(), filter, condition, message, null_fails })
}

type Body = (Condition, Vec<Part>);

fn arg_error(field: &str) -> impl Fn(String) -> FieldProblem + '_ {
    move |message| FieldProblem::new(field, message)
}

/// Parses and plans `sql`; a failure is reported against `field`.
pub fn expr(planner: &SqlPlanner, sql: &str, field: &str) -> Result<CompiledExpr, FieldProblem> {
    let parsed = planner.parse(sql).map_err(arg_error(field))?;
    planner.compile(sql, parsed).map_err(arg_error(field))
}

fn condition(planner: &SqlPlanner, sql: &str, field: &str) -> Result<Condition, FieldProblem> {
    planner.boolean(sql).map(Condition::Sql).map_err(arg_error(field))
}

/// SQL text for a limit as DQX reads it: numbers are literals, ISO dates and timestamps are
/// typed literals, every other string is an expression (quote string literals: `"'NEW'"`).
pub fn limit_sql(value: &Value) -> String {
    match value {
        Value::Number(n) if n.is_f64() => python_float_repr(n.as_f64().unwrap_or_default()),
        Value::Number(n) => n.to_string(),
        Value::String(s) => iso_literal(s).unwrap_or_else(|| s.clone()),
        Value::Bool(b) => b.to_string(),
        other => serde_yaml::to_string(other).unwrap_or_default().trim().to_owned(),
    }
}

fn iso_literal(text: &str) -> Option<String> {
    use chrono::{NaiveDate, NaiveDateTime};
    if text.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() {
        return Some(format!("DATE '{text}'"));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|t| format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.6f")))
}

fn text(value: &str) -> Part {
    Part::Text(value.to_owned())
}

fn body(rule: &Rule, planner: &SqlPlanner) -> Result<Body, FieldProblem> {
    let column = rule.column();
    let c = format!("({column})");
    let trimmed = if rule.flag("trim_strings", false) { format!("btrim(CAST({c} AS VARCHAR), ' ')") } else { c.clone() };
    let as_text = format!("CAST({trimmed} AS VARCHAR)");
    let field = "check.arguments";
    let fixed = |condition_sql: String, message: String| -> Result<Body, FieldProblem> {
        Ok((condition(planner, &condition_sql, field)?, vec![Part::Text(message)]))
    };
    match rule.function.name {
        "is_not_null" => fixed(format!("{c} IS NULL"), format!("Column '{column}' value is null")),
        "is_null" => fixed(format!("{c} IS NOT NULL"), format!("Column '{column}' value is not null")),
        "is_not_empty" => fixed(format!("{as_text} = ''"), format!("Column '{column}' value is empty")),
        "is_empty" => fixed(format!("{as_text} <> ''"), format!("Column '{column}' value is not empty")),
        "is_not_null_and_not_empty" => fixed(format!("{trimmed} IS NULL OR {as_text} = ''"), format!("Column '{column}' value is null or empty")),
        "is_null_or_empty" => {
            fixed(format!("{trimmed} IS NOT NULL AND {as_text} <> ''"), format!("Column '{column}' value is not null and not empty"))
        }
        "is_in_list" | "is_not_null_and_is_in_list" | "is_not_in_list" => in_list(rule, planner, &c),
        "sql_expression" => sql_expression(rule, planner),
        "is_equal_to" | "is_not_equal_to" => equality(rule, planner, &c),
        "is_not_less_than" => comparison(rule, planner, &c, "<", "is less than limit: "),
        "is_not_greater_than" => comparison(rule, planner, &c, ">", "is greater than limit: "),
        "is_in_range" | "is_not_in_range" => range(rule, planner, &c),
        "regex_match" => regex_match(rule, planner, &c),
        _ => super::native::compile(rule, planner, &c),
    }
}

fn value_part(planner: &SqlPlanner, sql: &str) -> Result<Part, FieldProblem> {
    Ok(Part::Value(expr(planner, sql, "check.arguments.column")?))
}

fn in_list(rule: &Rule, planner: &SqlPlanner, c: &str) -> Result<Body, FieldProblem> {
    let key = if rule.function.name == "is_not_in_list" { "forbidden" } else { "allowed" };
    let field = format!("check.arguments.{key}");
    let items: Vec<String> = rule.arg(key).and_then(Value::as_sequence).map(|s| s.iter().map(limit_sql).collect()).unwrap_or_default();
    let values = items.iter().map(|sql| expr(planner, sql, &field)).collect::<Result<Vec<_>, _>>()?;
    let (subject, compared) = if rule.flag("case_sensitive", true) {
        (c.to_owned(), items.join(", "))
    } else {
        (format!("lower(CAST({c} AS VARCHAR))"), items.iter().map(|i| format!("lower(CAST(({i}) AS VARCHAR))")).collect::<Vec<_>>().join(", "))
    };
    let column = rule.column();
    let (condition_sql, wording) = match rule.function.name {
        "is_not_in_list" => (format!("{subject} IN ({compared})"), "is in the forbidden list"),
        "is_not_null_and_is_in_list" => (format!("{c} IS NULL OR NOT ({subject} IN ({compared}))"), "is null or not in the allowed list"),
        _ => (format!("NOT ({subject} IN ({compared}))"), "is not in the allowed list"),
    };
    let message = vec![
        text("Value '"),
        Part::ValueOrNull(expr(planner, c, "check.arguments.column")?),
        Part::Text(format!("' in Column '{column}' {wording}: [")),
        Part::List(values),
        text("]"),
    ];
    Ok((condition(planner, &condition_sql, &field)?, message))
}

fn sql_expression(rule: &Rule, planner: &SqlPlanner) -> Result<Body, FieldProblem> {
    let expression = rule.text("expression").unwrap_or_default();
    let field = "check.arguments.expression";
    // Type-check the expression as written, so an error names it rather than our NOT wrapper.
    planner.boolean(expression).map_err(arg_error(field))?;
    let negate = rule.flag("negate", false);
    let condition_sql = if negate { format!("({expression})") } else { format!("NOT ({expression})") };
    let default_message =
        if negate { format!("Value is matching expression: ~({expression})") } else { format!("Value is not matching expression: {expression}") };
    let message = rule.text("msg").map_or(default_message, str::to_owned);
    Ok((condition(planner, &condition_sql, field)?, vec![Part::Text(message)]))
}

fn comparison(rule: &Rule, planner: &SqlPlanner, c: &str, operator: &str, wording: &str) -> Result<Body, FieldProblem> {
    let limit = limit_sql(rule.arg("limit").unwrap_or(&Value::Null));
    let limit_expr = expr(planner, &limit, "check.arguments.limit")?;
    let message =
        vec![text("Value '"), value_part(planner, c)?, Part::Text(format!("' in Column '{}' {wording}", rule.column())), Part::Value(limit_expr)];
    Ok((condition(planner, &format!("{c} {operator} ({limit})"), "check.arguments.limit")?, message))
}

fn equality(rule: &Rule, planner: &SqlPlanner, c: &str) -> Result<Body, FieldProblem> {
    let raw = rule.arg("value").unwrap_or(&Value::Null);
    let value = limit_sql(raw);
    let value_expr = expr(planner, &value, "check.arguments.value")?;
    let equal = rule.function.name == "is_not_equal_to";
    let abs_tolerance = rule.arg("abs_tolerance").and_then(Value::as_f64).unwrap_or(0.0);
    let rel_tolerance = rule.arg("rel_tolerance").and_then(Value::as_f64).unwrap_or(0.0);
    // DQX applies tolerances only when the value is a numeric literal, not an expression.
    let matches = if (abs_tolerance > 0.0 || rel_tolerance > 0.0) && raw.is_number() {
        let difference = format!("abs(CAST({c} AS DOUBLE) - CAST(({value}) AS DOUBLE))");
        let larger = format!("greatest(abs(CAST({c} AS DOUBLE)), abs(CAST(({value}) AS DOUBLE)))");
        // Spark: 0 * ±inf and 0 * NaN are NaN, and every number is <= NaN, so with no relative
        // tolerance an infinite or NaN value matches. (Written out: DataFusion folds 0.0 * x.)
        let relative = if rel_tolerance > 0.0 {
            format!("{difference} <= {rel_tolerance:?} * {larger}")
        } else {
            format!("{difference} <= 0.0 OR NOT ({larger} < CAST('Infinity' AS DOUBLE))")
        };
        format!("({difference} <= {abs_tolerance:?} OR {relative})")
    } else {
        format!("({c} = ({value}))")
    };
    let condition_sql = if equal { matches } else { format!("NOT {matches}") };
    let wording = if equal { "is equal to value: " } else { "is not equal to value: " };
    let message =
        vec![text("Value '"), value_part(planner, c)?, Part::Text(format!("' in Column '{}' {wording}", rule.column())), Part::Value(value_expr)];
    Ok((condition(planner, &condition_sql, "check.arguments.value")?, message))
}

fn range(rule: &Rule, planner: &SqlPlanner, c: &str) -> Result<Body, FieldProblem> {
    let min = limit_sql(rule.arg("min_limit").unwrap_or(&Value::Null));
    let max = limit_sql(rule.arg("max_limit").unwrap_or(&Value::Null));
    let (condition_sql, wording) = if rule.function.name == "is_in_range" {
        (format!("{c} < ({min}) OR {c} > ({max})"), "not in range: [")
    } else {
        (format!("{c} >= ({min}) AND {c} <= ({max})"), "in range: [")
    };
    let message = vec![
        text("Value '"),
        value_part(planner, c)?,
        Part::Text(format!("' in Column '{}' {wording}", rule.column())),
        Part::Value(expr(planner, &min, "check.arguments.min_limit")?),
        text(", "),
        Part::Value(expr(planner, &max, "check.arguments.max_limit")?),
        text("]"),
    ];
    Ok((condition(planner, &condition_sql, "check.arguments")?, message))
}

fn regex_match(rule: &Rule, planner: &SqlPlanner, c: &str) -> Result<Body, FieldProblem> {
    // DQX runs the pattern with Java's engine: the same meaning, in Rust's syntax.
    let regex = super::java_regex::translate(rule.text("regex").unwrap_or_default()).map_err(arg_error("check.arguments.regex"))?;
    let regex = regex.replace('\'', "''");
    let column = rule.column();
    let matching = format!("regexp_like(CAST({c} AS VARCHAR), '{regex}')");
    let (condition_sql, message) = if rule.flag("negate", false) {
        (matching, format!("Column '{column}' is matching regex"))
    } else {
        (format!("NOT {matching}"), format!("Column '{column}' is not matching regex"))
    };
    Ok((condition(planner, &condition_sql, "check.arguments.regex")?, vec![Part::Text(message)]))
}
