//! Every failure classified once, against a real broker and real Delta tables: what cannot get
//! better (a vacuumed file, a log entry cleaned up) stops the stage with a message naming table,
//! version and file instead of being retried for ever; what can (a concurrent `medallion gold`)
//! is retried and never stops `medallion run`; a stop while the store hangs keeps its timeout.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Lake, OutputWithin, PROCESS_DEADLINE, medallion, read_bronze, read_table, run_ok, send_signal, unique_topic, wait_until, wait_within};

const BRONZE: &str = "bronze/purchase_order_items";

fn produce(topic: &str, count: u64, seed: u64) {
    run_ok(&["produce", "--count", &count.to_string(), "--seed", &seed.to_string(), "--topic", topic]);
}

/// Bronze caught up with `topic`, in commits of at most 200 rows.
fn bronze_caught_up(lake: &Lake, topic: &str) {
    let output = medallion()
        .args(["bronze", "--until-caught-up", "--topic", topic, "--group", &unique_topic("g"), "--lake", &lake.root()])
        .env("MEDALLION_BRONZE__FLUSH_ROWS", "200")
        .output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

fn silver_caught_up(lake: &Lake) -> std::process::Output {
    medallion().args(["silver", "--until-caught-up", "--lake", &lake.root()]).output_within()
}

fn log_dir(lake: &Lake) -> std::path::PathBuf {
    lake.path().join(BRONZE).join("_delta_log")
}

/// The data files bronze version `version` added, as the log lists them.
fn files_added_by(lake: &Lake, version: u64) -> Vec<String> {
    let entry = std::fs::read_to_string(log_dir(lake).join(format!("{version:020}.json"))).unwrap();
    entry
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|action| action["add"]["path"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_vacuumed_bronze_file_stops_silver_naming_version_and_file() {
    let (topic, lake) = (unique_topic("fail-vacuumed"), Lake::new());
    produce(&topic, 600, 1);
    bronze_caught_up(&lake, &topic);
    let file = files_added_by(&lake, 2).into_iter().next().unwrap();
    let name = file.rsplit('/').next().unwrap();
    let partition_dir = std::fs::read_dir(lake.path().join(BRONZE)).unwrap().flatten().find(|d| d.path().join(name).exists()).unwrap();
    std::fs::remove_file(partition_dir.path().join(name)).unwrap();
    let started = Instant::now();
    let output = silver_caught_up(&lake);
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(started.elapsed() < Duration::from_secs(60), "stopped at once, not after retries: {:?}", started.elapsed());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in ["bronze version 2", &lake.table(BRONZE), &file, "is gone"] {
        assert!(stderr.contains(expected), "{expected:?} missing from: {stderr}");
    }
}

#[test]
fn a_log_entry_cleaned_up_before_silver_read_it_stops_silver() {
    let (topic, lake) = (unique_topic("fail-log-gone"), Lake::new());
    produce(&topic, 600, 2);
    bronze_caught_up(&lake, &topic);
    // What log retention does after a checkpoint: the entries before it go.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let url = deltalake::table::builder::ensure_table_uri(lake.table(BRONZE)).unwrap();
        let table = deltalake::open_table(url).await.unwrap();
        deltalake::checkpoints::create_checkpoint(&table, None).await.unwrap();
    });
    std::fs::remove_file(log_dir(&lake).join(format!("{:020}.json", 1))).unwrap();
    let output = silver_caught_up(&lake);
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in ["log entry of version 1", &lake.table(BRONZE), "is gone"] {
        assert!(stderr.contains(expected), "{expected:?} missing from: {stderr}");
    }
}

#[test]
fn concurrent_gold_refreshes_never_stop_medallion_run() {
    let (topic, lake) = (unique_topic("fail-two-golds"), Lake::new());
    produce(&topic, 2000, 3);
    let mut run = lake.spawn_logged(
        medallion()
            .args(["run", "--topic", &topic, "--group", &unique_topic("g"), "--lake", &lake.root()])
            .env("MEDALLION_GOLD__INTERVAL", "200ms")
            .env("MEDALLION_BRONZE__FLUSH_INTERVAL", "200ms"),
        "run",
    );
    let current = lake.table("silver/purchase_order_items_current");
    assert!(wait_until(Duration::from_secs(120), || std::path::Path::new(&current).join("_delta_log").exists()), "gold never started");
    for round in 0..8u64 {
        produce(&topic, 300, 10 + round);
        // Three one-off refreshes at once, beside run's own every 200 ms.
        let golds: Vec<_> = (0..3)
            .map(|_| medallion().args(["gold", "--lake", &lake.root()]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
            .collect();
        for gold in golds {
            let output = common::collect_output(gold, PROCESS_DEADLINE);
            assert!(output.status.success(), "gold beside run, round {round}: {}", String::from_utf8_lossy(&output.stderr));
        }
        assert!(run.try_wait().unwrap().is_none(), "medallion run stopped beside concurrent golds");
    }
    send_signal(&run, "TERM");
    assert!(wait_within(&mut run, PROCESS_DEADLINE).success(), "run exits 0 after the concurrent refreshes");
    run_ok(&["gold", "--lake", &lake.root()]);
    // One row per line item whatever the interleaving of the two writers.
    let rows = read_table(&current);
    let keys = common_keys(&rows);
    let mut unique = keys.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), keys.len(), "the current state has one row per (order_id, line_number)");
}

fn common_keys(batch: &arrow::array::RecordBatch) -> Vec<(String, i32)> {
    use arrow::array::AsArray;
    let orders = batch.column_by_name("order_id").unwrap().as_string::<i32>().clone();
    let lines = batch.column_by_name("line_number").unwrap().as_primitive::<arrow::datatypes::Int32Type>().clone();
    (0..batch.num_rows()).map(|i| (orders.value(i).to_owned(), lines.value(i))).collect()
}

#[test]
fn a_stop_while_the_store_fails_keeps_the_shutdown_timeout_and_resumes_exactly() {
    let (topic, lake) = (unique_topic("fail-store"), Lake::new());
    produce(&topic, 500, 4);
    let bronze = medallion()
        .args(["bronze", "--topic", &topic, "--group", &unique_topic("g"), "--lake", &lake.root()])
        .env("MEDALLION_BRONZE__FLUSH_INTERVAL", "200ms")
        .env("MEDALLION_BRONZE__RETRY_BACKOFF", "20s")
        .env("MEDALLION_BRONZE__SHUTDOWN_TIMEOUT", "3s")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first_commit = log_dir(&lake).join(format!("{:020}.json", 1));
    assert!(wait_until(Duration::from_secs(60), || first_commit.exists()), "bronze never committed");
    assert!(wait_until(Duration::from_secs(60), || read_bronze(&lake.table(BRONZE)).len() == 500), "bronze never committed the first messages");
    // The store fails (transiently, as far as medallion can tell): the partition directory the
    // next data file goes to is no longer a directory.
    let partition_dir = std::fs::read_dir(lake.path().join(BRONZE))
        .unwrap()
        .flatten()
        .find(|d| d.file_name().to_string_lossy().starts_with("ingestion_date="))
        .unwrap()
        .path();
    let moved = lake.path().join("partition_moved");
    std::fs::rename(&partition_dir, &moved).unwrap();
    std::fs::write(&partition_dir, b"not a directory").unwrap();
    produce(&topic, 300, 5);
    std::thread::sleep(Duration::from_secs(3));
    let stopped = Instant::now();
    send_signal(&bronze, "TERM");
    let output = common::collect_output(bronze, PROCESS_DEADLINE);
    let took = stopped.elapsed();
    assert!(took < Duration::from_secs(10), "the stop took {took:?} with a 3 s shutdown timeout");
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    std::fs::remove_file(&partition_dir).unwrap();
    std::fs::rename(&moved, &partition_dir).unwrap();
    bronze_caught_up(&lake, &topic);
    let rows = read_bronze(&lake.table(BRONZE));
    let mut coordinates: Vec<(i32, i64)> = rows.iter().map(|r| (r.partition, r.offset)).collect();
    coordinates.dedup();
    assert_eq!((rows.len(), coordinates.len()), (800, 800), "every message once after the restart");
}
