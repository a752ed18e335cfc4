//! The command line: clap definitions, and the flags turned into the top configuration layer.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use medallion::config::{Output, SilverMode, parse_start_time};
use medallion::framing::Framing;
use medallion::produce::StreamKind;

/// Exactly-once Kafka → Delta Lake medallion for purchase-order events.
#[derive(Debug, Parser)]
#[command(name = "medallion", version, about)]
pub struct Cli {
    /// YAML configuration file (defaults → file → environment → flags).
    #[arg(long, global = true, env = "MEDALLION_CONFIG")]
    pub config: Option<PathBuf>,
    /// Kafka topic (kafka.topic).
    #[arg(long, global = true)]
    pub topic: Option<String>,
    /// Consumer group (kafka.group_id).
    #[arg(long, global = true)]
    pub group: Option<String>,
    /// Lake root (lake.root).
    #[arg(long, global = true)]
    pub lake: Option<String>,
    /// Only this stream (a name in `streams:`; without that section `purchase_orders`). `produce`
    /// and `rules check` take any built-in stream: purchase_orders (the default) or payments.
    #[arg(long, global = true)]
    pub stream: Option<String>,
    /// Print one JSON summary object on standard output at the end.
    #[arg(long, global = true)]
    pub json: bool,
    /// Serve Prometheus metrics on http://ADDR/metrics (metrics_addr).
    #[arg(long, global = true)]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `medallion=debug`.
    #[arg(long, global = true, env = "MEDALLION_LOG", default_value = "info")]
    pub log: String,
    /// How log lines are written: `text`, or `json` (one object per line, with span fields) for
    /// log shippers.
    #[arg(long, global = true, env = "MEDALLION_LOG_FORMAT", value_enum, default_value_t)]
    pub log_format: medallion::telemetry::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate purchase orders and send them to Kafka (or a file or standard output).
    Produce(ProduceArgs),
    /// Run the bronze consumer-group worker: every message into the bronze Delta table.
    Bronze(StageArgs),
    /// Run the quality stage: bronze checked by DQX rules into silver, quarantine and metrics.
    Silver(SilverArgs),
    /// Refresh the current-state and gold tables from silver (commits nothing when they are up to date).
    Gold(GoldArgs),
    /// Run bronze → silver → gold in one process, side by side (with --until-caught-up: each to
    /// the end, in turn, then stop).
    Run(RunArgs),
    /// Per partition: offset in Delta, committed offset, high watermark and lag; each table's
    /// version, rows and last commit; the last day's quality. With --check, a health check.
    Status(StatusArgs),
    /// What the lake holds, read back from its tables: rows per layer, failures by rule, top
    /// products, order completion; with --html, as a page of charts.
    Report(ReportArgs),
    /// Compact small files, VACUUM removed ones, checkpoint and clean up expired logs, for every
    /// table of the lake (or one), keeping what a downstream stage has not read yet.
    Maintain(MaintainArgs),
    /// Copy the lake's quality and pipeline metrics elsewhere, exactly once.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Quality rules in Databricks DQX YAML.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Inspect configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Into PostgreSQL: quality_metrics, quality_daily, every stage table's commits and Kafka
    /// lag, each with its export position in the same transaction (tables created if missing).
    Postgres {
        /// Connection URL, e.g. postgres://user:password@host:5432/db (export.postgres.url;
        /// prefer MEDALLION_EXPORT__POSTGRES__URL: a flag shows in the process list). Never printed.
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate a rules file, columns and SQL included; every problem is listed with its rule and
    /// field. Exits 2 if there is any.
    Check {
        /// The rules file (DQX YAML).
        file: PathBuf,
        /// Resolve columns against this Parquet file's schema instead of the bronze table's (of
        /// the stream --stream names, by default the first one).
        #[arg(long)]
        input: Option<PathBuf>,
    },
    /// Apply rules to a Parquet file and write it with the result columns (the engine silver uses).
    Apply {
        /// The rules file (DQX YAML).
        #[arg(long)]
        rules: PathBuf,
        /// Parquet file to check.
        #[arg(long)]
        input: PathBuf,
        /// Parquet file to write: the input columns, `_errors`, `_warnings` and the verdict columns.
        #[arg(long)]
        output: PathBuf,
        /// `run_id` stamped on every result (default: a new UUID).
        #[arg(long)]
        run_id: Option<String>,
        /// The run time (RFC 3339): stamped on every result and what clock checks compare with
        /// (default: now). Replaying a file at the time of an earlier run gives its verdicts.
        #[arg(long, value_parser = parse_run_time)]
        run_time: Option<chrono::DateTime<chrono::Utc>>,
    },
}

fn parse_run_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .map_err(|e| format!("{text:?} is not an RFC 3339 time (2026-06-01T12:00:00Z): {e}"))
}

