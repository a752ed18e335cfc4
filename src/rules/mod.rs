//! The quality rules engine: Databricks Labs DQX rule files (0.17 semantics) applied to Arrow
//! RecordBatches.
//!
//! ```text
//!  YAML ──► spec (validate, expand for_each_column, names, fingerprints)
//!       ──► compile against a schema (DataFusion physical exprs | native predicates)
//!       ──► evaluate per batch ──► _errors/_warnings + verdict columns
//! ```
//! Loading finds every problem in the file; compiling finds every problem against the data's
//! schema (unknown columns, SQL that does not plan, non-boolean expressions). Nothing is left to
//! fail at row time except arithmetic the data itself triggers.

mod catalogue;
mod compile;
mod evaluate;
pub mod file;
mod fingerprint;
mod java_regex;
mod names;
mod native;
mod results;
mod spark_datetime;
mod spark_pattern;
mod spark_sql;
mod spark_text;
mod spark_text_udf;
mod spark_udf;
mod spec;
mod sql;
mod time;
#[cfg(test)]
mod edge_values_tests;

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;

pub use compile::CompiledRule;
pub use evaluate::RuleOutcome;
pub use results::{RunInfo, column, result_fields, writer_properties};
pub use spec::{Criticality, FieldProblem, Rule, RuleProblem};

/// Why rules could not be loaded, planned or applied.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read rules file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: not valid YAML: {message}")]
    Yaml { path: String, message: String },
    #[error("{path}: {} problem(s):\n{}", .problems.len(), .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid { path: String, problems: Vec<RuleProblem> },
    #[error("cannot open {path}: {source}")]
    DataFile { path: String, source: std::io::Error },
    #[error("rule {rule}: evaluating on the data failed: {message}")]
    Evaluate { rule: String, message: String },
    #[error("{0}")]
    Schema(String),
}

impl RulesError {
    /// Whether the rules file is at fault (unreadable, not YAML, invalid rules), not the data.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Self::Read { .. } | Self::Yaml { .. } | Self::Invalid { .. })
    }
}

/// A validated rules file.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub path: String,
    pub rules: Vec<Rule>,
    pub fingerprint: String,
}

impl RuleSet {
    /// Reads and validates `path`.
    pub fn load(path: &str) -> Result<Self, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Read { path: path.to_owned(), source })?;
        Self::parse(path, &text)
    }

    /// Validates rules given as YAML text; `path` names them in errors.
    pub fn parse(path: &str, yaml: &str) -> Result<Self, RulesError> {
        let document: serde_yaml::Value =
            serde_yaml::from_str(yaml).map_err(|e| RulesError::Yaml { path: path.to_owned(), message: e.to_string() })?;
        let rules = spec::parse(&document).map_err(|problems| RulesError::Invalid { path: path.to_owned(), problems })?;
        let problems: Vec<RuleProblem> = rules.iter().flat_map(syntax_problems).collect();
        if !problems.is_empty() {
            return Err(RulesError::Invalid { path: path.to_owned(), problems });
        }
        let fingerprint = spec::rule_set_fingerprint(&rules);
        Ok(Self { path: path.to_owned(), rules, fingerprint })
    }

    /// Plans every rule against `schema`; every problem is reported at once.
    pub fn compile(&self, schema: SchemaRef) -> Result<RulesEngine, RulesError> {
        let planner = sql::SqlPlanner::new(schema.clone()).map_err(RulesError::Schema)?;
        let mut compiled = Vec::new();
        let mut problems = Vec::new();
        for rule in &self.rules {
            match compile::compile(rule, &planner) {
                Ok(c) => compiled.push(c),
                Err(FieldProblem { field, message }) => {
                    problems.push(RuleProblem { rule: format!("#{} ({})", rule.index, rule.name), field, message })
                }
            }
        }
        if !problems.is_empty() {
            return Err(RulesError::Invalid { path: self.path.clone(), problems });
        }
        let clock_rules = self.rules.iter().enumerate().filter(|(_, rule)| reads_the_clock(rule)).map(|(i, _)| i).collect();
        Ok(RulesEngine { rules: compiled, fingerprint: self.fingerprint.clone(), input: schema, planner, clock_rules })
    }
}

/// SQL that does not even parse is a load error, before any schema is known.
fn syntax_problems(rule: &Rule) -> Vec<RuleProblem> {
    let mut problems = Vec::new();
    let label = || format!("#{} ({})", rule.index, rule.name);
    if let Some(filter) = &rule.filter
        && let Err(message) = sql::check_syntax(filter)
    {
        problems.push(RuleProblem { rule: label(), field: "filter".into(), message });
    }
    if let Some(expression) = rule.text("expression")
        && let Err(message) = sql::check_syntax(expression)
    {
        problems.push(RuleProblem { rule: label(), field: "check.arguments.expression".into(), message });
    }
    problems
}

/// Whether `rule`'s verdict depends on when it runs: a clock check, or SQL that reads the clock.
fn reads_the_clock(rule: &Rule) -> bool {
    const CLOCK_FUNCTIONS: [&str; 4] = ["is_not_in_future", "is_not_in_near_future", "is_older_than_n_days", "is_data_fresh"];
    const CLOCK_SQL: [&str; 5] = ["now(", "current_timestamp", "current_date", "localtimestamp", "curdate"];
    let arguments = serde_yaml::to_string(&rule.arguments).unwrap_or_default();
    let sql = format!("{} {arguments}", rule.filter.as_deref().unwrap_or_default()).to_lowercase();
    CLOCK_FUNCTIONS.contains(&rule.function.name) || CLOCK_SQL.iter().any(|f| sql.contains(f))
}

