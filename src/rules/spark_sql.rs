//! Spark SQL on DataFusion: DQX users write `sql_expression`s and filters in Spark SQL. The
//! parsed expression is rewritten where Spark's names or meanings differ from DataFusion's
//! (`RLIKE` and the regex functions with Java's regex meaning, `year`/`month`/… as `date_part`,
//! `nvl2`, `if`), and Spark's own implementations from `datafusion-spark` are registered for the
//! functions DataFusion lacks or means differently (`datediff`, `date_add`, `concat`, …).

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::execution::SessionState;
use datafusion::execution::registry::FunctionRegistry;
use datafusion::logical_expr::ScalarUDF;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, DataType as SqlType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Value, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::DatabricksDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// Spark's implementations, registered over DataFusion's functions of the same name.
fn spark_functions() -> Vec<Arc<ScalarUDF>> {
    use datafusion_spark::function::{conditional, datetime, string};
    let mut functions = vec![
        datetime::add_months(),
        datetime::date_add(),
        datetime::date_sub(),
        datetime::date_diff(),
        datetime::last_day(),
        datetime::next_day(),
        datetime::hour(),
        datetime::minute(),
        datetime::second(),
        datetime::weekday(),
        datetime::monthname(),
        datetime::unix_date(),
        datetime::unix_seconds(),
        string::concat(),
        datafusion_spark::function::math::round(),
        string::substring(),
        datafusion_spark::function::math::pmod(),
    ];
    functions.extend(conditional::functions());
    functions
}

