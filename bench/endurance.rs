//! Months of running in minutes: `ENDURANCE_COMMITS` (default 20,000) small bronze commits of
//! `ENDURANCE_ROWS` events each (default 20), silver and a gold refresh following every
//! `ENDURANCE_GOLD_EVERY` commits (default 100), with maintenance on and then off, in the same
//! run (the run without maintenance stops after `ENDURANCE_OFF_COMMITS`, default 1,000: its
//! commits slow down as the table grows), on a local lake. No broker: bronze batches are built by
//! bronze's own batch builder from generated, encoded events and committed through bronze's
//! table, as the writer task does.
//!
//! Per window of `ENDURANCE_WINDOW` commits (default 1,000) it prints bronze commit latency
//! p50/p99, the gold refresh time and rows it wrote, live versus on-disk bytes and file counts per
//! table, `_delta_log` files, the object-store listing calls per bronze commit (inside the commit,
//! and in all: silver, gold and maintenance included; counted by a wrapper around the local store),
//! and the process RSS; then the floors for the maintained run.
//! Retentions are scaled down to the simulated time (maintenance every 3 s, logs kept 20 s,
//! removed files 10 s), and file sizes to the simulated data rate (about a twentieth of one
//! Event Hubs throughput unit): files below 1 MiB are compacted into files of up to 8 MiB, and
//! the current state and `order_status` are kept in files of 2,000 rows.

mod counting_store;

/// The binary's allocator (see `Cargo.toml`), so the bench measures what `medallion` does.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use medallion::bronze::{BronzeBatchBuilder, DecoderFactory, KafkaMessage, PARTITION_COLUMN, app_id, batch};
use medallion::config::Config;
use medallion::encode::RecordEncoder;
use medallion::framing::SchemaRef;
use medallion::generate::{Generator, GeneratorSettings};
use medallion::maintain::Maintainer;
use medallion::schema::SchemaCatalog;
use medallion::table::{StageTable, TableReader};
use tokio_util::sync::CancellationToken;

const PARTITIONS: i32 = 8;
const TOPIC: &str = "endurance";