/// Flags shared by the consuming stages.
#[derive(Debug, Args, Default)]
pub struct StageArgs {
    /// Stop once every assigned partition reaches the high watermark seen at start, after committing.
    #[arg(long)]
    pub until_caught_up: bool,
}

/// Flags of `medallion silver`.
#[derive(Debug, Args, Default)]
pub struct SilverArgs {
    /// Stop once the bronze version current at start is checked and committed.
    #[arg(long)]
    pub until_caught_up: bool,
    #[command(flatten)]
    pub silver: SilverRules,
}

/// Flags of `medallion run`.
#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// Bronze to the high watermarks seen at start, then silver, then gold, each to the end of
    /// what the previous one committed; then stop.
    #[arg(long)]
    pub until_caught_up: bool,
    /// The silver stage's flags (--rules, --mode).
    #[command(flatten)]
    pub silver: SilverRules,
}

/// The rules and mode of the silver stage, shared by `silver` and `run`.
#[derive(Debug, Args, Default)]
pub struct SilverRules {
    /// DQX YAML rules file (silver.rules; default: the built-in purchase-order rules).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// What happens to rows with errors (silver.mode).
    #[arg(long, value_enum)]
    pub mode: Option<SilverMode>,
}

/// Flags of `medallion gold`.
#[derive(Debug, Args, Default)]
pub struct GoldArgs {
    /// Keep refreshing every `gold.interval` until SIGINT/SIGTERM instead of refreshing once.
    #[arg(long)]
    pub watch: bool,
}

/// Flags of `medallion maintain`.
#[derive(Debug, Args, Default)]
pub struct MaintainArgs {
    /// Only this table: its path under the lake root (`bronze/purchase_order_items`) or last
    /// path segment (`purchase_order_items`).
    #[arg(long)]
    pub table: Option<String>,
    /// Report what would be compacted, vacuumed and removed, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file (with the environment applied) and print it, secrets masked.
    /// Exits 2 when it is invalid.
    Check {
        /// The YAML file to check.
        file: PathBuf,
    },
}

/// Flags of `medallion produce`; each overrides its `producer.*` / `schema.*` key.
#[derive(Debug, Args, Default)]
pub struct ProduceArgs {
    /// Stop after this many events (producer.count).
    #[arg(long)]
    pub count: Option<u64>,
    /// Stop after this long, e.g. 30s or 5m (producer.duration).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Events per second, 0 for unlimited (producer.rate).
    #[arg(long)]
    pub rate: Option<u32>,
    /// Share of events with an injected defect, 0–1 (producer.invalid_ratio).
    #[arg(long)]
    pub invalid_ratio: Option<f64>,
    /// Generator seed (producer.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Message framing (schema.framing).
    #[arg(long, value_enum)]
    pub framing: Option<Framing>,
    /// Avro schema version to write (schema.version).
    #[arg(long)]
    pub schema_version: Option<u32>,
    /// Simulate a calendar from this time, RFC 3339 or YYYY-MM-DD (producer.start_time).
    #[arg(long, value_parser = parse_start_time)]
    pub start_time: Option<DateTime<Utc>>,
    /// Simulated seconds per real second (producer.time_scale).
    #[arg(long)]
    pub time_scale: Option<f64>,
    /// kafka, stdout or file:PATH (producer.output).
    #[arg(long)]
    pub output: Option<Output>,
}

/// `medallion report` flags.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Also write the report as one self-contained HTML page with charts (no script, nothing
    /// fetched when viewed) to this file.
    #[arg(long)]
    pub html: Option<PathBuf>,
}

/// `medallion status` flags.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Exit non-zero when a stream is unhealthy: 10 the latest silver batch, 11 the latest day
    /// below silver.quality_threshold; 12 lag above health.max_lag; 13 a stage without a commit
    /// for health.max_commit_age while its input waits; 14 something could not be read. With
    /// several, the lowest code; every breach is listed.
    #[arg(long)]
    pub check: bool,
    /// Most messages not yet in bronze per stream (health.max_lag).
    #[arg(long)]
    pub max_lag: Option<u64>,
    /// Longest a stage may go without committing while its input waits, e.g. 15m
    /// (health.max_commit_age).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub max_commit_age: Option<std::time::Duration>,
}

