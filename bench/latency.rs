//! End-to-end latency: Kafka timestamp of a message → the commit that made it visible in silver
//! (and, as the baseline of the same run, in bronze), with `medallion run` following a producer
//! at a fixed rate.
//!
//! `cargo bench --bench latency` against the broker in `KAFKA_BOOTSTRAP` (default the dev
//! broker, 127.0.0.1:19092; start it with `scripts/dev-broker start`). Settings:
//! `LATENCY_RATE` (events/s, default 20000), `LATENCY_SECONDS` (default 30), bronze flush
//! interval `LATENCY_FLUSH` (default 1s).
//!
//! Visibility is measured from the tables themselves: each Delta commit's `commitInfo.timestamp`
//! against the `kafka_timestamp` of every row its files added.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench fails by panicking

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use arrow::array::{Array, AsArray};
use arrow::datatypes::TimestampMicrosecondType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Milliseconds from each row's Kafka timestamp to the commit that added it, over every commit,
/// for rows sent at or after `since_ms`.
fn visibility_millis(table: &Path, since_ms: i64) -> Vec<i64> {
    let mut latencies = Vec::new();
    let mut logs: Vec<_> = std::fs::read_dir(table.join("_delta_log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    logs.sort();
    for log in logs {
        let (mut committed_at, mut files) = (None, Vec::new());
        for line in std::fs::read_to_string(&log).unwrap().lines() {
            let action: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(timestamp) = action["commitInfo"]["timestamp"].as_i64() {
                committed_at = Some(timestamp);
            }
            if let Some(path) = action["add"]["path"].as_str() {
                files.push(table.join(object_store::path::Path::from_url_path(path).unwrap().to_string()));
            }
        }
        let Some(committed_at) = committed_at else { continue };
        for file in files {
            let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap()).unwrap().build().unwrap();
            for batch in reader {
                let batch = batch.unwrap();
                let times = batch.column_by_name("kafka_timestamp").expect("kafka_timestamp").as_primitive::<TimestampMicrosecondType>();
                let sent = (0..times.len()).filter(|&i| times.is_valid(i)).map(|i| times.value(i) / 1_000).filter(|&t| t >= since_ms);
                latencies.extend(sent.map(|t| committed_at - t));
            }
        }
    }
    latencies.sort_unstable();
    latencies
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(-1)
}

/// Peak resident set of a process, in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 =
        status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    kib / 1024.0
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list here
    }
    let rate: u32 = env_or("LATENCY_RATE", 20_000);
    let seconds: u32 = env_or("LATENCY_SECONDS", 30);
    let flush: String = env_or("LATENCY_FLUSH", "1s".to_owned());
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:19092".to_owned());
    let medallion = env!("CARGO_BIN_EXE_medallion");
    let lake = tempfile::tempdir().unwrap();
    let topic = format!("latency-{}", std::process::id());
    let common = |command: &mut Command| {
        command.env("KAFKA_BOOTSTRAP", &bootstrap).env("MEDALLION_LOG", "warn").args([
            "--topic",
            &topic,
            "--lake",
            &lake.path().display().to_string(),
        ]);
    };
    // Create the topic first, so the pipeline's consumer finds all partitions at once.
    let mut create = Command::new(medallion);
    common(create.args(["produce", "--count", "1"]));
    assert!(
        create.stdout(Stdio::null()).status().unwrap().success(),
        "cannot produce to {bootstrap}: start the dev broker (scripts/dev-broker start)"
    );

    let mut pipeline = Command::new(medallion);
    common(pipeline.args(["run", "--group", &format!("{topic}-g")]));
    let mut pipeline = pipeline.env("MEDALLION_BRONZE__FLUSH_INTERVAL", &flush).stdout(Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(8)); // group join and table creation happen before the clock starts
    let started_ms = chrono::Utc::now().timestamp_millis();
    let mut producer = Command::new(medallion);
    common(producer.args(["produce", "--rate", &rate.to_string(), "--duration", &format!("{seconds}s"), "--json"]));
    let produced = producer.stderr(Stdio::null()).output().unwrap();
    assert!(produced.status.success(), "producer failed");
    let summary: serde_json::Value = serde_json::from_slice(&produced.stdout).unwrap_or_default();
    std::thread::sleep(Duration::from_secs(10)); // let the pipeline drain
    let rss = peak_rss_mib(pipeline.id());
    Command::new("kill").args(["-TERM", &pipeline.id().to_string()]).status().unwrap();
    pipeline.wait().unwrap();

    let bronze = visibility_millis(&lake.path().join("bronze/purchase_order_items"), started_ms);
    let silver = visibility_millis(&lake.path().join("silver/purchase_order_items"), started_ms);
    let report = serde_json::json!({
        "rate_requested": rate,
        "rate_achieved": summary["achieved_rate"],
        "events": summary["sent"],
        "bronze_flush_interval": flush,
        "bronze_rows": bronze.len(), "bronze_p50_ms": percentile(&bronze, 0.5), "bronze_p99_ms": percentile(&bronze, 0.99),
        "silver_rows": silver.len(), "silver_p50_ms": percentile(&silver, 0.5), "silver_p99_ms": percentile(&silver, 0.99),
        "silver_max_ms": silver.last(),
        "silver_p99_over_bronze_p99": percentile(&silver, 0.99) as f64 / percentile(&bronze, 0.99).max(1) as f64,
        "pipeline_peak_rss_mib": rss,
    });
    println!("{report}");
}
