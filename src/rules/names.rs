//! Names DQX gives checks that have none: derived from the function and its column.

use super::spec::Rule;

/// DQX's `normalize_col_str`: lowercase, runs of non-alphanumerics to `_`, no trailing `_`,
/// at most 255 characters.
pub fn normalize(text: &str) -> String {
    let lowered: String = text.chars().take(255).collect::<String>().to_lowercase();
    let mut out = String::with_capacity(lowered.len());
    let mut in_run = false;
    for c in lowered.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out.trim_end_matches('_').to_owned()
}

/// The name DQX generates for `rule`.
pub fn default_name(rule: &Rule) -> String {
    let column = normalize(rule.column().trim_matches('`'));
    let nulls = if rule.flag("allow_nulls", true) { "" } else { "is_null_or_" };
    let negate = rule.flag("negate", false);
    let suffix = match rule.function.name {
        "is_not_null" => "is_null".to_owned(),
        "is_null" => "is_not_null".to_owned(),
        "is_not_empty" => "is_empty".to_owned(),
        "is_empty" => "is_not_empty".to_owned(),
        "is_not_null_and_not_empty" => "is_null_or_empty".to_owned(),
        "is_null_or_empty" => "is_not_null_and_not_empty".to_owned(),
        "is_in_list" => "is_not_in_the_list".to_owned(),
        "is_not_null_and_is_in_list" => "is_null_or_is_not_in_the_list".to_owned(),
        "is_not_in_list" => "is_in_the_forbidden_list".to_owned(),
        "is_equal_to" => format!("{nulls}not_equal_to_value"),
        "is_not_equal_to" => format!("{nulls}equal_to_value"),
        "is_not_less_than" => format!("{nulls}less_than_limit"),
        "is_not_greater_than" => format!("{nulls}greater_than_limit"),
        "is_in_range" => format!("{nulls}not_in_range"),
        "is_not_in_range" => format!("{nulls}in_range"),
        "has_num_decimal_places" => format!("{nulls}num_decimal_places_greater_than_limit"),
        "regex_match" if negate => "matching_regex".to_owned(),
        "regex_match" => "not_matching_regex".to_owned(),
        "is_valid_date" => "is_not_valid_date".to_owned(),
        "is_valid_timestamp" => "is_not_valid_timestamp".to_owned(),
        "is_not_in_future" => "in_future".to_owned(),
        "is_not_in_near_future" => "in_near_future".to_owned(),
        "is_older_than_n_days" if negate => return format!("is_col_{column}_not_older_than_n_days"),
        "is_older_than_n_days" => return format!("is_col_{column}_older_than_n_days"),
        "is_data_fresh" => "is_data_fresh".to_owned(),
        "is_valid_email" => "does_not_match_pattern_email_address".to_owned(),
        "is_valid_uuid" if rule.flag("strict", false) => "does_not_match_pattern_uuid_strict".to_owned(),
        "is_valid_uuid" => "does_not_match_pattern_uuid".to_owned(),
        "is_valid_ipv4_address" => "does_not_match_pattern_ipv4_address".to_owned(),
        "is_valid_currency_code" => "is_not_a_valid_currency_code".to_owned(),
        "is_unique" => return format!("{}_is_not_unique", unique_key_name(rule)),
        "sql_expression" => return sql_expression_name(rule),
        other => other.to_owned(),
    };
    format!("{column}_{suffix}").replace('.', "_")
}

/// A single key column's name, or Spark's `struct(a, b)` rendering of a composite key.
fn unique_key_name(rule: &Rule) -> String {
    let columns: Vec<&str> =
        rule.arg("columns").and_then(|v| v.as_sequence()).map(|s| s.iter().filter_map(|c| c.as_str()).collect()).unwrap_or_default();
    match columns.as_slice() {
        [single] => normalize(single),
        many => normalize(&format!("struct({})", many.join(", "))),
    }
}

/// DQX names an unnamed `sql_expression` after PySpark's text of its condition column, prefixed
/// by its `columns`: Spark 4 prints the expression as written, `!(<expr>)` when it is negated
/// (the check fails where the expression is false), the expression itself with `negate`.
fn sql_expression_name(rule: &Rule) -> String {
    if let Some(name) = rule.text("name") {
        return name.to_owned();
    }
    let expression = rule.text("expression").unwrap_or_default();
    let rendered = if rule.flag("negate", false) { expression.to_owned() } else { format!("!({expression})") };
    let base = normalize(&rendered);
    match rule.arg("columns").and_then(|v| v.as_sequence()) {
        Some(columns) if !columns.is_empty() => {
            let prefix: Vec<String> = columns.iter().filter_map(|c| c.as_str()).map(normalize).collect();
            normalize(&format!("{}_{base}", prefix.join("_")))
        }
        _ => base,
    }
}