/// The flags as a configuration layer: one dotted key per flag given (`kafka.topic`), so the
/// flags left out let the lower layers show through.
#[derive(Debug, Default, Clone, Serialize)]
#[serde(transparent)]
pub struct FlagLayer(serde_json::Map<String, serde_json::Value>);

impl FlagLayer {
    pub fn new(cli: &Cli) -> Self {
        let mut layer = Self::default();
        layer.set("kafka.topic", &cli.topic);
        layer.set("kafka.group_id", &cli.group);
        layer.set("lake.root", &cli.lake);
        layer.set("metrics_addr", &cli.metrics_addr);
        match &cli.command {
            Command::Silver(SilverArgs { silver, .. }) | Command::Run(RunArgs { silver, .. }) => {
                layer.set("silver.rules", &silver.rules);
                layer.set("silver.mode", &silver.mode);
            }
            Command::Export(ExportCommand::Postgres { url }) => layer.set("export.postgres.url", url),
            Command::Status(args) => {
                layer.set("health.max_lag", &args.max_lag);
                layer.set("health.max_commit_age", &args.max_commit_age.map(|d| humantime::format_duration(d).to_string()));
            }
            Command::Produce(args) => {
                let stream = StreamKind::from_flag(cli.stream.as_deref()).unwrap_or_default();
                let stream_key = |key: &str| match stream {
                    StreamKind::PurchaseOrders => match key {
                        "schema_version" => "schema.version".to_owned(),
                        _ => format!("producer.{key}"),
                    },
                    StreamKind::Payments => format!("generators.payments.{key}"),
                    StreamKind::Pos | StreamKind::Clickstream | StreamKind::Ecommerce | StreamKind::Inventory => match key {
                        "topic" => "producer.topic".to_owned(),
                        _ => format!("producer.{key}"),
                    },
                };
                // --topic names the topic of the stream produced.
                if stream != StreamKind::PurchaseOrders
                    && let Some(serde_json::Value::Object(kafka)) = layer.0.get_mut("kafka")
                {
                    kafka.remove("topic");
                    layer.set(&stream_key("topic"), &cli.topic);
                }
                layer.set("schema.framing", &args.framing);
                layer.set(&stream_key("schema_version"), &args.schema_version);
                layer.set("producer.count", &args.count);
                layer.set("producer.duration", &args.duration.map(|d| humantime::format_duration(d).to_string()));
                layer.set(&stream_key("rate"), &args.rate);
                layer.set(&stream_key("invalid_ratio"), &args.invalid_ratio);
                layer.set("producer.seed", &args.seed);
                layer.set("producer.start_time", &args.start_time.map(|t| t.to_rfc3339()));
                layer.set("producer.time_scale", &args.time_scale);
                layer.set("producer.output", &args.output);
            }
            _ => {}
        }
        layer
    }

    /// Sets the dotted `key` to `value` when the flag was given.
    fn set<T: Serialize>(&mut self, key: &str, value: &Option<T>) {
        let Some(value) = value.as_ref().and_then(|v| serde_json::to_value(v).ok()) else { return };
        let (parents, last) = key.rsplit_once('.').map_or((None, key), |(parents, last)| (Some(parents), last));
        let mut table = &mut self.0;
        for parent in parents.into_iter().flat_map(|p| p.split('.')) {
            let entry = table.entry(parent).or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
            let Some(nested) = entry.as_object_mut() else { return };
            table = nested;
        }
        table.insert(last.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_flags_given_become_keys() {
        let cli = Cli::parse_from(["medallion", "--topic", "t", "produce", "--rate", "5", "--duration", "90s"]);
        let layer = serde_json::to_value(FlagLayer::new(&cli)).unwrap();
        assert_eq!(layer, serde_json::json!({ "kafka": { "topic": "t" }, "producer": { "rate": 5, "duration": "1m 30s" } }));
        let bare = Cli::parse_from(["medallion", "status"]);
        assert_eq!(serde_json::to_value(FlagLayer::new(&bare)).unwrap(), serde_json::json!({}));
    }
}
