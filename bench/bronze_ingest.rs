//! End-to-end ingest, side by side on one pre-loaded topic (8 partitions, 1M single-object
//! events by default) in one run: (1) a raw rdkafka
//! consumer that only counts (the broker's limit), (2) the Python bronze a data engineer would
//! write (bench/python/bronze_peer.py: confluent-kafka + fastavro + deltalake's
//! `write_deltalake`, batches of 50,000), (3) `medallion bronze --until-caught-up`. Each runs as
//! a process of its own, so its CPU-seconds (user + sys of the whole process) and peak RSS are
//! its own.
//!
//!   scripts/dev-broker start
//!   cargo bench --bench bronze_ingest                          # 1,000,000 events
//!   BRONZE_BENCH_EVENTS=200000 cargo bench --bench bronze_ingest
//!
//! Rows/s run from each side's first message to its last commit (group join and start-up
//! excluded); CPU-seconds include start-up. The Python peer's venv (bench/python/requirements.txt)
//! is made on first use under ~/.cache/medallion/bench-venv (PyPI).

#[path = "support/process.rs"]
#[allow(dead_code)] // what this bench does not print: each process's wall time
mod process;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};

/// The argument that makes this binary the raw counting consumer: `<flag> <topic> <events>`.
const RAW_CONSUMER: &str = "--raw-consumer";

fn bootstrap() -> String {
    std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:19092".to_owned())
}

fn medallion() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_medallion"));
    command.env("KAFKA_BOOTSTRAP", bootstrap()).env("MEDALLION_LOG", "warn").env_remove("MEDALLION_CONFIG");
    command
}

/// Counts `events` messages of `topic` and prints the seconds from the first to the last.
fn raw_consumer(topic: &str, events: u64) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap())
            .set("group.id", format!("raw-{}", uuid::Uuid::new_v4().simple()))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        let (mut count, mut first) = (0u64, None);
        while count < events {
            match consumer.recv().await {
                Ok(_) => {
                    first.get_or_insert_with(Instant::now);
                    count += 1;
                }
                Err(error) => eprintln!("raw consumer: {error}"),
            }
        }
        let seconds = first.map_or(f64::NAN, |t| t.elapsed().as_secs_f64());
        println!("{}", serde_json::json!({ "rows": count, "ingest_seconds": seconds }));
    });
}

/// What one side did: its rows and rows/s besides its process's figures.
struct Measured {
    rows: u64,
    rows_per_second: f64,
    cpu_seconds: f64,
    peak_rss_mib: f64,
    summary: serde_json::Value,
}

/// Runs `command` (which prints a JSON summary with `ingest_seconds` and `rows_key`) to its end.
fn measure(name: &str, command: Command, rows_key: &str) -> Measured {
    let process::Measured { cpu_seconds, peak_rss_mib, summary, .. } = process::measure(name, command);
    let rows = summary[rows_key].as_u64().unwrap_or(0);
    let rows_per_second = rows as f64 / summary["ingest_seconds"].as_f64().unwrap_or(f64::NAN);
    Measured { rows, rows_per_second, cpu_seconds, peak_rss_mib, summary }
}

/// The ratio to the raw consumer has three decimals: the floor (0.4×) is checked against
/// it, and two decimals showed 0.396 as 0.40.
fn print_row(name: &str, side: &Measured, raw: &Measured) {
    let cpu_per_million = side.cpu_seconds / (side.rows as f64 / 1e6);
    println!(
        "  {name:<44} {:>10.0} {:>14.2} {:>12.0} {:>10.3}",
        side.rows_per_second,
        cpu_per_million,
        side.peak_rss_mib,
        side.rows_per_second / raw.rows_per_second
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == RAW_CONSUMER) {
        return raw_consumer(&args[at + 1], args[at + 2].parse().expect("events"));
    }
    if args.iter().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and test harness probes
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let events: u64 = std::env::var("BRONZE_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let python = process::python_venv(root);
    let topic = format!("bench-bronze-{}", uuid::Uuid::new_v4().simple());
    let started = Instant::now();
    let status = medallion()
        .args(["produce", "--count", &events.to_string(), "--seed", "1", "--framing", "single-object", "--topic", &topic])
        .status()
        .expect("produce");
    assert!(status.success(), "pre-loading failed: start the dev broker (scripts/dev-broker start) or set KAFKA_BOOTSTRAP");
    eprintln!("pre-loaded {events} events in {:.1}s", started.elapsed().as_secs_f64());

    let mut raw = Command::new(std::env::current_exe().expect("this bench"));
    raw.args([RAW_CONSUMER, &topic, &events.to_string()]);
    let raw = measure("raw consumer", raw, "rows");

    let lake = tempfile::tempdir().expect("lake");
    let mut peer = Command::new(python);
    peer.arg(root.join("bench/python/bronze_peer.py"))
        .args(["--bootstrap", &bootstrap(), "--topic", &topic, "--count", &events.to_string(), "--table"])
        .arg(lake.path().join("python_bronze"));
    let peer = measure("python peer", peer, "rows");

    let mut bronze = medallion();
    bronze
        .args(["bronze", "--until-caught-up", "--json", "--topic", &topic, "--lake"])
        .arg(lake.path().join("lake"))
        .args(["--group", &format!("bronze-{}", uuid::Uuid::new_v4().simple())]);
    let bronze = measure("medallion bronze", bronze, "messages");
    for (name, side) in [("raw", &raw), ("python", &peer), ("bronze", &bronze)] {
        assert_eq!(side.rows, events, "{name} read every message");
    }

    println!("bronze_ingest events={events}");
    println!("  {:<44} {:>10} {:>14} {:>12} {:>10}", "", "rows/s", "CPU-s/M rows", "peak MiB", "vs raw");
    print_row("raw rdkafka consumer (count only)", &raw, &raw);
    print_row("python: confluent-kafka + fastavro + deltalake", &peer, &raw);
    print_row("medallion bronze (decode + Delta)", &bronze, &raw);
    println!("  bronze rows/s / python rows/s:  {:>8.1}×", bronze.rows_per_second / peer.rows_per_second);
    println!("  python CPU / bronze CPU:        {:>8.1}×", peer.cpu_seconds / bronze.cpu_seconds);
    println!("  bronze CPU per row:             {:>8.2} µs", bronze.cpu_seconds / bronze.rows as f64 * 1e6);
    let summary = &bronze.summary;
    println!(
        "  bronze commits={} files={} bytes={}; python commits={}",
        summary["commits"], summary["files"], summary["bytes"], peer.summary["commits"]
    );
}
