//! The silver stage beside `medallion rules apply` on the same rows, in one run: silver's
//! built-in purchase-order rules (rules/purchase_orders.yml) over a bronze table of 1M events,
//! (1) by `rules apply` file to file, on bronze's decoded rows exported to Parquet, (2) by
//! `medallion silver --until-caught-up` from the bronze table into a fresh silver (reading
//! bronze, checking, writing silver, quarantine and metrics with their Delta commits). Each runs
//! as a process of its own; the verdict counts must agree (a speed-up never changes a result).
//!
//!   scripts/dev-broker start
//!   cargo bench --bench silver_vs_rules                        # produces and ingests 1M events
//!   SILVER_BENCH_EVENTS=200000 cargo bench --bench silver_vs_rules
//!   SILVER_BENCH_LAKE=/path/to/lake cargo bench --bench silver_vs_rules   # its bronze, no broker
//!
//! The export uses the benches' Python venv (bench/python/requirements.txt: `deltalake`).

#[path = "support/process.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Bronze's decoded rows, without the columns bronze adds of its own (but the Kafka coordinates
/// silver keeps), to Parquet: `<bronze table> <output>`.
const EXPORT: &str = r#"
import sys
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable
own = {"kafka_topic", "kafka_key", "kafka_headers", "raw_payload", "payload_size_bytes", "schema_ref",
       "ingestion_timestamp", "consumer_group", "worker_host", "worker_pid", "ingestion_hour", "ingestion_date"}
dataset = DeltaTable(sys.argv[1]).to_pyarrow_dataset()
rows = dataset.to_table(columns=[name for name in dataset.schema.names if name not in own])
# Filtered here, not in to_table: deltalake 1.6's dataset takes a text column without file
# statistics (bronze writes none for text) as never null, and keeps no row.
rows = rows.filter(pc.is_null(rows["decode_error"])).drop_columns(["decode_error"])
pq.write_table(rows, sys.argv[2], row_group_size=131_072)
"#;

fn medallion() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_medallion"));
    command.env("MEDALLION_LOG", "warn").env_remove("MEDALLION_CONFIG");
    command
}

/// A lake whose bronze holds `events` purchase orders, produced to and ingested from the broker
/// at `KAFKA_BOOTSTRAP`.
fn ingested_lake(events: u64, lake: &Path) {
    let topic = format!("bench-silver-{}", uuid::Uuid::new_v4().simple());
    let produced = medallion().args(["produce", "--count", &events.to_string(), "--seed", "1", "--rate", "0", "--topic", &topic]).status();
    assert!(
        produced.expect("produce").success(),
        "pre-loading failed: start the dev broker (scripts/dev-broker start), set KAFKA_BOOTSTRAP, or set SILVER_BENCH_LAKE"
    );
    let group = format!("bronze-{}", uuid::Uuid::new_v4().simple());
    let ingested = medallion().args(["bronze", "--until-caught-up", "--topic", &topic, "--group", &group, "--lake"]).arg(lake).status();
    assert!(ingested.expect("bronze").success(), "bronze failed");
}

fn print_row(name: &str, side: &process::Measured) {
    println!("  {name:<52} {:>8.2} {:>8.2} {:>9.0}", side.wall_seconds, side.cpu_seconds, side.peak_rss_mib);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and test harness probes
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().expect("work directory");
    let lake = match std::env::var("SILVER_BENCH_LAKE") {
        Ok(lake) => PathBuf::from(lake),
        Err(_) => {
            let events: u64 = std::env::var("SILVER_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
            let lake = work.path().join("lake");
            ingested_lake(events, &lake);
            lake
        }
    };
    let silver_log = lake.join("silver/purchase_order_items/_delta_log");
    assert!(!silver_log.exists(), "{} exists: silver is measured from the start of bronze", silver_log.display());
    let rows = work.path().join("bronze_rows.parquet");
    let exported = Command::new(process::python_venv(root)).args(["-c", EXPORT]).arg(lake.join("bronze/purchase_order_items")).arg(&rows).status();
    assert!(exported.expect("python").success(), "exporting bronze's rows failed");

    let mut apply = medallion();
    apply.args(["--json", "rules", "apply", "--run-id", "bench", "--rules"]).arg(root.join("rules/purchase_orders.yml"));
    apply.arg("--input").arg(&rows).arg("--output").arg(work.path().join("applied.parquet"));
    let apply = process::measure("rules apply", apply);
    let mut silver = medallion();
    silver.args(["--json", "silver", "--until-caught-up", "--lake"]).arg(&lake);
    let silver = process::measure("silver", silver);

    let counts = &silver.summary["rows"];
    let verdicts = |errors: &serde_json::Value, warnings: &serde_json::Value| (errors.as_u64(), warnings.as_u64());
    let ours = verdicts(&apply.summary["with_errors"], &apply.summary["with_warnings"]);
    println!("silver_vs_rules rows={} bronze={}", apply.summary["rows"], lake.display());
    println!("  {:<52} {:>8} {:>8} {:>9}", "", "wall s", "CPU s", "peak MiB");
    print_row("medallion rules apply (file to file)", &apply);
    print_row("medallion silver --until-caught-up (Delta to Delta)", &silver);
    println!("  silver wall / rules apply wall: {:.2}×", silver.wall_seconds / apply.wall_seconds);
    println!("  verdicts (errors, warnings): rules apply {ours:?}, silver {:?}", verdicts(&counts["with_errors"], &counts["with_warnings"]));
    let decoded = counts["input"].as_u64().zip(counts["undecodable"].as_u64()).map(|(input, undecodable)| input - undecodable);
    assert_eq!(apply.summary["rows"].as_u64(), decoded, "the same rows on both sides");
    assert_eq!(ours, verdicts(&counts["with_errors"], &counts["with_warnings"]), "the verdict counts differ");
}
