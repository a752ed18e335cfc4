//! `medallion status --check`: the status judged against the quality threshold and the health
//! bounds, for cron, systemd or Kubernetes probes. Each breach has an exit code; the check
//! exits with the lowest one found and lists them all.
//!
//! A stage is stale when its input has had something for it for longer than
//! `health.max_commit_age` without it committing: bronze while Kafka holds messages it has not
//! written, silver (and the current state) while bronze (silver) holds a commit made after its
//! own last one. An idle pipeline with nothing waiting is healthy however old its commits.

use std::collections::HashMap;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use serde::Serialize;

use super::status::{Status, StreamStatus, TableStatus};
use crate::config::Config;
use crate::table::TableReader;

/// What is wrong, with its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreachKind {
    /// The latest silver batch passed the error checks below `silver.quality_threshold`.
    BatchQuality = 10,
    /// The latest day of `quality_daily` is below `silver.quality_threshold`.
    DayQuality = 11,
    /// More messages than `health.max_lag` wait in Kafka.
    Lag = 12,
    /// A stage has not committed for `health.max_commit_age` while its input waits.
    Stale = 13,
    /// Kafka or a table could not be read, so health is unknown.
    Unreadable = 14,
}

impl BreachKind {
    pub fn exit_code(self) -> u8 {
        self as u8
    }
}

/// One breach of one stream.
#[derive(Debug, Clone, Serialize)]
pub struct Breach {
    pub stream: String,
    pub kind: BreachKind,
    pub exit_code: u8,
    pub message: String,
}

/// The verdict: healthy, or the breaches and the exit code they map to.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Health {
    pub healthy: bool,
    pub exit_code: u8,
    pub breaches: Vec<Breach>,
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.healthy {
            return writeln!(f, "healthy");
        }
        for breach in &self.breaches {
            writeln!(f, "unhealthy ({}): stream {}: {}", breach.exit_code, breach.stream, breach.message)?;
        }
        Ok(())
    }
}

/// Judges `status` (collected for `config`) against the threshold and bounds of `config`.
pub async fn check(config: &Config, status: &Status) -> Health {
    let now = chrono::Utc::now().timestamp_millis();
    let mut breaches = Vec::new();
    for ((_, view), stream) in config.views().into_iter().zip(&status.streams) {
        let mut found = Vec::new();
        check_reads(stream, &mut found);
        check_lag(view.health.max_lag, stream, &mut found);
        check_staleness(&view, stream, now, &mut found).await;
        check_batch_quality(&view, stream, &mut found).await;
        check_day_quality(view.silver.quality_threshold, stream, &mut found);
        breaches.extend(found.into_iter().map(|(kind, message)| Breach {
            stream: stream.stream.clone(),
            kind,
            exit_code: kind.exit_code(),
            message,
        }));
    }
    breaches.sort_by_key(|b| b.kind);
    let exit_code = breaches.first().map_or(0, |b| b.exit_code);
    Health { healthy: breaches.is_empty(), exit_code, breaches }
}

type Found = Vec<(BreachKind, String)>;

fn check_reads(stream: &StreamStatus, found: &mut Found) {
    if let Some(error) = &stream.kafka.error {
        found.push((BreachKind::Unreadable, format!("cannot read topic {}: {error}", stream.kafka.topic)));
    }
    for table in stream.tables.iter().filter(|t| t.error.is_some()) {
        found.push((BreachKind::Unreadable, format!("cannot read table {}: {}", table.table, table.error.as_deref().unwrap_or_default())));
    }
}

fn check_lag(max_lag: u64, stream: &StreamStatus, found: &mut Found) {
    let lag = stream.kafka.total_lag.max(0) as u64;
    if stream.kafka.error.is_none() && lag > max_lag {
        let worst = stream.kafka.partitions.iter().max_by_key(|p| p.lag).map(|p| format!(" (partition {}: {})", p.partition, p.lag));
        found.push((
            BreachKind::Lag,
            format!(
                "{lag} messages of topic {} are not in bronze yet{}, more than health.max_lag {max_lag}",
                stream.kafka.topic,
                worst.unwrap_or_default()
            ),
        ));
    }
}

fn table<'a>(stream: &'a StreamStatus, role: &str) -> Option<&'a TableStatus> {
    stream.tables.iter().find(|t| t.table == role)
}

fn commit_millis(table: Option<&TableStatus>) -> Option<i64> {
    let text = table?.last_commit.as_deref()?;
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.timestamp_millis())
}