#[derive(Clone, Copy)]
struct Settings {
    commits: usize,
    rows: usize,
    window: usize,
    gold_every: usize,
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One window's figures.
#[derive(Debug, Default, Clone)]
struct Window {
    commits: usize,
    p50_ms: f64,
    p99_ms: f64,
    gold_ms: f64,
    gold_rows_written: u64,
    /// Object-store listings per bronze commit: inside the commit, and in the whole window.
    commit_lists: f64,
    all_lists: f64,
    /// Rows of the current state after the window's first and last refresh.
    first_current_rows: u64,
    current_rows: u64,
    tables: Vec<TableFigures>,
    rss_mib: f64,
}

#[derive(Debug, Default, Clone)]
struct TableFigures {
    name: &'static str,
    live_bytes: u64,
    disk_bytes: u64,
    live_files: usize,
    disk_files: usize,
    log_files: usize,
    log_bytes: u64,
}

fn main() -> anyhow::Result<()> {
    let settings = Settings {
        commits: env_or("ENDURANCE_COMMITS", 20_000),
        rows: env_or("ENDURANCE_ROWS", 20),
        window: env_or("ENDURANCE_WINDOW", 1_000),
        gold_every: env_or("ENDURANCE_GOLD_EVERY", 100),
    };
    counting_store::install();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut runs = Vec::new();
    for maintained in [true, false] {
        let started = Instant::now();
        // Without maintenance a commit's cost grows with the table: the run is cut short.
        let commits = if maintained { settings.commits } else { env_or("ENDURANCE_OFF_COMMITS", settings.commits.min(1_000)) };
        // Five windows at least, so that the shorter run has a first and a last to compare.
        let window = settings.window.min((commits / 5).max(1));
        let windows = runtime.block_on(simulate(&Settings { commits, window, ..settings }, maintained))?;
        println!("\n== maintenance {} ({:.0} s) ==", if maintained { "on" } else { "off" }, started.elapsed().as_secs_f64());
        print_windows(&windows);
        runs.push((maintained, windows));
    }
    for (maintained, windows) in &runs {
        print_floors(*maintained, windows);
    }
    Ok(())
}

async fn simulate(settings: &Settings, maintained: bool) -> anyhow::Result<Vec<Window>> {
    let lake = tempfile::tempdir()?;
    let config = lake_config(lake.path(), maintained);
    let decoder = DecoderFactory::from_config(&config).decoder()?;
    let mut builder = BronzeBatchBuilder::new(decoder)?;
    let location = config.lake.table_location(&config.bronze.table);
    let mut bronze = StageTable::open_or_create(&location, HashMap::new(), builder.schema(), &[PARTITION_COLUMN])
        .await?
        .with_writer_properties(batch::writer_properties(&builder.schema()));
    let generator_settings = GeneratorSettings { seed: 42, invalid_ratio: 0.05, start_time: None, rate: 0, time_scale: 1.0 };
    let mut generator = Generator::new(&generator_settings);
    let entry = SchemaCatalog::purchase_orders().latest().context("no schema")?;
    let encoder = RecordEncoder::new(entry, SchemaRef::RegistryId(entry.embedded.version))?;
    let (mut offsets, mut maintainer) = ([0i64; PARTITIONS as usize], Maintainer::new(&config));
    let (mut gold, mut gold_maintainer) = (None, Maintainer::new(&config));
    let (mut latencies, mut gold_runs, mut windows) = (Vec::new(), Vec::new(), Vec::new());
    let (mut commit_lists, mut window_start) = (0u64, counting_store::counts());
    for commit in 1..=settings.commits {
        let mut touched = HashMap::new();
        for _ in 0..settings.rows {
            let event = generator.next_event();
            let mut payload = Vec::new();
            encoder.encode(&event.item, &mut payload)?;
            let partition = event.key().map_or(0, |key| (key.iter().map(|b| u32::from(*b)).sum::<u32>() % PARTITIONS as u32) as i32);
            let offset = offsets[partition as usize];
            offsets[partition as usize] += 1;
            let message =
                KafkaMessage { topic: TOPIC, partition, offset, timestamp_ms: None, key: event.key(), headers: &[], payload: Some(&payload) };
            builder.push(&message);
            touched.insert(partition, offset);
        }
        let rows = builder.finish(chrono::Utc::now())?;
        let positions: Vec<(String, i64)> = touched.iter().map(|(p, o)| (app_id(TOPIC, *p), *o)).collect();
        let (started, before) = (Instant::now(), counting_store::counts());
        bronze.append(&[rows], &positions).await?;
        latencies.push(started.elapsed());
        commit_lists += (counting_store::counts() - before).lists;
        maintainer.maintain_if_due(&mut bronze).await;
        if commit % settings.gold_every == 0 {
            medallion::silver::run(&config, true, CancellationToken::new()).await?;
            let gold = match &mut gold {
                Some(gold) => gold,
                None => gold.insert(medallion::gold::Gold::open(&config).await?),
            };
            let started = Instant::now();
            let summary = gold.refresh().await?;
            let elapsed = started.elapsed();
            gold.maintain(&mut gold_maintainer).await;
            let written: u64 = summary.tables.iter().map(|t| t.rows).sum();
            gold_runs.push((elapsed, written, current_rows(&config).await?));
        }
        if commit % settings.window == 0 {
            let mut figures = window(&config, commit, &mut latencies, &mut gold_runs).await?;
            let all_lists = (counting_store::counts() - window_start).lists;
            figures.commit_lists = commit_lists as f64 / settings.window as f64;
            figures.all_lists = all_lists as f64 / settings.window as f64;
            (commit_lists, window_start) = (0, counting_store::counts());
            windows.push(figures);
        }
    }
    Ok(windows)
}

/// Rows of the current state, from its files' statistics.
async fn current_rows(config: &Config) -> anyhow::Result<u64> {
    let location = config.lake.table_location(&config.gold.current_table);
    let reader = TableReader::open(&location, HashMap::new()).await?.context("no current table")?;
    Ok(reader.live_files()?.iter().map(|(_, rows)| rows.unwrap_or(0) as u64).sum())
}

fn lake_config(root: &Path, maintained: bool) -> Config {
    let mut config = Config::default();
    config.lake.root = root.display().to_string();
    config.kafka.topic = TOPIC.to_owned();
    let maintenance = &mut config.maintenance;
    maintenance.enabled = maintained;
    maintenance.interval = Duration::from_secs(3);
    maintenance.log_retention = Duration::from_secs(20);
    maintenance.vacuum_retention = Duration::from_secs(10);
    maintenance.small_file_bytes = 1 << 20;
    maintenance.target_file_bytes = 8 << 20;
    maintenance.max_compaction_bytes = 64 << 20;
    config.gold.file_rows = 2_000;
    config
}

async fn window(config: &Config, commits: usize, latencies: &mut Vec<Duration>, gold_runs: &mut Vec<(Duration, u64, u64)>) -> anyhow::Result<Window> {
    latencies.sort();
    let quantile =
        |q: f64| latencies.get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1))).map_or(0.0, |d| d.as_secs_f64() * 1e3);
    let mut gold_times: Vec<f64> = gold_runs.iter().map(|(d, _, _)| d.as_secs_f64() * 1e3).collect();
    gold_times.sort_by(f64::total_cmp);
    let figures = Window {
        commits,
        p50_ms: quantile(0.5),
        p99_ms: quantile(0.99),
        gold_ms: gold_times.get(gold_times.len() / 2).copied().unwrap_or(0.0),
        gold_rows_written: gold_runs.iter().map(|(_, w, _)| *w).sum::<u64>() / gold_runs.len().max(1) as u64,
        first_current_rows: gold_runs.first().map_or(0, |(_, _, c)| *c),
        current_rows: gold_runs.last().map_or(0, |(_, _, c)| *c),
        tables: table_figures(config).await?,
        rss_mib: rss_mib(),
        ..Window::default()
    };
    latencies.clear();
    gold_runs.clear();
    Ok(figures)
}

