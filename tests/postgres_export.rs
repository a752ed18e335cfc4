//! `medallion export postgres` against a real PostgreSQL server and the dev broker: the rows in
//! PostgreSQL equal the Delta tables they copy (read back from storage), after `run` exports at
//! its end, after exports SIGKILLed at random moments and a restart, and the password never
//! appears in what medallion prints.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Date32Type, Int64Type};
use common::postgres::{fresh_database, query, scalar};
use common::{Lake, OutputWithin, medallion, unique_topic};

/// A lake with `count` events through every stage, in many small commits.
fn lake_with_commits(count: usize) -> (Lake, String, String) {
    let (lake, topic, group) = (Lake::new(), unique_topic("pg-export"), unique_topic("g"));
    let produced = common::run_ok(&["produce", "--count", &count.to_string(), "--seed", "9", "--topic", &topic, "--json"]);
    assert_eq!(common::summary(&produced)["sent"].as_u64(), Some(count as u64));
    let config = lake.path().join("small-commits.yaml");
    std::fs::write(&config, "bronze:\n  flush_rows: 1000\nsilver:\n  max_batch_versions: 1\n").unwrap();
    let config = config.display().to_string();
    common::run_ok(&["run", "--until-caught-up", "--config", &config, "--lake", &lake.root(), "--topic", &topic, "--group", &group]);
    (lake, topic, group)
}

fn export(lake: &Lake, topic: &str, group: &str, url: &str) -> std::process::Output {
    medallion()
        .args(["export", "postgres", "--lake", &lake.root(), "--topic", topic, "--group", group])
        .env("MEDALLION_EXPORT__POSTGRES__URL", url)
        .output_within()
}

/// (kind, rule, bronze versions, checked, failed, input rows) of every `quality_metrics` row.
fn delta_metrics(lake: &Lake) -> Vec<String> {
    let batch = common::read_table(&lake.table("silver/quality_metrics"));
    let text = |name: &str, row: usize| {
        let column = batch.column_by_name(name).unwrap();
        if column.is_null(row) {
            return "NULL".to_owned();
        }
        match column.data_type() {
            arrow::datatypes::DataType::Utf8 => column.as_string::<i32>().value(row).to_owned(),
            _ => column.as_primitive::<Int64Type>().value(row).to_string(),
        }
    };
    let columns = ["kind", "rule_name", "bronze_version_from", "bronze_version_to", "checked_rows", "failed_rows", "input_rows"];
    let mut rows: Vec<String> = (0..batch.num_rows()).map(|row| columns.map(|c| text(c, row)).join("|")).collect();
    rows.sort();
    rows
}

fn postgres_metrics(url: &str) -> Vec<String> {
    let sql = "SELECT kind, rule_name, bronze_version_from, bronze_version_to, checked_rows, failed_rows, input_rows FROM medallion_quality_metrics";
    let mut rows: Vec<String> = query(url, sql).into_iter().map(|row| row.join("|")).collect();
    rows.sort();
    rows
}

/// day → (rows, pass, warning, fail) of `quality_daily`.
fn delta_daily(lake: &Lake) -> BTreeMap<String, Vec<i64>> {
    let batch: RecordBatch = common::read_table(&lake.table("gold/quality_daily"));
    let days = batch.column_by_name("day").unwrap().as_primitive::<Date32Type>().clone();
    let long = |name: &str, row: usize| batch.column_by_name(name).unwrap().as_primitive::<Int64Type>().value(row);
    (0..batch.num_rows())
        .map(|row| {
            let day = arrow::temporal_conversions::as_date::<Date32Type>(i64::from(days.value(row))).unwrap().to_string();
            (day, ["rows", "pass_rows", "warning_rows", "fail_rows"].iter().map(|c| long(c, row)).collect())
        })
        .collect()
}

fn postgres_daily(url: &str) -> BTreeMap<String, Vec<i64>> {
    query(url, "SELECT day, rows, pass_rows, warning_rows, fail_rows FROM medallion_quality_daily")
        .into_iter()
        .map(|row| (row[0].clone(), row[1..].iter().map(|v| v.parse().unwrap()).collect()))
        .collect()
}

/// Every table of the lake as `status` sees it: role → version.
fn table_versions(lake: &Lake, topic: &str, group: &str) -> BTreeMap<String, i64> {
    let output = common::run_ok(&["status", "--json", "--lake", &lake.root(), "--topic", topic, "--group", group]);
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    status["streams"][0]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["table"].as_str().unwrap().to_owned(), t["version"].as_i64().unwrap()))
        .collect()
}

/// PostgreSQL holds exactly what the lake holds: every metrics row once, each day's figures,
/// one row per commit of every table.
fn assert_postgres_equals_the_lake(lake: &Lake, topic: &str, group: &str, url: &str, messages: i64) {
    let metrics = delta_metrics(lake);
    assert!(!metrics.is_empty());
    assert_eq!(postgres_metrics(url), metrics, "medallion_quality_metrics = quality_metrics");
    assert_eq!(postgres_daily(url), delta_daily(lake), "medallion_quality_daily = quality_daily");
    let commits: BTreeMap<String, i64> = query(url, "SELECT stage, count(*) FROM medallion_stage_commits GROUP BY stage")
        .into_iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap()))
        .collect();
    let versions = table_versions(lake, topic, group);
    let expected: BTreeMap<String, i64> = versions.iter().map(|(table, version)| (table.clone(), version + 1)).collect();
    assert_eq!(commits, expected, "one medallion_stage_commits row per version of every table");
    assert_eq!(scalar(url, "SELECT sum(rows) FROM medallion_stage_commits WHERE stage = 'bronze'"), messages.to_string());
    let unique = scalar(url, "SELECT count(*) FROM (SELECT DISTINCT stage, version FROM medallion_stage_commits) AS d");
    assert_eq!(unique, expected.values().sum::<i64>().to_string());
}

