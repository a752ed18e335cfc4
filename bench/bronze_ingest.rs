//! End-to-end ingest: bronze rows/s versus a raw rdkafka consumer that only counts messages,
//! on the same pre-loaded topic in the same run, plus bronze's peak RSS.
//!
//!   scripts/dev-broker start
//!   cargo bench --bench bronze_ingest                          # 1,000,000 events
//!   BRONZE_BENCH_EVENTS=200000 cargo bench --bench bronze_ingest
//!
//! Both sides are timed from their first message to their last (group join and start-up excluded).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};

fn bootstrap() -> String {
    std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:19092".to_owned())
}

fn medallion() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_medallion"));
    command.env("KAFKA_BOOTSTRAP", bootstrap()).env("MEDALLION_LOG", "warn").env_remove("MEDALLION_CONFIG");
    command
}

/// Messages/s of a consumer that only counts, from its first message to the `events`-th.
async fn raw_consumer_rate(topic: &str, events: u64) -> f64 {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", format!("raw-{}", uuid::Uuid::new_v4().simple()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "1000")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut count = 0u64;
    let mut first = None;
    while count < events {
        match consumer.recv().await {
            Ok(_) => {
                first.get_or_insert_with(Instant::now);
                count += 1;
            }
            Err(error) => eprintln!("raw consumer: {error}"),
        }
    }
    events as f64 / first.map_or(f64::NAN, |t| t.elapsed().as_secs_f64())
}

/// Peak resident memory (VmHWM) of a running process, in MiB.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and test harness probes
    }
    let events: u64 = std::env::var("BRONZE_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let topic = format!("bench-bronze-{}", uuid::Uuid::new_v4().simple());
    let started = Instant::now();
    let status = medallion().args(["produce", "--count", &events.to_string(), "--seed", "1", "--topic", &topic]).status().expect("produce");
    assert!(status.success(), "pre-loading failed: start the dev broker (scripts/dev-broker start) or set KAFKA_BOOTSTRAP");
    eprintln!("pre-loaded {events} events in {:.1}s", started.elapsed().as_secs_f64());

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let raw_rate = runtime.block_on(raw_consumer_rate(&topic, events));

    let lake = tempfile::tempdir().expect("lake");
    let mut child = medallion()
        .args(["bronze", "--until-caught-up", "--json", "--topic", &topic, "--lake"])
        .arg(lake.path())
        .args(["--group", &format!("bronze-{}", uuid::Uuid::new_v4().simple())])
        .stdout(Stdio::piped())
        .spawn()
        .expect("bronze");
    let mut peak = 0.0f64;
    while child.try_wait().expect("wait").is_none() {
        peak = peak.max(peak_rss_mib(child.id()).unwrap_or(0.0));
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("bronze output");
    assert!(output.status.success(), "bronze failed");
    let summary: serde_json::Value = serde_json::from_slice(output.stdout.trim_ascii()).expect("summary");
    let rows = summary["messages"].as_u64().unwrap_or(0);
    assert_eq!(rows, events, "bronze wrote every message");
    let bronze_rate = rows as f64 / summary["ingest_seconds"].as_f64().unwrap_or(f64::NAN);
    println!("bronze_ingest events={events}");
    println!("  raw rdkafka consumer (count only): {raw_rate:>10.0} msg/s");
    println!("  medallion bronze (decode + Delta):  {bronze_rate:>10.0} rows/s");
    println!("  ratio bronze/raw:                   {:>10.2}", bronze_rate / raw_rate);
    println!("  bronze peak RSS:                    {peak:>10.0} MiB");
    println!("  commits={} files={} bytes={}", summary["commits"], summary["files"], summary["bytes"]);
}
