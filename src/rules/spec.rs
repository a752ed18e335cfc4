//! Reading a DQX rules file: every check validated against the function catalogue, every problem
//! collected (with the rule's index and name and the field), `for_each_column` expanded, names
//! generated and fingerprints computed as DQX does.

use serde_yaml::{Mapping, Value};

use super::catalogue::{self, ArgKind, FunctionSpec};
use super::fingerprint::{PyJson, scalar_text, sha256_hex};
use super::names;

/// Whether a failed check is an error (the row is quarantined) or a warning (kept, flagged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criticality {
    Error,
    Warn,
}

impl Criticality {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
        }
    }
}

/// One check, expanded and validated.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Position of the check in the file (0-based), shared by the rules it expanded into.
    pub index: usize,
    pub name: String,
    /// The rule's key in `dqx_rule_results` and the metrics: its name, with ` (2)`, ` (3)`, …
    /// appended for later rules of the same name (DQX allows a name to repeat, say two
    /// generated `i_less_than_limit`; the result items keep the name as DQX gives it).
    pub key: String,
    pub criticality: Criticality,
    pub filter: Option<String>,
    pub user_metadata: Vec<(String, String)>,
    pub function: &'static FunctionSpec,
    /// The arguments as written (plus `column` for an expanded `for_each_column`).
    pub arguments: Mapping,
    /// The `columns` reported in results.
    pub columns: Option<Vec<String>>,
    pub fingerprint: String,
}

impl Rule {
    pub fn arg(&self, name: &str) -> Option<&Value> {
        self.arguments.get(name)
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.arg(name).and_then(Value::as_str)
    }

    pub fn flag(&self, name: &str, default: bool) -> bool {
        self.arg(name).and_then(Value::as_bool).unwrap_or(default)
    }

    /// The column a single-column check looks at.
    pub fn column(&self) -> &str {
        self.text("column").unwrap_or_default()
    }
}

/// A problem in a rules file: which rule, which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    /// `#<index>` plus the rule's name when it has one.
    pub rule: String,
    pub field: String,
    pub message: String,
}

/// What is wrong with one field of a rule, before it is placed in its rule (a [`RuleProblem`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The YAML path, e.g. `check.arguments.limit`.
    pub field: String,
    pub message: String,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl std::fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rule {}: {}: {}", self.rule, self.field, self.message)
    }
}

const CHECK_KEYS: &[&str] = &["criticality", "name", "filter", "user_metadata", "check"];
const INNER_KEYS: &[&str] = &["function", "arguments", "for_each_column"];

/// Parses and validates a whole rules document.
pub fn parse(document: &Value) -> Result<Vec<Rule>, Vec<RuleProblem>> {
    let Some(items) = document.as_sequence() else {
        let problem = RuleProblem { rule: "-".into(), field: "(file)".into(), message: "a rules file is a YAML list of checks".into() };
        return Err(vec![problem]);
    };
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let mut reader = CheckReader { index, label: label(index, item), problems: Vec::new() };
        if let Some(expanded) = reader.read(item) {
            rules.extend(expanded);
        }
        problems.append(&mut reader.problems);
    }
    assign_keys(&mut rules);
    if problems.is_empty() { Ok(rules) } else { Err(problems) }
}

fn label(index: usize, item: &Value) -> String {
    match item.get("name").and_then(Value::as_str) {
        Some(name) => format!("#{index} ({name})"),
        None => format!("#{index}"),
    }
}

fn assign_keys(rules: &mut [Rule]) {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for rule in rules {
        let count = seen.entry(rule.name.clone()).or_default();
        *count += 1;
        rule.key = if *count == 1 { rule.name.clone() } else { format!("{} ({count})", rule.name) };
    }
}

struct CheckReader {
    index: usize,
    label: String,
    problems: Vec<RuleProblem>,
}

impl CheckReader {
    fn problem(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push(RuleProblem { rule: self.label.clone(), field: field.into(), message: message.into() });
    }