async fn table_figures(config: &Config) -> anyhow::Result<Vec<TableFigures>> {
    let order_status = medallion::gold::model::table_path("order_status");
    let tables = [
        ("bronze", &config.bronze.table),
        ("silver", &config.silver.table),
        ("current", &config.gold.current_table),
        ("order_status", &order_status),
    ];
    let mut figures = Vec::new();
    for (name, table) in tables {
        let location = config.lake.table_location(table);
        let mut found = TableFigures { name, ..TableFigures::default() };
        if let Some(reader) = TableReader::open(&location, HashMap::new()).await? {
            let live = reader.live_files()?;
            found.live_files = live.len();
            found.live_bytes = live.iter().map(|(f, _)| f.size).sum();
        }
        let (files, bytes, logs) = disk_usage(Path::new(&location));
        (found.disk_files, found.disk_bytes, found.log_files) = (files, bytes, logs);
        found.log_bytes = disk_usage(&Path::new(&location).join("_delta_log")).1;
        figures.push(found);
    }
    Ok(figures)
}

/// Data files, bytes of everything, and `_delta_log` files under a table's directory.
fn disk_usage(dir: &Path) -> (usize, u64, usize) {
    let (mut files, mut bytes, mut logs) = (0, 0, 0);
    let Ok(entries) = std::fs::read_dir(dir) else { return (0, 0, 0) };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            let (f, b, l) = disk_usage(&path);
            let in_log = path.file_name().is_some_and(|n| n == "_delta_log");
            (files, bytes, logs) = (files + if in_log { 0 } else { f }, bytes + b, logs + if in_log { f } else { l });
        } else {
            files += 1;
            bytes += entry.metadata().map_or(0, |m| m.len());
        }
    }
    (files, bytes, logs)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 =
        status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    kib / 1024.0
}

fn print_windows(windows: &[Window]) {
    println!(
        "{:>7} {:>8} {:>8} {:>9} {:>9} {:>9} {:>7} {:>13}  per table: live MiB / disk MiB, live files / data files, log files",
        "commits", "p50 ms", "p99 ms", "gold ms", "gold rows", "current", "RSS MiB", "lists/commit"
    );
    for w in windows {
        let tables: Vec<String> = w
            .tables
            .iter()
            .map(|t| {
                format!(
                    "{} {:.1}/{:.1} MiB ({:.1} log) {}/{} files {} log",
                    t.name,
                    mib(t.live_bytes),
                    mib(t.disk_bytes),
                    mib(t.log_bytes),
                    t.live_files,
                    t.disk_files,
                    t.log_files
                )
            })
            .collect();
        println!(
            "{:>7} {:>8.2} {:>8.2} {:>9.1} {:>9} {:>9} {:>7.0} {:>6.2}/{:<6.2}  {}",
            w.commits,
            w.p50_ms,
            w.p99_ms,
            w.gold_ms,
            w.gold_rows_written,
            w.current_rows,
            w.rss_mib,
            w.commit_lists,
            w.all_lists,
            tables.join("; ")
        );
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// The floors, first window against last.
fn print_floors(maintained: bool, windows: &[Window]) {
    let (Some(first), Some(last)) = (windows.first(), windows.last()) else { return };
    println!("\n== floors, maintenance {} ==", if maintained { "on" } else { "off" });
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let p99 = last.p99_ms / first.p99_ms.max(1e-9);
    println!("commit p99 last/first: {p99:.2} (floor <= 1.25): {}", verdict(p99 <= 1.25));
    // Every refresh merges the same increment (ENDURANCE_GOLD_EVERY commits); the growth counts
    // from the current state at the first refresh.
    if first.gold_ms == 0.0 {
        println!("gold refresh: none in the first window (ENDURANCE_GOLD_EVERY > ENDURANCE_WINDOW)");
    }
    let gold = last.gold_ms / first.gold_ms.max(1e-9);
    let growth = last.current_rows as f64 / first.first_current_rows.max(1) as f64;
    println!(
        "gold refresh p50 last/first window: {gold:.2} (floor <= 1.5) while the current state grew {growth:.0}x, {} -> {} rows (floor >= 100x): {}",
        first.first_current_rows,
        last.current_rows,
        verdict(gold <= 1.5 && growth >= 100.0)
    );
    for table in &last.tables {
        let ratio = table.disk_bytes as f64 / table.live_bytes.max(1) as f64;
        println!("{}: disk/live bytes {ratio:.2} (floor <= 2): {}; {} log files", table.name, verdict(ratio <= 2.0), table.log_files);
    }
    println!(
        "object-store listings per bronze commit, first/last window: {:.2}/{:.2} in the commit, {:.2}/{:.2} in all",
        first.commit_lists, last.commit_lists, first.all_lists, last.all_lists
    );
    let rss = last.rss_mib / first.rss_mib.max(1e-9);
    println!("RSS last/first: {rss:.2} (floor <= 1.2): {}", verdict(rss <= 1.2));
}