/// Registers Spark's functions in `state`.
pub fn register(state: &mut SessionState) -> Result<(), String> {
    for function in spark_functions().into_iter().chain(super::spark_udf::functions()) {
        state.register_udf(function).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Rewrites a parsed Spark SQL expression into DataFusion SQL with Spark's meaning.
pub fn rewrite(expr: &mut Expr) -> Result<(), String> {
    let flow = visit_expressions_mut(expr, |node| match rewritten(node) {
        Ok(Some(replacement)) => {
            *node = replacement;
            ControlFlow::Continue(())
        }
        Ok(None) => ControlFlow::Continue(()),
        Err(message) => ControlFlow::Break(message),
    });
    match flow {
        ControlFlow::Break(message) => Err(message),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// The replacement of one node, if Spark means something else by it.
fn rewritten(node: &Expr) -> Result<Option<Expr>, String> {
    match node {
        // Text to DATE/TIMESTAMP the way Spark reads it (DataFusion's casts accept other texts).
        // Spark's `/` divides as doubles (10 / 4 is 2.5) and gives NULL for a zero divisor.
        Expr::BinaryOp { left, op: BinaryOperator::Divide, right } => {
            parse(&format!("(CAST(({left}) AS DOUBLE) / NULLIF(CAST(({right}) AS DOUBLE), 0.0))")).map(Some)
        }
        Expr::Cast { expr, data_type: SqlType::String(_) | SqlType::Varchar(_) | SqlType::Text, .. } => {
            parse(&format!("medallion_spark_string({expr})")).map(Some)
        }
        Expr::Cast { expr, data_type: SqlType::Date, .. } => parse(&format!("medallion_spark_date({expr})")).map(Some),
        Expr::Cast { expr, data_type: SqlType::Timestamp(..), .. } => parse(&format!("medallion_spark_timestamp({expr})")).map(Some),
        Expr::RLike { negated, expr, pattern, .. } => {
            let matching = regex_call(&expr.to_string(), pattern)?;
            parse(&if *negated { format!("NOT {matching}") } else { matching }).map(Some)
        }
        Expr::Function(function) => {
            let name = function.name.to_string().to_lowercase();
            let FunctionArguments::List(list) = &function.args else { return Ok(None) };
            let args: Vec<&Expr> = list
                .args
                .iter()
                .filter_map(|arg| match arg {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                    _ => None,
                })
                .collect();
            if args.len() != list.args.len() {
                return Ok(None);
            }
            function_call(&name, &args)?.map(|sql| parse(&sql)).transpose()
        }
        _ => Ok(None),
    }
}

/// Spark functions spelled differently in DataFusion, as DataFusion SQL.
fn function_call(name: &str, args: &[&Expr]) -> Result<Option<String>, String> {
    let arg = |i: usize| args.get(i).map(|a| format!("({a})")).unwrap_or_default();
    let part = |part: &str| format!("CAST(date_part('{part}', {}) AS INT)", arg(0));
    Ok(Some(match (name, args.len()) {
        ("rlike" | "regexp" | "regexp_like", 2) => regex_call(&arg(0), args[1])?,
        ("year", 1) => part("year"),
        ("month", 1) => part("month"),
        ("day" | "dayofmonth", 1) => part("day"),
        ("quarter", 1) => part("quarter"),
        ("dayofyear", 1) => part("doy"),
        ("weekofyear", 1) => part("week"),
        // Spark counts Sunday as 1, DataFusion as 0.
        ("dayofweek", 1) => format!("({} + 1)", part("dow")),
        // Spark's integer literals are INT, DataFusion's BIGINT: date_add(d, 1) wants an INT.
        ("date_add" | "dateadd" | "date_sub", 2) => format!("{name}({}, CAST({} AS INT))", arg(0), arg(1)),
        ("to_date" | "try_to_date", 1) => format!("medallion_spark_date({})", arg(0)),
        ("to_date" | "try_to_date", 2) => format!("medallion_spark_date(medallion_spark_timestamp({}, {}))", arg(0), arg(1)),
        ("to_timestamp" | "try_to_timestamp", 1) => format!("medallion_spark_timestamp({})", arg(0)),
        ("to_timestamp" | "try_to_timestamp", 2) => format!("medallion_spark_timestamp({}, {})", arg(0), arg(1)),
        ("isnull", 1) => format!("({} IS NULL)", arg(0)),
        ("isnotnull", 1) => format!("({} IS NOT NULL)", arg(0)),
        ("string", 1) => format!("medallion_spark_string({})", arg(0)),
        ("int" | "bigint" | "smallint" | "tinyint" | "double" | "float" | "boolean", 1) => format!("CAST({} AS {})", arg(0), name.to_uppercase()),
        ("date", 1) => format!("medallion_spark_date({})", arg(0)),
        ("timestamp", 1) => format!("medallion_spark_timestamp({})", arg(0)),
        ("date_format", 2) => format!("medallion_date_format(medallion_spark_timestamp({}), {})", arg(0), arg(1)),
        // Spark: the root of a negative number is NaN, the logarithm of one that is not positive NULL.
        ("sqrt", 1) => format!("CASE WHEN CAST({0} AS DOUBLE) < 0 THEN CAST('NaN' AS DOUBLE) ELSE sqrt(CAST({0} AS DOUBLE)) END", arg(0)),
        ("ln" | "log10" | "log2", 1) => format!("CASE WHEN {0} > 0 THEN {name}(CAST({0} AS DOUBLE)) END", arg(0)),
        ("mod", 2) => format!("({} % {})", arg(0), arg(1)),
        ("sign" | "signum", 1) => format!("signum(CAST({} AS DOUBLE))", arg(0)),
        ("unix_timestamp", 1) => format!("unix_seconds(medallion_spark_timestamp({}))", arg(0)),
        ("regexp_extract", 2 | 3) => {
            let group = if args.len() == 3 { arg(2) } else { "1".to_owned() };
            format!("medallion_regexp_extract({}, {}, {group})", arg(0), java_pattern(args[1])?)
        }
        ("array_contains", 2) => match args[0] {
            Expr::Function(array) if array.name.to_string().eq_ignore_ascii_case("array") => {
                let FunctionArguments::List(items) = &array.args else { return Ok(None) };
                let items: Vec<String> = items.args.iter().map(ToString::to_string).collect();
                format!("({} IN ({}))", arg(1), items.join(", "))
            }
            _ => return Ok(None),
        },
        ("startswith", 2) => format!("starts_with({}, {})", arg(0), arg(1)),
        ("endswith", 2) => format!("ends_with({}, {})", arg(0), arg(1)),
        ("nvl2", 3) => format!("CASE WHEN {} IS NOT NULL THEN {} ELSE {} END", arg(0), arg(1), arg(2)),
        _ => return Ok(None),
    }))
}

/// `regexp_like` with a literal Java pattern translated to the same meaning in Rust's syntax.
fn regex_call(subject: &str, pattern: &Expr) -> Result<String, String> {
    Ok(format!("regexp_like(CAST({subject} AS VARCHAR), {})", java_pattern(pattern)?))
}

/// A literal Java pattern as a literal Rust pattern of the same meaning; any other expression
/// as it is.
fn java_pattern(pattern: &Expr) -> Result<String, String> {
    Ok(match pattern {
        Expr::Value(value) => match &value.value {
            Value::SingleQuotedString(java) => format!("'{}'", super::java_regex::translate(java)?.replace('\'', "''")),
            _ => pattern.to_string(),
        },
        _ => pattern.to_string(),
    })
}

fn parse(sql: &str) -> Result<Expr, String> {
    Parser::new(&DatabricksDialect {}).try_with_sql(sql).and_then(|mut parser| parser.parse_expr()).map_err(|e| format!("{sql}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spark(sql: &str) -> String {
        let mut expr = parse(sql).unwrap();
        rewrite(&mut expr).unwrap();
        expr.to_string()
    }

    #[test]
    fn spark_spellings_become_datafusion_ones() {
        assert_eq!(spark("year(dt) < 2100"), "CAST(date_part('year', (dt)) AS INT) < 2100");
        assert_eq!(
            spark("s NOT RLIKE '^\\d+$'"),
            "NOT regexp_like(CAST(s AS VARCHAR), '^[0-9]+(?:(?:\\r\\n|[\\n\\r\\x{85}\\x{2028}\\x{2029}])?\\z)')"
        );
        assert_eq!(spark("nvl2(a, 1, 2) = 1"), "CASE WHEN (a) IS NOT NULL THEN (1) ELSE (2) END = 1");
        assert_eq!(spark("abs(x) > 1"), "abs(x) > 1");
        assert_eq!(spark("try_cast(s AS DATE) IS NULL"), "medallion_spark_date(s) IS NULL");
        assert_eq!(
            spark("to_date(s, 'yyyy-MM-dd') < CAST('2024-01-01' AS TIMESTAMP)"),
            "medallion_spark_date(medallion_spark_timestamp((s), ('yyyy-MM-dd'))) < medallion_spark_timestamp('2024-01-01')"
        );
    }
}