    fn read(&mut self, item: &Value) -> Option<Vec<Rule>> {
        let Some(map) = item.as_mapping() else {
            self.problem("(check)", "a check is a mapping with `check` and `criticality`");
            return None;
        };
        self.unknown_keys(map, CHECK_KEYS, "");
        let criticality = self.criticality(map.get("criticality"));
        let name = self.optional_text(map.get("name"), "name");
        let filter = self.optional_text(map.get("filter"), "filter");
        let user_metadata = self.user_metadata(map.get("user_metadata"));
        let Some(check) = map.get("check").and_then(Value::as_mapping) else {
            self.problem("check", "missing (a mapping with `function` and `arguments`)");
            return None;
        };
        self.unknown_keys(check, INNER_KEYS, "check.");
        let function = self.function(check.get("function"))?;
        let arguments = match check.get("arguments") {
            None | Some(Value::Null) => Mapping::new(),
            Some(Value::Mapping(arguments)) => arguments.clone(),
            Some(_) => {
                self.problem("check.arguments", "must be a mapping of argument names to values");
                return None;
            }
        };
        let for_each = self.for_each_column(check.get("for_each_column"), function);
        let base = Rule {
            index: self.index,
            name: name.unwrap_or_default(),
            key: String::new(),
            criticality: criticality?,
            filter,
            user_metadata,
            function,
            arguments,
            columns: None,
            fingerprint: String::new(),
        };
        let rules = self.expand(base, for_each);
        self.problems.is_empty().then_some(rules)
    }

    fn unknown_keys(&mut self, map: &Mapping, known: &[&str], prefix: &str) {
        for key in map.keys() {
            let key = key.as_str().unwrap_or("?");
            // DQX ignores `x_` keys: room for extensions.
            if !known.contains(&key) && !key.starts_with("x_") {
                self.problem(&format!("{prefix}{key}"), format!("unknown key (expected one of {})", known.join(", ")));
            }
        }
    }

    fn criticality(&mut self, value: Option<&Value>) -> Option<Criticality> {
        match value.map(|v| v.as_str()) {
            None => Some(Criticality::Error),
            Some(Some("error")) => Some(Criticality::Error),
            Some(Some("warn")) => Some(Criticality::Warn),
            Some(other) => {
                self.problem("criticality", format!("{other:?} is not `error` or `warn`"));
                None
            }
        }
    }

    fn optional_text(&mut self, value: Option<&Value>, field: &str) -> Option<String> {
        match value {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) if !text.trim().is_empty() => Some(text.clone()),
            Some(_) => {
                self.problem(field, "must be a non-empty string");
                None
            }
        }
    }

    fn user_metadata(&mut self, value: Option<&Value>) -> Vec<(String, String)> {
        match value {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Mapping(map)) => map.iter().map(|(k, v)| (scalar_text(k), scalar_text(v))).collect(),
            Some(_) => {
                self.problem("user_metadata", "must be a mapping of strings");
                Vec::new()
            }
        }
    }

    fn function(&mut self, value: Option<&Value>) -> Option<&'static FunctionSpec> {
        let Some(name) = value.and_then(Value::as_str) else {
            self.problem("check.function", "missing");
            return None;
        };
        let found = catalogue::function(name);
        if found.is_none() {
            self.problem("check.function", format!("unknown function {name:?}"));
        }
        found
    }

    fn for_each_column(&mut self, value: Option<&Value>, function: &FunctionSpec) -> Option<Vec<String>> {
        let value = value.filter(|v| !v.is_null())?;
        let columns = value.as_sequence().map(|items| items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect::<Vec<_>>());
        match columns {
            Some(columns) if !columns.is_empty() && columns.len() == value.as_sequence().map_or(0, Vec::len) => {
                if !function.takes_column() && function.param("columns").is_none() {
                    self.problem("check.for_each_column", format!("{} takes no column", function.name));
                }
                Some(columns)
            }
            _ => {
                self.problem("check.for_each_column", "must be a non-empty list of column names");
                None
            }
        }
    }
}

impl CheckReader {
    /// One rule, or one per `for_each_column` entry; then arguments checked and names and
    /// fingerprints filled in.
    fn expand(&mut self, base: Rule, for_each: Option<Vec<String>>) -> Vec<Rule> {
        let mut rules = match for_each {
            None => vec![base],
            Some(columns) => columns
                .into_iter()
                .map(|column| {
                    let mut rule = base.clone();
                    let key = if rule.function.takes_column() { "column" } else { "columns" };
                    let value = if key == "column" { Value::String(column) } else { Value::Sequence(vec![Value::String(column)]) };
                    rule.arguments.insert(Value::String(key.into()), value);
                    rule
                })
                .collect(),
        };
        for rule in &mut rules {
            self.check_arguments(rule);
            if rule.name.is_empty() {
                rule.name = names::default_name(rule);
            }
            rule.columns = report_columns(rule);
            // An expanded rule is fingerprinted as the single rule it became (DQX expands
            // `for_each_column` before fingerprinting), so `for_each_column` is always null here.
            rule.fingerprint = fingerprint(rule);
        }
        rules
    }