#[test]
fn run_exports_at_its_end_what_the_delta_tables_hold() {
    let url = fresh_database();
    let (lake, topic, group) = (Lake::new(), unique_topic("pg-run"), unique_topic("g"));
    common::run_ok(&["produce", "--count", "4000", "--seed", "4", "--topic", &topic]);
    let config = lake.path().join("export.yaml");
    std::fs::write(&config, format!("export:\n  postgres:\n    url: {}\n", serde_json::Value::String(url.clone()))).unwrap();
    let config = config.display().to_string();
    common::run_ok(&["run", "--until-caught-up", "--config", &config, "--lake", &lake.root(), "--topic", &topic, "--group", &group]);
    assert_postgres_equals_the_lake(&lake, &topic, &group, &url, 4_000);
    let batches = scalar(&url, "SELECT sum(input_rows) FROM medallion_quality_metrics WHERE kind = 'batch'");
    assert_eq!(batches, "4000");
    assert_eq!(scalar(&url, "SELECT count(*) FROM medallion_kafka_lag"), "8", "one lag row per partition");
    let freshness = scalar(&url, "SELECT count(*) FROM medallion_stage_commits WHERE stage = 'silver' AND version > 0 AND freshness_ms >= 0");
    assert_ne!(freshness, "0", "silver's commits say how far behind bronze they were");

    // Exported again with nothing new: nothing copied twice (lag is a new sample).
    let again = export(&lake, &topic, &group, &url);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_postgres_equals_the_lake(&lake, &topic, &group, &url, 4_000);
    assert_eq!(scalar(&url, "SELECT count(*) FROM medallion_kafka_lag"), "16");
}

/// The export positions: (source, version), sorted; empty before the first transaction.
fn positions(url: &str) -> Vec<Vec<String>> {
    let exists = scalar(url, "SELECT count(*) FROM pg_tables WHERE tablename = 'medallion_export_positions'");
    if exists == "0" {
        return Vec::new();
    }
    query(url, "SELECT source, version FROM medallion_export_positions ORDER BY source")
}

#[test]
fn exports_killed_mid_way_resume_without_duplicates() {
    let (lake, topic, group) = lake_with_commits(8_000);
    let url = fresh_database();
    let mut seen_after_kills = Vec::new();
    for pause_ms in [150u64, 350, 600, 900, 1300, 1800] {
        let mut child = medallion()
            .args(["export", "postgres", "--lake", &lake.root(), "--topic", &topic, "--group", &group])
            .env("MEDALLION_EXPORT__POSTGRES__URL", &url)
            // One Delta version per transaction: the most positions to be killed between.
            .env("MEDALLION_EXPORT__POSTGRES__VERSIONS_PER_TRANSACTION", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(pause_ms));
        common::send_signal(&child, "KILL");
        let _ = child.wait();
        let seen = positions(&url);
        eprintln!(
            "killed after {pause_ms} ms: {} sources exported, versions {:?}",
            seen.len(),
            seen.iter().map(|p| p[1].clone()).collect::<Vec<_>>()
        );
        seen_after_kills.push(seen);
    }
    let finished = export(&lake, &topic, &group, &url);
    assert!(finished.status.success(), "{}", String::from_utf8_lossy(&finished.stderr));
    assert_postgres_equals_the_lake(&lake, &topic, &group, &url, 8_000);
    let complete = positions(&url);
    let partial = seen_after_kills.iter().filter(|seen| !seen.is_empty() && **seen != complete).count();
    assert!(partial > 0, "at least one kill landed in the middle of an export: {seen_after_kills:?}");
}

#[test]
fn the_database_password_is_never_printed() {
    let (lake, topic) = (Lake::new(), unique_topic("pg-secret"));
    let url = fresh_database().replace(":medallion-test@", ":Wr0ng-Passw0rd@");
    let output = medallion()
        .args(["export", "postgres", "--lake", &lake.root(), "--topic", &topic, "--url", &url])
        .env("MEDALLION_LOG", "debug")
        .output_within();
    assert_eq!(output.status.code(), Some(1));
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(printed.contains("medallion@127.0.0.1:"), "the error names the database: {printed}");
    assert!(!printed.contains("Wr0ng-Passw0rd"), "the password was printed:\n{printed}");
    let config = lake.path().join("export.yaml");
    std::fs::write(&config, format!("export:\n  postgres:\n    url: {}\n", serde_json::Value::String(url))).unwrap();
    let checked = medallion().args(["config", "check"]).arg(&config).output_within();
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
    assert!(!String::from_utf8_lossy(&checked.stdout).contains("Wr0ng-Passw0rd"));
}
