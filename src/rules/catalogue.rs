//! The DQX check functions medallion implements, with their arguments as DQX 0.17 declares them.
//! Loading validates every rule against this table, so a typo is an error at load time.

/// What an argument must look like in YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A column name (or simple column expression).
    Column,
    /// A non-empty list of column names.
    Columns,
    Bool,
    /// A whole number.
    Int,
    /// A non-negative number.
    Tolerance,
    /// Free text (messages, formats, names).
    Text,
    /// A number, a date/time string, or a Spark SQL expression (bare strings are expressions).
    Limit,
    /// A non-empty list of limits.
    Limits,
    /// A regular expression.
    Regex,
    /// A Spark SQL boolean expression.
    Expression,
}

/// One argument of a check function.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub kind: ArgKind,
    pub required: bool,
}

/// A check function: its DQX name and arguments; `dataset` checks look at the whole batch.
#[derive(Debug)]
pub struct FunctionSpec {
    pub name: &'static str,
    pub params: &'static [Param],
    pub dataset: bool,
}

impl FunctionSpec {
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The single column the function checks, when it has a `column` argument.
    pub fn takes_column(&self) -> bool {
        self.param("column").is_some()
    }
}

const fn req(name: &'static str, kind: ArgKind) -> Param {
    Param { name, kind, required: true }
}

const fn opt(name: &'static str, kind: ArgKind) -> Param {
    Param { name, kind, required: false }
}

use ArgKind::*;

const COLUMN: Param = req("column", Column);
const TRIM: Param = opt("trim_strings", Bool);
const CASE: Param = opt("case_sensitive", Bool);
const ALLOW_NULLS: Param = opt("allow_nulls", Bool);

const fn row(name: &'static str, params: &'static [Param]) -> FunctionSpec {
    FunctionSpec { name, params, dataset: false }
}

/// Every supported function.
pub static FUNCTIONS: &[FunctionSpec] = &[
    row("is_not_null", &[COLUMN]),
    row("is_null", &[COLUMN]),
    row("is_not_empty", &[COLUMN, TRIM]),
    row("is_empty", &[COLUMN, TRIM]),
    row("is_not_null_and_not_empty", &[COLUMN, TRIM]),
    row("is_null_or_empty", &[COLUMN, TRIM]),
    row("is_in_list", &[COLUMN, req("allowed", Limits), CASE]),
    row("is_not_null_and_is_in_list", &[COLUMN, req("allowed", Limits), CASE]),
    row("is_not_in_list", &[COLUMN, req("forbidden", Limits), CASE]),
    row("sql_expression", &[req("expression", Expression), opt("msg", Text), opt("name", Text), opt("negate", Bool), opt("columns", Columns)]),
    row("is_equal_to", &[COLUMN, req("value", Limit), opt("abs_tolerance", Tolerance), opt("rel_tolerance", Tolerance), ALLOW_NULLS]),
    row("is_not_equal_to", &[COLUMN, req("value", Limit), opt("abs_tolerance", Tolerance), opt("rel_tolerance", Tolerance), ALLOW_NULLS]),
    row("is_not_less_than", &[COLUMN, req("limit", Limit), ALLOW_NULLS]),
    row("is_not_greater_than", &[COLUMN, req("limit", Limit), ALLOW_NULLS]),
    row("is_in_range", &[COLUMN, req("min_limit", Limit), req("max_limit", Limit), ALLOW_NULLS]),
    row("is_not_in_range", &[COLUMN, req("min_limit", Limit), req("max_limit", Limit), ALLOW_NULLS]),
    row("has_num_decimal_places", &[COLUMN, req("limit", Limit), ALLOW_NULLS]),
    row("regex_match", &[COLUMN, req("regex", Regex), opt("negate", Bool)]),
    row("is_valid_date", &[COLUMN, opt("date_format", Text)]),
    row("is_valid_timestamp", &[COLUMN, opt("timestamp_format", Text)]),
    // `curr_timestamp`/`curr_date` are Spark Columns in DQX: a rules file cannot give them.
    row("is_not_in_future", &[COLUMN, opt("offset", Int)]),
    row("is_not_in_near_future", &[COLUMN, opt("offset", Int)]),
    row("is_older_than_n_days", &[COLUMN, req("days", Int), opt("negate", Bool)]),
    row("is_data_fresh", &[COLUMN, req("max_age_minutes", Int), opt("base_timestamp", Limit)]),
    row("is_valid_email", &[COLUMN]),
    row("is_valid_uuid", &[COLUMN, opt("strict", Bool)]),
    row("is_valid_ipv4_address", &[COLUMN]),
    row("is_valid_currency_code", &[COLUMN, opt("code_format", Text), CASE]),
    FunctionSpec { name: "is_unique", params: &[req("columns", Columns), opt("nulls_distinct", Bool), TRIM], dataset: true },
];

/// The function called `name`.
pub fn function(name: &str) -> Option<&'static FunctionSpec> {
    FUNCTIONS.iter().find(|f| f.name == name)
}
