//! The rules engine against DQX 0.17's own output (tests/data/dqx, copied from the parity set):
//! for every row the same failing rules in `_errors` and `_warnings`, with the same messages,
//! functions, columns, filters, metadata and fingerprints. Plus: bad rules files exit 2 naming
//! the rule and the field.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::process::Command;

use common::OutputWithin;
use common::dqx::results;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dqx");

fn medallion() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_medallion"));
    command.env_remove("MEDALLION_CONFIG").env("MEDALLION_LOG", "warn");
    command
}

#[test]
fn rules_apply_matches_dqx_row_for_row() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.parquet");
    let run = medallion()
        .args(["rules", "apply", "--json", "--rules", &format!("{DATA}/po_checks.yml"), "--input", &format!("{DATA}/po_100k.parquet"), "--output"])
        .arg(&output)
        .output_within();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let ours = results(output.to_str().unwrap(), "row_id");
    let theirs = results(&format!("{DATA}/po_100k_dqx_output.parquet"), "row_id");
    assert_eq!(ours.len(), 100_000);
    assert_eq!(ours.len(), theirs.len());
    let mismatches: Vec<_> = ours.iter().filter(|(id, result)| theirs.get(id) != Some(result)).take(3).collect();
    assert!(mismatches.is_empty(), "rows differing from DQX (ours): {mismatches:#?}");
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(
        (summary["with_errors"].as_u64(), summary["with_warnings"].as_u64(), summary["clean"].as_u64()),
        (Some(2_182), Some(2_454), Some(95_683))
    );
}

/// Each bad file: (YAML, text the message must contain: rule and field).
const BAD_RULES: &[(&str, &str)] = &[
    ("- check: {function: no_such_function, arguments: {column: a}}", "#0: check.function: unknown function \"no_such_function\""),
    ("- check: {function: is_not_null, arguments: {}}", "check.arguments.column: missing"),
    ("- check: {function: is_not_null, arguments: {column: order_id, colour: red}}", "check.arguments.colour"),
    ("- criticality: fatal\n  check: {function: is_not_null, arguments: {column: order_id}}", "criticality"),
    ("- name: x\n  check: {function: is_in_list, arguments: {column: order_status, allowed: []}}", "#0 (x): check.arguments.allowed"),
    ("- check: {function: is_in_list, arguments: {column: order_status, allowed: NEW}}", "check.arguments.allowed"),
    ("- check: {function: sql_expression, arguments: {expression: 'quantity >'}}", "check.arguments.expression"),
    ("- check: {function: sql_expression, arguments: {expression: 'no_such_column > 0'}}", "no_such_column"),
    ("- check: {function: sql_expression, arguments: {expression: 'quantity + 1'}}", "not a boolean expression"),
    ("- filter: 'order_status ='\n  check: {function: is_not_null, arguments: {column: order_id}}", "filter"),
    ("- check: {function: regex_match, arguments: {column: order_id, regex: '(?<=x)y'}}", "check.arguments.regex"),
    ("- check: {function: is_not_null, arguments: {column: missing_column}}", "missing_column"),
    ("- check: {function: is_not_greater_than, arguments: {column: quantity}}", "check.arguments.limit: missing"),
    ("- check: {function: is_equal_to, arguments: {column: quantity, value: 1, abs_tolerance: -1}}", "check.arguments.abs_tolerance"),
    ("- check: {function: is_not_null, for_each_column: [], arguments: {}}", "check.for_each_column"),
    ("- check: {function: is_not_null, arguments: {column: order_id}}\n  severity: high", "severity"),
    ("- check: {function: is_not_null_and_not_empty, arguments: {column: order_id, trim_strings: maybe}}", "check.arguments.trim_strings"),
    ("not: a list", "a rules file is a YAML list"),
    ("- check: {function: is_valid_currency_code, arguments: {column: currency, code_format: emoji}}", "check.arguments.code_format"),
];

#[test]
fn bad_rules_files_exit_2_naming_rule_and_field() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (yaml, expected)) in BAD_RULES.iter().enumerate() {
        let path = dir.path().join(format!("bad-{i}.yml"));
        std::fs::write(&path, yaml).unwrap();
        let output = medallion().args(["rules", "check"]).arg(&path).arg("--input").arg(format!("{DATA}/po_100k.parquet")).output_within();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{yaml}: {stderr}");
        assert!(stderr.contains(expected), "{yaml}: expected {expected:?} in {stderr}");
    }
}

#[test]
fn the_shipped_purchase_order_rules_check_against_the_bronze_columns() {
    let output = medallion().args(["rules", "check", concat!(env!("CARGO_MANIFEST_DIR"), "/rules/purchase_orders.yml")]).output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn the_shipped_payment_rules_check_against_the_payment_bronze_columns_only() {
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/payments.yml");
    let output = medallion().args(["rules", "check", rules, "--stream", "payments"]).output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // Against the purchase orders' columns the payment rules name what is missing.
    let output = medallion().args(["rules", "check", rules]).output_within();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("transaction_id"), "{stderr}");
}
