//! `medallion silver` against a real broker and real Delta tables read back from storage: every
//! bronze row lands once in silver or quarantine, metrics add up, across restarts, SIGKILLs and
//! a batch left half-committed.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::time::Duration;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int32Type, Int64Type};
use common::{
    Lake, OutputWithin, PROCESS_DEADLINE, medallion, read_bronze, read_table, run_ok, send_raw, send_signal, summary, table_id, txn_version,
    undecodable_payloads, unique_topic,
};

const SILVER: &str = "silver/purchase_order_items";
const QUARANTINE: &str = "silver/purchase_order_items_quarantine";
const METRICS: &str = "silver/quality_metrics";

fn produce(topic: &str, count: u64, seed: u64) {
    run_ok(&["produce", "--count", &count.to_string(), "--seed", &seed.to_string(), "--invalid-ratio", "0.1", "--topic", topic]);
}

fn bronze_caught_up(lake: &Lake, topic: &str) {
    let output = medallion()
        .args(["bronze", "--until-caught-up", "--topic", topic, "--group", &unique_topic("g"), "--lake", &lake.root()])
        .env("MEDALLION_BRONZE__FLUSH_ROWS", "1000")
        .output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// `medallion silver` on `lake`, in small batches so that runs span many commits.
fn silver(lake: &Lake, topic: &str, extra: &[&str]) -> std::process::Command {
    let mut command = medallion();
    command
        .args(["silver", "--json", "--topic", topic, "--lake", &lake.root()])
        .args(extra)
        .env("MEDALLION_SILVER__MAX_BATCH_VERSIONS", "1")
        .env("MEDALLION_SILVER__POLL_INTERVAL", "100ms");
    command
}

fn silver_caught_up(lake: &Lake, topic: &str) -> serde_json::Value {
    let output = silver(lake, topic, &["--until-caught-up"]).output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    summary(&output)
}

fn positions(batch: &RecordBatch) -> Vec<(i32, i64)> {
    if batch.num_rows() == 0 {
        return Vec::new();
    }
    let partitions = batch.column_by_name("kafka_partition").unwrap().as_primitive::<Int32Type>();
    let offsets = batch.column_by_name("kafka_offset").unwrap().as_primitive::<Int64Type>();
    partitions.values().iter().zip(offsets.values()).map(|(p, o)| (*p, *o)).collect()
}

/// Rule name → rows whose `column` (`_errors` or `_warnings`) lists it.
fn failures_by_rule(batch: &RecordBatch, column: &str, into: &mut BTreeMap<String, i64>) {
    let Some(lists) = batch.column_by_name(column) else {
        return;
    };
    let lists = lists.as_list::<i32>();
    for row in 0..lists.len() {
        if lists.is_valid(row) {
            let items = lists.value(row);
            for name in items.as_struct().column_by_name("name").unwrap().as_string::<i32>().iter().flatten() {
                *into.entry(name.to_owned()).or_default() += 1;
            }
        }
    }
}

fn long_sum(batch: &RecordBatch, name: &str, kind: &str, rule: Option<&str>) -> i64 {
    let kinds = batch.column_by_name("kind").unwrap().as_string::<i32>();
    let rules = batch.column_by_name("rule_name").unwrap().as_string::<i32>();
    let values = batch.column_by_name(name).unwrap().as_primitive::<Int64Type>();
    (0..batch.num_rows())
        .filter(|&i| kinds.value(i) == kind && rule.is_none_or(|r| rules.is_valid(i) && rules.value(i) == r))
        .map(|i| values.value(i))
        .sum()
}

/// Silver + quarantine hold every bronze row exactly once, undecodable rows are quarantined
/// with their error, silver has no row with errors (split mode), the metrics add up to the
/// tables' contents, and every table's txn is bronze's version.
/// `dqx_criticality_level` is the highest criticality that failed: error with `_errors`, warn
/// with only `_warnings`, none with neither (undecodable rows count as errors).
fn assert_criticality_follows_the_failures(table: &arrow::array::RecordBatch) {
    use arrow::array::Array;
    let (errors, warnings) = (table.column_by_name("_errors").unwrap(), table.column_by_name("_warnings").unwrap());
    let (flags, levels) =
        (table.column_by_name("flag_check").unwrap().as_string::<i32>(), table.column_by_name("dqx_criticality_level").unwrap().as_string::<i32>());
    for row in 0..table.num_rows() {
        let expected = match (errors.is_valid(row) || flags.value(row) == "FAIL", warnings.is_valid(row)) {
            (true, _) => "error",
            (false, true) => "warn",
            (false, false) => "none",
        };
        assert_eq!(levels.value(row), expected, "row {row} (flag {})", flags.value(row));
    }
}

fn assert_silver_exactly_once(lake: &Lake) {
    let bronze = read_bronze(&lake.bronze());
    let (silver, quarantine, metrics) = (read_table(&lake.table(SILVER)), read_table(&lake.table(QUARANTINE)), read_table(&lake.table(METRICS)));
    let mut seen: HashMap<(i32, i64), usize> = HashMap::new();
    for position in positions(&silver).into_iter().chain(positions(&quarantine)) {
        *seen.entry(position).or_default() += 1;
    }
    let duplicates: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(duplicates.is_empty(), "rows in silver or quarantine twice: {duplicates:?}");
    assert_eq!(silver.num_rows() + quarantine.num_rows(), bronze.len(), "silver + quarantine = bronze");
    let reasons: HashMap<(i32, i64), String> = positions(&quarantine)
        .into_iter()
        .zip(quarantine.column_by_name("quarantine_reason").unwrap().as_string::<i32>().iter().map(|r| r.unwrap().to_owned()))
        .collect();
    for row in &bronze {
        assert!(seen.contains_key(&(row.partition, row.offset)), "bronze row {}:{} is in neither table", row.partition, row.offset);
        if let Some(error) = &row.decode_error {
            assert_eq!(reasons.get(&(row.partition, row.offset)), Some(&format!("undecodable: {error}")));
        }
    }
    assert_eq!(silver.column_by_name("_errors").unwrap().null_count(), silver.num_rows(), "split mode: no errors in silver");
    for table in [&silver, &quarantine] {
        assert_criticality_follows_the_failures(table);
    }

    assert_eq!(long_sum(&metrics, "input_rows", "batch", None), bronze.len() as i64, "metrics: input rows");
    assert_eq!(long_sum(&metrics, "silver_rows", "batch", None), silver.num_rows() as i64, "metrics: silver rows");
    assert_eq!(long_sum(&metrics, "quarantined_rows", "batch", None), quarantine.num_rows() as i64, "metrics: quarantined rows");
    let undecodable = bronze.iter().filter(|r| r.decode_error.is_some()).count() as i64;
    assert_eq!(long_sum(&metrics, "undecodable_rows", "batch", None), undecodable);
    let mut failed = BTreeMap::new();
    for table in [&silver, &quarantine] {
        failures_by_rule(table, "_errors", &mut failed);
        failures_by_rule(table, "_warnings", &mut failed);
    }
    assert!(failed.len() >= 5, "the bad records fail several rules: {failed:?}");
    for (rule, rows) in &failed {
        assert_eq!(long_sum(&metrics, "failed_rows", "rule", Some(rule)), *rows, "metrics: failures of {rule}");
    }
    let bronze_version = read_table_version(&lake.bronze());
    let app_id = format!("silver:{}", table_id(&lake.bronze()));
    for table in [SILVER, METRICS] {
        assert_eq!(txn_version(&lake.table(table), &app_id), Some(bronze_version), "txn of {table}");
    }
}

fn read_table_version(location: &str) -> i64 {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = deltalake::table::builder::ensure_table_uri(location).unwrap();
    runtime.block_on(deltalake::open_table(url)).unwrap().version().unwrap() as i64
}

#[test]
fn every_bronze_row_is_checked_once_and_restarts_resume() {
    let (topic, lake) = (unique_topic("silver-basic"), Lake::new());
    produce(&topic, 6_000, 5);
    send_raw(&topic, &undecodable_payloads(60));
    bronze_caught_up(&lake, &topic);
    let first = silver_caught_up(&lake, &topic);
    assert_eq!((first["rows"]["input"].as_u64(), first["rows"]["undecodable"].as_u64()), (Some(6_060), Some(60)), "{first}");
    assert!(first["batches"].as_u64() > Some(2), "several bronze versions, one per batch: {first}");
    assert_silver_exactly_once(&lake);

    let again = silver_caught_up(&lake, &topic);
    assert_eq!((again["batches"].as_u64(), again["commits"].as_u64()), (Some(0), Some(0)), "nothing new, nothing committed: {again}");

    produce(&topic, 1_500, 6);
    bronze_caught_up(&lake, &topic);
    let more = silver_caught_up(&lake, &topic);
    assert_eq!(more["rows"]["input"].as_u64(), Some(1_500), "only the new bronze rows: {more}");
    assert_silver_exactly_once(&lake);

    // Following bronze, SIGTERM stops the stage cleanly with its summary.
    let follower = silver(&lake, &topic, &[]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    send_signal(&follower, "TERM");
    let output = common::collect_output(follower, PROCESS_DEADLINE);
    assert!(output.status.success(), "SIGTERM exits 0: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(summary(&output)["stop"], "signal");
}

#[test]
fn sigkill_at_random_moments_loses_and_duplicates_nothing() {
    let events: u64 = std::env::var("SILVER_KILL_LOOP_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let kills: usize = std::env::var("SILVER_KILL_LOOP_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(6);
    let (topic, lake, group) = (unique_topic("silver-kill"), Lake::new(), unique_topic("g"));
    send_raw(&topic, &undecodable_payloads((events / 100) as usize));
    let rate = (events / (kills as u64 * 2)).max(1_000).to_string();
    let mut producer = medallion()
        .args(["produce", "--count", &events.to_string(), "--rate", &rate, "--seed", "8", "--invalid-ratio", "0.1", "--topic", &topic])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut bronze = medallion();
    bronze
        .args(["bronze", "--topic", &topic, "--group", &group, "--lake", &lake.root()])
        .env("MEDALLION_BRONZE__FLUSH_ROWS", "800")
        .env("MEDALLION_BRONZE__FLUSH_INTERVAL", "200ms");
    let mut bronze = lake.spawn_logged(&mut bronze, "bronze");
    let mut seed = 0x2545_F491_4F6C_DD1D_u64;
    for round in 0..kills {
        let child = lake.spawn_logged(&mut silver(&lake, &topic, &[]), &format!("silver-{round}"));
        let pause = common::next_pause(&mut seed, 800, 2_500);
        std::thread::sleep(pause);
        send_signal(&child, "KILL");
        let mut child = child;
        common::wait_within(&mut child, PROCESS_DEADLINE);
        let rows = if std::path::Path::new(&lake.table(SILVER)).join("_delta_log").exists() { read_table(&lake.table(SILVER)).num_rows() } else { 0 };
        eprintln!("kill {round} after {pause:?}: {rows} rows in silver");
    }
    assert!(common::wait_within(&mut producer, PROCESS_DEADLINE).success());
    send_signal(&bronze, "TERM");
    assert!(common::wait_within(&mut bronze, PROCESS_DEADLINE).success(), "bronze stops cleanly on SIGTERM");
    bronze_caught_up(&lake, &topic);
    silver_caught_up(&lake, &topic);
    assert_eq!(read_bronze(&lake.bronze()).len() as u64, events + events / 100);
    assert_silver_exactly_once(&lake);
}

/// A crash after quarantine and metrics committed a batch but before silver did: the restart
/// finishes that batch without writing it to quarantine or metrics again.
#[test]
fn a_half_committed_batch_is_finished_not_repeated() {
    let (topic, lake) = (unique_topic("silver-half"), Lake::new());
    produce(&topic, 3_000, 11);
    send_raw(&topic, &undecodable_payloads(30));
    bronze_caught_up(&lake, &topic);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(commit_all_but_silver(&lake));
    assert!(read_table(&lake.table(QUARANTINE)).num_rows() > 30, "quarantine holds the batch already");
    let summary = silver_caught_up(&lake, &topic);
    assert_eq!(summary["commits"].as_u64(), Some(1), "only silver commits: {summary}");
    assert_silver_exactly_once(&lake);
}

/// Does what a silver run killed between its metrics and silver commits leaves behind.
async fn commit_all_but_silver(lake: &Lake) {
    use medallion::silver::{BronzeSource, SilverSchemas, metrics_schema, refine};
    use medallion::table::SourceKey;
    let config = medallion::config::Config::default();
    let decoder = medallion::bronze::DecoderFactory::from_config(&config).decoder().unwrap();
    let schemas = SilverSchemas::from_bronze(&medallion::bronze::BronzeBatchBuilder::new(decoder).unwrap().schema()).unwrap();
    let rules = medallion::rules::RuleSet::parse("built-in", medallion::silver::BUILT_IN_RULES).unwrap();
    let engine = std::sync::Arc::new(rules.compile(schemas.input.clone()).unwrap());
    let mut source = BronzeSource::open(&lake.bronze(), HashMap::new(), schemas.read.clone()).await.unwrap().unwrap();
    let last = source.latest_version().await.unwrap();
    let slice = source.read(None, last, None).await.unwrap();
    let run = engine.run_info("crashed-run".to_owned());
    let refined =
        refine(&engine, &schemas, &slice.batch, config.silver.mode, config.silver.quality_threshold, &run, slice.first_version..=slice.last_version)
            .unwrap();
    let txn = [(SourceKey::silver(source.table_id().unwrap(), &lake.bronze(), "bronze/purchase_order_items").app_id(), last as i64)];
    for (table, schema, batch) in [(QUARANTINE, schemas.quarantine.clone(), &refined.quarantine), (METRICS, metrics_schema(), &refined.metrics)] {
        let mut table = medallion::table::StageTable::open_or_create(&lake.table(table), HashMap::new(), schema, &[]).await.unwrap();
        table.append(std::slice::from_ref(batch), &txn).await.unwrap();
    }
}

#[test]
fn fail_mode_stops_before_committing_and_names_the_row() {
    let (topic, lake) = (unique_topic("silver-fail"), Lake::new());
    produce(&topic, 500, 12);
    bronze_caught_up(&lake, &topic);
    let output = silver(&lake, &topic, &["--until-caught-up", "--mode", "fail"]).output_within();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in ["mode `fail`", "failed error checks", "partition", "offset", "Nothing was committed"] {
        assert!(stderr.contains(expected), "{expected:?} missing from: {stderr}");
    }
    // Bronze's version 0 only creates the table: it may be committed as an empty batch, but
    // nothing of version 1, whose rows failed, is.
    let position = txn_version(&lake.table(SILVER), &format!("silver:{}", table_id(&lake.bronze())));
    assert!(position.is_none_or(|v| v < 1), "the failing batch is not committed: {position:?}");
    assert!(stderr.contains("bronze version 1,"), "{stderr}");
    assert_eq!(read_table(&lake.table(SILVER)).num_rows(), 0);
}

#[test]
fn missing_bronze_and_bad_rules_are_clear_errors() {
    let lake = Lake::new();
    let output = medallion().args(["silver", "--until-caught-up", "--lake", &lake.root()]).output_within();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&lake.bronze()) && stderr.contains("run `medallion bronze` first"), "{stderr}");

    let rules = lake.path().join("bad.yml");
    std::fs::write(&rules, "- criticality: error\n  check: {function: is_not_nul, arguments: {column: order_id}}\n").unwrap();
    let output = medallion().args(["silver", "--until-caught-up", "--lake", &lake.root(), "--rules", rules.to_str().unwrap()]).output_within();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("rule #0") && stderr.contains("is_not_nul"), "{stderr}");
}

/// A batch of more than two parts is encoded by two writers at once (see
/// `StageTable::append_parts`): one commit adds two silver files, and every row is there once.
#[test]
fn a_large_batch_is_encoded_into_two_files_with_every_row_once() {
    let (topic, lake) = (unique_topic("silver-parts"), Lake::new());
    produce(&topic, 20_000, 13);
    bronze_caught_up(&lake, &topic);
    let output = silver(&lake, &topic, &["--until-caught-up"]).env("MEDALLION_SILVER__MAX_BATCH_VERSIONS", "64").output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary = summary(&output);
    assert_eq!(summary["batches"].as_u64(), Some(1), "all of bronze in one batch: {summary}");
    assert!(summary["rows"]["silver"].as_u64() > Some(2 * 8_192), "more than two parts: {summary}");
    let log = std::path::Path::new(&lake.table(SILVER)).join("_delta_log");
    let mut adds = 0;
    for entry in std::fs::read_dir(&log).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            adds += std::fs::read_to_string(&path).unwrap().lines().filter(|line| line.starts_with(r#"{"add""#)).count();
        }
    }
    assert_eq!(adds, 2, "silver's one commit adds a file per writer");
    assert_silver_exactly_once(&lake);
}