    fn check_arguments(&mut self, rule: &Rule) {
        let function = rule.function;
        for (key, value) in &rule.arguments {
            let key = key.as_str().unwrap_or("?");
            match function.param(key) {
                None => self.problem(&format!("check.arguments.{key}"), format!("{} has no argument {key:?}", function.name)),
                Some(param) => {
                    if let Err(message) = check_kind(param.kind, value) {
                        self.problem(&format!("check.arguments.{key}"), message);
                    }
                }
            }
        }
        for param in function.params.iter().filter(|p| p.required) {
            if rule.arguments.get(param.name).is_none_or(Value::is_null) {
                self.problem(&format!("check.arguments.{}", param.name), format!("missing (required by {})", function.name));
            }
        }
    }
}

/// Whether `value` fits `kind`.
fn check_kind(kind: ArgKind, value: &Value) -> Result<(), String> {
    let fits = match kind {
        ArgKind::Column | ArgKind::Expression => value.as_str().is_some_and(|s| !s.trim().is_empty()),
        ArgKind::Text => value.as_str().is_some(),
        ArgKind::Columns => value.as_sequence().is_some_and(|items| !items.is_empty() && items.iter().all(|i| i.as_str().is_some())),
        ArgKind::Bool => value.as_bool().is_some(),
        ArgKind::Int => value.as_i64().is_some(),
        ArgKind::Tolerance => value.as_f64().is_some_and(|t| t >= 0.0),
        ArgKind::Limit => is_limit(value),
        ArgKind::Limits => value.as_sequence().is_some_and(|items| !items.is_empty() && items.iter().all(is_limit)),
        ArgKind::Regex => match value.as_str() {
            Some(pattern) => {
                let translated = super::java_regex::translate(pattern).map_err(|e| format!("not a supported regular expression: {e}"))?;
                return regex::Regex::new(&translated).map(|_| ()).map_err(|e| format!("not a supported regular expression: {e}"));
            }
            None => false,
        },
    };
    if fits { Ok(()) } else { Err(format!("{} expected, got {}", kind_text(kind), describe(value))) }
}

fn is_limit(value: &Value) -> bool {
    value.is_number() || value.as_str().is_some_and(|s| !s.trim().is_empty())
}

fn kind_text(kind: ArgKind) -> &'static str {
    match kind {
        ArgKind::Column => "a column name",
        ArgKind::Columns => "a non-empty list of column names",
        ArgKind::Bool => "true or false",
        ArgKind::Int => "a whole number",
        ArgKind::Tolerance => "a non-negative number",
        ArgKind::Text => "a string",
        ArgKind::Limit => "a number or a SQL expression (quote string literals: \"'NEW'\")",
        ArgKind::Limits => "a non-empty list of numbers or SQL expressions",
        ArgKind::Regex => "a regular expression",
        ArgKind::Expression => "a SQL boolean expression",
    }
}

fn describe(value: &Value) -> String {
    serde_yaml::to_string(value).map(|s| s.trim().replace('\n', " ")).unwrap_or_default()
}

/// The `columns` DQX reports: the checked column, or the `columns` argument.
fn report_columns(rule: &Rule) -> Option<Vec<String>> {
    if let Some(column) = rule.text("column") {
        return Some(vec![column.to_owned()]);
    }
    rule.arg("columns").and_then(Value::as_sequence).map(|items| items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect())
}

/// `sha256(json.dumps({name, criticality, function, arguments, filter, for_each_column}))`.
/// DQX passes a dataset check's filter to the function as its `row_filter` argument, so the
/// filter is among the arguments it fingerprints too.
fn fingerprint(rule: &Rule) -> String {
    let mut arguments = rule.arguments.clone();
    if let Some(filter) = rule.filter.as_ref().filter(|_| rule.function.dataset) {
        arguments.insert(Value::String("row_filter".into()), Value::String(filter.clone()));
    }
    let data = PyJson::Object(vec![
        ("name".into(), PyJson::Str(rule.name.clone())),
        ("criticality".into(), PyJson::Str(rule.criticality.as_str().into())),
        ("function".into(), PyJson::Str(rule.function.name.into())),
        ("arguments".into(), PyJson::from_yaml(&Value::Mapping(arguments))),
        ("filter".into(), rule.filter.clone().map_or(PyJson::Null, PyJson::Str)),
        ("for_each_column".into(), PyJson::Null),
    ]);
    sha256_hex(&data.dumps())
}

/// `sha256(json.dumps(sorted(rule fingerprints)))`.
pub fn rule_set_fingerprint(rules: &[Rule]) -> String {
    let mut fingerprints: Vec<&str> = rules.iter().map(|r| r.fingerprint.as_str()).collect();
    fingerprints.sort_unstable();
    sha256_hex(&PyJson::List(fingerprints.into_iter().map(|f| PyJson::Str(f.to_owned())).collect()).dumps())
}
