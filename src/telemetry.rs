//! Prometheus metrics: defined here and recorded by every stage (cheap atomic updates); the
//! endpoint that serves them is `runtime::serve`, above the stages. The metric types and their
//! encoding come from `prometheus-client`.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabel {
    pub table: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabel {
    pub topic: String,
    pub partition: i64,
}

/// `direction` is `in` or `out`; `stage` is bronze, silver, quarantine, dropped, current or gold.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageRowsLabel {
    pub stage: String,
    pub direction: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabel {
    pub rule: String,
    pub criticality: String,
}

/// `scope` is `batch` (a silver batch) or `day` (a day of `quality_daily`); `table` the metrics
/// table it is recorded in (one per stream).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QualityLabel {
    pub scope: String,
    pub table: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric medallion exposes.
pub struct Metrics {
    registry: Registry,
    /// Messages in Kafka not yet in bronze, per partition (updated every few seconds).
    pub partition_lag: Family<PartitionLabel, Gauge>,
    /// Rows into and out of each stage.
    pub stage_rows: Family<StageRowsLabel, Counter>,
    /// Messages bronze could not decode (kept with their error).
    pub decode_failures: Family<PartitionLabel, Counter>,
    /// Rows failing each rule, as silver checked them.
    pub rule_failures: Family<RuleLabel, Counter>,
    /// Partitions whose first offset after an assignment did not continue the table (a
    /// recreated topic, a failover, retention ahead of bronze), stopped on or accepted.
    pub offset_resets: Family<PartitionLabel, Counter>,
    /// Schema-registry lookups that failed for want of an answer (bronze waits and retries).
    pub registry_failures: Counter,
    /// Time to write and commit one Delta commit, per table.
    pub commit_seconds: HistogramFamily<TableLabel>,
    /// Size of each data file written, per table.
    pub file_bytes: HistogramFamily<TableLabel>,
    /// Time of each maintenance run (compaction, VACUUM, checkpoint, log cleanup), per table.
    pub maintenance_seconds: HistogramFamily<TableLabel>,
    /// Maintenance runs that failed, per table (the stage goes on; the next run retries).
    pub maintenance_failures: Family<TableLabel, Counter>,
    /// Silver batches and days whose share of rows passing the error checks was below
    /// `silver.quality_threshold`.
    pub quality_below_threshold: Family<QualityLabel, Counter>,
    /// The share of rows passing the error checks in the latest batch or day judged.
    pub error_pass_share: Family<QualityLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

fn size_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1024.0, 4.0, 12))
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let (partition_lag, stage_rows, decode_failures, rule_failures) = (Family::default(), Family::default(), Family::default(), Family::default());
    let (offset_resets, registry_failures) = (Family::default(), Counter::default());
    let commit_seconds = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
    let file_bytes = Family::new_with_constructor(size_histogram as fn() -> Histogram);
    let maintenance_seconds = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
    let maintenance_failures = Family::default();
    let (quality_below_threshold, error_pass_share) = (Family::default(), Family::default());
    // Families are shared handles: the registry encodes the same counters the stages update.
    let mut registry = Registry::with_prefix("medallion");
    registry.register("partition_lag", "Messages in Kafka not yet in bronze", partition_lag.clone());
    registry.register("stage_rows", "Rows into and out of each stage", stage_rows.clone());
    registry.register("decode_failures", "Messages bronze could not decode", decode_failures.clone());
    registry.register("rule_failures", "Rows failing each quality rule", rule_failures.clone());
    registry.register("offset_resets", "Partitions that did not continue where bronze ends", offset_resets.clone());
    registry.register("registry_failures", "Schema registry lookups without an answer", registry_failures.clone());
    registry.register("commit_seconds", "Delta write and commit latency", commit_seconds.clone());
    registry.register("file_bytes", "Size of the data files written", file_bytes.clone());
    registry.register("maintenance_seconds", "Table maintenance run time", maintenance_seconds.clone());
    registry.register("maintenance_failures", "Table maintenance runs that failed", maintenance_failures.clone());
    registry.register("quality_below_threshold", "Batches and days below silver.quality_threshold", quality_below_threshold.clone());
    registry.register("error_pass_share", "Share of rows passing the error checks, latest batch or day", error_pass_share.clone());
    Metrics {
        registry,
        partition_lag,
        stage_rows,
        decode_failures,
        rule_failures,
        offset_resets,
        registry_failures,
        commit_seconds,
        file_bytes,
        maintenance_seconds,
        maintenance_failures,
        quality_below_threshold,
        error_pass_share,
    }
});

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    /// Adds `rows` to the `stage`/`direction` counter.
    pub fn rows(&self, stage: &str, direction: &str, rows: u64) {
        self.stage_rows.get_or_create(&StageRowsLabel { stage: stage.to_owned(), direction: direction.to_owned() }).inc_by(rows);
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!(%error, "cannot encode the metrics");
        }
        text
    }
}

/// Logs to standard error through `directives` (an `EnvFilter`, e.g. `info,medallion=debug`;
/// `info` when it does not parse), with our dependencies' noise turned down unless the
/// directives name them; `quiet_kafka` silences librdkafka's own retry log as well.
pub fn init_logging(directives: &str, quiet_kafka: bool, format: LogFormat) {
    let mut filter = directives.to_owned();
    // deltalake warns on every commit that it keeps no statistics for binary columns (raw
    // payloads): expected here. Its kernel (delta_kernel, published as buoyant_kernel) logs every
    // snapshot and scan at info.
    for (named, quieter) in
        [("deltalake", ",deltalake_core::writer::stats=error"), ("delta_kernel", ",delta_kernel=warn"), ("buoyant_kernel", ",buoyant_kernel=warn")]
    {
        if !directives.contains(named) {
            filter.push_str(quieter);
        }
    }
    if quiet_kafka && !directives.contains("rdkafka") {
        filter.push_str(",rdkafka=off,librdkafka=off");
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        // One JSON object per line, with the fields of the event and of every span it is in
        // (`spans`, outermost first), for log shippers.
        LogFormat::Json => logs.json().with_current_span(true).with_span_list(true).init(),
    }
}

/// How log lines are written to stderr (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines, coloured on a terminal.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `fields` (with `message`), `span`, `spans`.
    Json,
}