/// Rules planned for one input schema.
pub struct RulesEngine {
    pub rules: Vec<CompiledRule>,
    pub fingerprint: String,
    input: SchemaRef,
    /// The planner the rules were planned with, for planning the clock rules again.
    planner: sql::SqlPlanner,
    /// Rules whose verdict depends on "now": planned again for each run time.
    clock_rules: Vec<usize>,
}

impl std::fmt::Debug for RulesEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RulesEngine")
            .field("rules", &self.rules)
            .field("fingerprint", &self.fingerprint)
            .field("clock_rules", &self.clock_rules)
            .finish()
    }
}

impl RulesEngine {
    /// The input schema plus the result columns.
    pub fn output_schema(&self) -> SchemaRef {
        let mut fields: Vec<_> = self.input.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.extend(result_fields());
        Arc::new(Schema::new(fields))
    }

    /// Every rule's outcome on `batch`. No value stops this: a row a rule cannot be evaluated
    /// on fails that rule, saying why (see [`evaluate::evaluate_each_row_on_error`]).
    pub fn evaluate(&self, batch: &RecordBatch) -> Vec<RuleOutcome> {
        let comparable = evaluate::spark_comparable(batch);
        self.rules.iter().map(|rule| evaluate::evaluate_each_row_on_error(rule, batch, &comparable)).collect()
    }

    /// This engine with "now" at `now_micros`: the clock rules planned again, when there are any
    /// and their "now" differs (`None`: this engine as it is).
    pub fn at(&self, now_micros: i64) -> Result<Option<RulesEngine>, RulesError> {
        if self.clock_rules.is_empty() || self.planner.now_micros() == now_micros {
            return Ok(None);
        }
        let planner = self.planner.clone().at(now_micros);
        let mut rules = Vec::with_capacity(self.rules.len());
        for (index, compiled) in self.rules.iter().enumerate() {
            let rule = &compiled.rule;
            let planned = if self.clock_rules.contains(&index) {
                compile::compile(rule, &planner).map_err(|FieldProblem { field, message }| RulesError::Evaluate {
                    rule: rule.name.clone(),
                    message: format!("{field}: {message}"),
                })?
            } else {
                compiled.clone()
            };
            rules.push(planned);
        }
        Ok(Some(RulesEngine {
            rules,
            fingerprint: self.fingerprint.clone(),
            input: self.input.clone(),
            planner,
            clock_rules: self.clock_rules.clone(),
        }))
    }

    /// `batch` with the result columns appended, and the outcomes (for metrics). Clock checks
    /// compare with `run`'s time, so the same batch at the same run time gets the same verdicts.
    pub fn apply(&self, batch: &RecordBatch, run: &RunInfo) -> Result<(RecordBatch, Vec<RuleOutcome>), RulesError> {
        let outcomes = self.evaluate_at_run_time(batch, run)?;
        let every_row: Vec<usize> = (0..batch.num_rows()).collect();
        let output = self.checked_rows(batch, &outcomes, &every_row, run).map_err(|e| RulesError::Schema(e.to_string()))?;
        Ok((output, outcomes))
    }

    /// Every rule's outcome on `batch` as of `run`'s time (the clock rules planned for it).
    pub fn evaluate_at_run_time(&self, batch: &RecordBatch, run: &RunInfo) -> Result<Vec<RuleOutcome>, RulesError> {
        Ok(match self.at(run.run_time_micros)? {
            Some(at_run_time) => at_run_time.evaluate(batch),
            None => self.evaluate(batch),
        })
    }

    /// `rows` of `batch` (ascending indices) with their result columns appended, from the
    /// `outcomes` of evaluating the whole `batch`. A contiguous run of rows is a slice of
    /// `batch`'s columns, not a copy.
    pub fn checked_rows(&self, batch: &RecordBatch, outcomes: &[RuleOutcome], rows: &[usize], run: &RunInfo) -> Result<RecordBatch, ArrowError> {
        let contiguous = rows.first().zip(rows.last()).is_none_or(|(first, last)| last - first + 1 == rows.len());
        let mut columns = if contiguous {
            batch.slice(rows.first().copied().unwrap_or(0), rows.len()).columns().to_vec()
        } else {
            let indices = arrow::array::UInt64Array::from_iter_values(rows.iter().map(|row| *row as u64));
            arrow::compute::take_record_batch(batch, &indices)?.columns().to_vec()
        };
        columns.extend(results::result_columns(&self.rules, outcomes, rows, run));
        RecordBatch::try_new(self.output_schema(), columns)
    }

    /// Whether any rule looks at the whole batch (uniqueness): such rules see one batch at a time.
    pub fn has_dataset_rules(&self) -> bool {
        self.rules.iter().any(|r| r.rule.function.dataset)
    }

    pub fn run_info(&self, run_id: String) -> RunInfo {
        RunInfo { run_time_micros: chrono::Utc::now().timestamp_micros(), run_id, rule_set_fingerprint: self.fingerprint.clone() }
    }
}