async fn check_staleness(config: &Config, stream: &StreamStatus, now: i64, found: &mut Found) {
    let bound = config.health.max_commit_age;
    let bound_millis = bound.as_millis() as i64;
    let late = |since: i64| now - since > bound_millis;
    let bronze = commit_millis(table(stream, "bronze"));
    if stream.kafka.error.is_none() && stream.kafka.total_lag > 0 && bronze.is_none_or(late) {
        let last = bronze.map_or_else(|| "has never committed".to_owned(), |t| format!("last committed {}", ago(now, t)));
        found.push((
            BreachKind::Stale,
            format!(
                "bronze {last} while {} messages wait in Kafka (health.max_commit_age {})",
                stream.kafka.total_lag,
                humantime::format_duration(bound)
            ),
        ));
    }
    for (stage, upstream) in [("silver", "bronze"), ("current", "silver")] {
        let Some(upstream_path) = config.stream().tables.all().into_iter().find(|(role, _)| *role == upstream).map(|(_, path)| path.to_owned())
        else {
            continue;
        };
        let own = commit_millis(table(stream, stage));
        let location = config.lake.table_location(&upstream_path);
        if let Some(waiting) = waiting_since(&location, config.lake.storage_options(), own).await
            && late(waiting)
        {
            let last = own.map_or_else(|| "has never committed".to_owned(), |t| format!("last committed {}", ago(now, t)));
            found.push((
                BreachKind::Stale,
                format!(
                    "{stage} {last}; {upstream} has held a newer commit for {} (health.max_commit_age {})",
                    since(now, waiting),
                    humantime::format_duration(bound)
                ),
            ));
        }
    }
}

/// Most commits walked back to find where a stage's waiting began.
const MAX_COMMITS_WALKED: u64 = 256;

/// When the oldest commit of the table at `location` made after `after` (milliseconds) was
/// made; `None` when there is none (or no table).
async fn waiting_since(location: &str, storage_options: HashMap<String, String>, after: Option<i64>) -> Option<i64> {
    let reader = TableReader::open(location, storage_options).await.ok().flatten()?;
    let latest = reader.version();
    let mut oldest_after = None;
    for version in (latest.saturating_sub(MAX_COMMITS_WALKED)..=latest).rev() {
        let Some(time) = reader.entry(version).await.ok().and_then(|entry| entry.timestamp) else { break };
        if after.is_some_and(|after| time <= after) {
            break;
        }
        oldest_after = Some(time);
    }
    oldest_after
}

fn ago(now: i64, then: i64) -> String {
    format!("{} ago", since(now, then))
}

fn since(now: i64, then: i64) -> String {
    humantime::format_duration(std::time::Duration::from_secs(((now - then).max(0) / 1000) as u64)).to_string()
}

/// The latest silver batch (the `batch` row with the highest bronze version) against the
/// threshold, from its totals (tables written before the gate have no share column).
async fn check_batch_quality(config: &Config, stream: &StreamStatus, found: &mut Found) {
    if !table(stream, "quality_metrics").is_some_and(|t| t.exists) {
        return;
    }
    let location = config.lake.table_location(&config.stream().tables.quality_metrics);
    let Some(reader) = TableReader::open(&location, config.lake.storage_options()).await.ok().flatten() else { return };
    let rows = match reader.read_all(&crate::silver::metrics_schema()).await {
        Ok(rows) => rows,
        Err(error) => return found.push((BreachKind::Unreadable, format!("cannot read quality_metrics: {error}"))),
    };
    let long = |name: &str| rows.column_by_name(name).and_then(|c| c.as_primitive_opt::<Int64Type>()).cloned();
    let (Some(kind), Some(to), Some(input), Some(undecodable), Some(errors)) = (
        rows.column_by_name("kind").and_then(|c| c.as_string_opt::<i32>()).cloned(),
        long("bronze_version_to"),
        long("input_rows"),
        long("undecodable_rows"),
        long("error_rows"),
    ) else {
        return;
    };
    let latest = (0..rows.num_rows()).filter(|row| kind.value(*row) == "batch" && input.is_valid(*row)).max_by_key(|row| to.value(*row));
    let Some(row) = latest else { return };
    let as_count = |column: &arrow::array::Int64Array| column.value(row).max(0) as u64;
    let counts = crate::silver::RowCounts {
        input: as_count(&input),
        undecodable: as_count(&undecodable),
        with_errors: as_count(&errors),
        ..Default::default()
    };
    let threshold = config.silver.quality_threshold;
    if let Some(share) = counts.error_pass_share().filter(|share| *share < threshold) {
        found.push((
            BreachKind::BatchQuality,
            format!(
                "the latest silver batch (bronze version {}) passed the error checks on {share:.4} of its {} rows, below silver.quality_threshold {threshold}",
                to.value(row),
                counts.input
            ),
        ));
    }
}

fn check_day_quality(threshold: f64, stream: &StreamStatus, found: &mut Found) {
    let Some(day) = &stream.quality else { return };
    let Some(share) = day.error_pass_share else { return };
    if share < threshold {
        found.push((
            BreachKind::DayQuality,
            format!("{} passed the error checks on {share:.4} of its {} rows, below silver.quality_threshold {threshold}", day.day, day.rows),
        ));
    }
}
