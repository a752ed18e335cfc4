//! `medallion maintain` on a real lake written through a real broker, read back from storage:
//! compaction leaves every row of every table as it was and the stages skip it, a dry run
//! changes no file, and VACUUM keeps every file a stage has not read yet.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::collections::BTreeMap;

use arrow::util::display::{ArrayFormatter, FormatOptions};
use common::{Lake, OutputWithin, medallion, read_table, run_ok, summary, unique_topic};

const TABLES: [&str; 9] = [
    "bronze/purchase_order_items",
    "silver/purchase_order_items",
    "silver/purchase_order_items_quarantine",
    "silver/quality_metrics",
    "silver/purchase_order_items_current",
    "gold/order_status",
    "gold/product_sales_monthly",
    "gold/vendor_spend_quarterly",
    "gold/quality_daily",
];

/// `medallion <args>` on `lake` with bronze flushing every 500 rows; its `--json` summary.
fn medallion_json(lake: &Lake, topic: &str, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let mut command = medallion();
    command.args(args).args(["--json", "--topic", topic, "--group", topic, "--lake", &lake.root()]);
    command.env("MEDALLION_BRONZE__FLUSH_ROWS", "500");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output_within();
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    summary(&output)
}

/// Every row of the table at `location` as text, sorted: equal exactly when the tables hold the
/// same rows.
fn rows(location: &str) -> Vec<String> {
    let batch = read_table(location);
    let options = FormatOptions::default().with_null("∅");
    let formatters: Vec<ArrayFormatter> = batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap()).collect();
    let mut rows: Vec<String> =
        (0..batch.num_rows()).map(|i| formatters.iter().map(|f| f.value(i).to_string()).collect::<Vec<_>>().join("|")).collect();
    rows.sort();
    rows
}

fn all_rows(lake: &Lake) -> BTreeMap<&'static str, Vec<String>> {
    TABLES.iter().map(|table| (*table, rows(&lake.table(table)))).collect()
}

/// Fails naming the tables whose rows differ (the rows themselves are too many to print).
fn assert_same_rows(lake: &Lake, before: &BTreeMap<&'static str, Vec<String>>, when: &str) {
    let after = all_rows(lake);
    let differing: Vec<String> = TABLES
        .iter()
        .filter(|t| before[*t] != after[*t])
        .map(|t| {
            let gone = before[t].iter().filter(|r| !after[t].contains(r)).take(2).cloned().collect::<Vec<_>>();
            let new = after[t].iter().filter(|r| !before[t].contains(r)).take(2).cloned().collect::<Vec<_>>();
            format!("{t}: {} rows became {}; gone e.g. {gone:?}; new e.g. {new:?}", before[t].len(), after[t].len())
        })
        .collect();
    assert!(differing.is_empty(), "{when}: {differing:#?}");
}

fn live_files(location: &str) -> usize {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = deltalake::table::builder::ensure_table_uri(location).unwrap();
    runtime.block_on(deltalake::open_table(url)).unwrap().get_file_uris().unwrap().count()
}

/// Every file under `dir`, with its size.
fn listing(dir: &std::path::Path) -> BTreeMap<String, u64> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            found.extend(listing(&entry.path()));
        } else if !entry.file_name().to_string_lossy().ends_with(".log") {
            found.insert(entry.path().display().to_string(), entry.metadata().unwrap().len());
        }
    }
    found
}

fn report_of<'a>(reports: &'a serde_json::Value, table: &str) -> &'a serde_json::Value {
    reports.as_array().unwrap().iter().find(|r| r["location"].as_str().unwrap().ends_with(table)).unwrap_or_else(|| panic!("no report for {table}"))
}

#[test]
fn maintenance_compacts_small_files_without_changing_a_row_and_the_stages_skip_it() {
    let (lake, topic) = (Lake::new(), unique_topic("maintain"));
    run_ok(&["produce", "--count", "8000", "--seed", "12", "--invalid-ratio", "0.1", "--topic", &topic]);
    medallion_json(&lake, &topic, &["run", "--until-caught-up"], &[]);
    let bronze = lake.bronze();
    let (files_before, rows_before, disk_before) = (live_files(&bronze), all_rows(&lake), listing(lake.path()));
    assert!(files_before >= 12, "bronze should hold many small files, has {files_before}");

    let dry = medallion_json(&lake, &topic, &["maintain", "--dry-run"], &[]);
    assert!(report_of(&dry, "bronze/purchase_order_items")["compacted_files"].as_u64().unwrap() >= 8, "{dry}");
    assert_eq!(listing(lake.path()), disk_before, "a dry run changes no file");

    let done = medallion_json(&lake, &topic, &["maintain"], &[]);
    let bronze_report = report_of(&done, "bronze/purchase_order_items");
    let files_after = live_files(&bronze);
    assert!(files_after * 4 <= files_before, "{files_before} bronze files became {files_after}: {bronze_report}");
    assert!(bronze_report["checkpoint"].is_u64(), "a checkpoint is written: {bronze_report}");
    assert_same_rows(&lake, &rows_before, "after maintenance");

    let rerun = medallion_json(&lake, &topic, &["run", "--until-caught-up"], &[]);
    assert_eq!(rerun["streams"][0]["silver"]["rows"]["input"], 0, "silver skips compaction commits: {rerun}");
    assert_same_rows(&lake, &rows_before, "a run after maintenance");
}

#[test]
fn vacuum_keeps_every_file_a_stage_has_not_read() {
    let (lake, topic) = (Lake::new(), unique_topic("vacuum"));
    let eager = [("MEDALLION_MAINTENANCE__VACUUM_RETENTION", "0s"), ("MEDALLION_MAINTENANCE__LOG_RETENTION", "0s")];
    run_ok(&["produce", "--count", "4000", "--seed", "13", "--topic", &topic]);
    medallion_json(&lake, &topic, &["bronze", "--until-caught-up"], &[]);
    let bronze_rows = rows(&lake.bronze());
    // Silver has read nothing yet: compaction replaces bronze's files, VACUUM must keep them.
    let first = medallion_json(&lake, &topic, &["maintain", "--table", "bronze/purchase_order_items"], &eager);
    let report = report_of(&first, "bronze/purchase_order_items");
    assert!(report["compacted_files"].as_u64().unwrap() >= 8, "{report}");
    assert_eq!(report["vacuumed_files"], 0, "{report}");
    assert_eq!(report["first_unread"], 0, "{report}");
    let run = medallion_json(&lake, &topic, &["run", "--until-caught-up"], &[]);
    assert_eq!(run["streams"][0]["silver"]["rows"]["input"].as_u64().unwrap(), bronze_rows.len() as u64, "silver read every bronze row: {run}");
    // Once silver has read them, the replaced files go.
    let second = medallion_json(&lake, &topic, &["maintain", "--table", "bronze/purchase_order_items"], &eager);
    let report = report_of(&second, "bronze/purchase_order_items");
    assert!(report["vacuumed_files"].as_u64().unwrap() >= 8, "{report}");
    assert_eq!(rows(&lake.bronze()), bronze_rows);
    let rerun = medallion_json(&lake, &topic, &["run", "--until-caught-up"], &[]);
    assert_eq!(rerun["streams"][0]["silver"]["rows"]["input"], 0, "{rerun}");
}
