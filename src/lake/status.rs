//! `medallion status`: per stream, where every partition stands (offset in Delta, committed
//! offset, high watermark, lag), every table's version, rows and last commit, and the last
//! day's quality.
//!
//! Read-only and tolerant: a missing table is reported as missing, an unreachable broker as an
//! error line, and the rest is still shown.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use crate::config::{ClientRole, Config};
use crate::table::TableReader;

/// One partition of the topic.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct PartitionStatus {
    pub partition: i32,
    /// Last offset bronze holds (its `txn`), None before the first commit.
    pub delta_offset: Option<i64>,
    /// The consumer group's committed offset (next to read), None when never committed.
    pub committed_offset: Option<i64>,
    pub high_watermark: i64,
    /// Messages in Kafka not yet in bronze: high watermark − (delta offset + 1).
    pub lag: i64,
    /// What a consumer-group tool shows: high watermark − committed offset.
    pub committed_lag: i64,
}

/// The topic as seen from Kafka, or why it could not be seen.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KafkaStatus {
    pub bootstrap: String,
    pub topic: String,
    pub group: String,
    pub partitions: Vec<PartitionStatus>,
    pub total_lag: i64,
    pub error: Option<String>,
}

/// One table of the lake.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableStatus {
    pub table: String,
    pub location: String,
    pub exists: bool,
    pub version: Option<u64>,
    /// From the files' statistics (every writer of medallion records them).
    pub rows: Option<u64>,
    /// Last commit, RFC 3339 UTC.
    pub last_commit: Option<String>,
    pub error: Option<String>,
}

/// The newest day of `quality_daily`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QualitySummary {
    pub day: String,
    pub rows: i64,
    pub pass_rows: i64,
    pub warning_rows: i64,
    pub fail_rows: i64,
    pub mean_quality_score: Option<f64>,
    /// Share of the day's rows that passed every error check (see `silver.quality_threshold`).
    pub error_pass_share: Option<f64>,
    pub top_failing_rules: Vec<String>,
}

/// One stream: its topic, its tables, its last day's quality.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StreamStatus {
    pub stream: String,
    pub kafka: KafkaStatus,
    pub tables: Vec<TableStatus>,
    pub quality: Option<QualitySummary>,
}

/// The whole `status --json` object.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub streams: Vec<StreamStatus>,
}

/// Collects the status of every stream of `config` (a [`Config::for_stream`] copy: one).
pub async fn collect(config: &Config) -> Status {
    deltalake::azure::register_handlers(None);
    let mut streams = Vec::new();
    for (stream, view) in config.views() {
        let kafka = collect_kafka(&view).await;
        let tables = collect_tables(&view).await;
        let quality = quality_summary(&view).await;
        streams.push(StreamStatus { stream: stream.name, kafka, tables, quality });
    }
    Status { streams }
}

/// The topic's partitions: positions, committed offsets, high watermarks, lag.
pub async fn collect_kafka(config: &Config) -> KafkaStatus {
    LagProbe::new(config).sample().await
}

/// Samples the partitions' lag again and again with one Kafka client and one bronze handle
/// (refreshed, not reopened), as the metrics endpoint does every few seconds.
pub struct LagProbe {
    config: Config,
    consumer: Option<Arc<BaseConsumer>>,
    bronze: Option<TableReader>,
}

impl LagProbe {
    pub fn new(config: &Config) -> Self {
        Self { config: config.clone(), consumer: None, bronze: None }
    }

    /// Positions, committed offsets, high watermarks and lag, now.
    pub async fn sample(&mut self) -> KafkaStatus {
        match &mut self.bronze {
            Some(bronze) => {
                if let Err(error) = bronze.refresh().await {
                    tracing::debug!(%error, "cannot refresh bronze for the lag");
                }
            }
            None => {
                let location = self.config.lake.table_location(&self.config.bronze.table);
                self.bronze = TableReader::open(&location, self.config.lake.storage_options()).await.ok().flatten();
            }
        }
        let consumer = match &self.consumer {
            Some(consumer) => Ok(consumer.clone()),
            None => lag_consumer(&self.config).map(Arc::new),
        };
        if let Ok(consumer) = &consumer {
            self.consumer = Some(consumer.clone());
        }
        kafka_status(&self.config, consumer, self.bronze.as_ref()).await
    }
}

/// Every table of the stream `config` works on: exists, version, rows, last commit; its gold
/// models' tables come before `quality_daily`.
pub async fn collect_tables(config: &Config) -> Vec<TableStatus> {
    let (paths, models_error) = table_paths(config);
    let mut tables = Vec::new();
    for (role, path) in &paths {
        tables.push(table_status(config, role, path).await);
    }
    if let Some(error) = models_error {
        let error = TableStatus { table: "gold models".to_owned(), error: Some(error), ..TableStatus::default() };
        tables.insert(tables.len().saturating_sub(1), error);
    }
    tables
}

/// (role, path in the lake) of every table of the stream `config` works on, its gold models'
/// before `quality_daily`; and why the models could not be loaded, when they could not (their
/// tables are then left out).
pub fn table_paths(config: &Config) -> (Vec<(String, String)>, Option<String>) {
    let stream = config.stream();
    let mut paths: Vec<(String, String)> = stream.tables.all().iter().map(|(role, path)| ((*role).to_owned(), (*path).to_owned())).collect();
    let quality_daily = paths.pop();
    let models_error = match crate::gold::model::load(&stream.gold_models) {
        Ok(models) => {
            paths.extend(models.into_iter().map(|model| (model.name.clone(), crate::gold::model::table_path(&model.name))));
            None
        }
        Err(error) => Some(error.to_string()),
    };
    paths.extend(quality_daily);
    (paths, models_error)
}

async fn table_status(config: &Config, name: &str, table: &str) -> TableStatus {
    let location = config.lake.table_location(table);
    let mut status = TableStatus { table: name.to_owned(), location: location.clone(), ..TableStatus::default() };
    match TableReader::open(&location, config.lake.storage_options()).await {
        Ok(None) => {}
        Ok(Some(reader)) => {
            status.exists = true;
            status.version = Some(reader.version());
            status.last_commit = reader.commit_time_millis().await.and_then(chrono::DateTime::from_timestamp_millis).map(|t| t.to_rfc3339());
            match reader.live_files() {
                Ok(files) => status.rows = files.iter().map(|(_, rows)| rows.map(|r| r as u64)).sum(),
                Err(error) => status.error = Some(error.to_string()),
            }
        }
        Err(error) => status.error = Some(error.to_string()),
    }
    status
}

async fn kafka_status(config: &Config, consumer: Result<Arc<BaseConsumer>, String>, bronze: Option<&TableReader>) -> KafkaStatus {
    let kafka = &config.kafka;
    let mut status =
        KafkaStatus { bootstrap: kafka.effective_bootstrap(), topic: kafka.topic.clone(), group: kafka.group_id.clone(), ..KafkaStatus::default() };
    let config_copy = config.clone();
    let marks = match consumer {
        Ok(consumer) => {
            tokio::task::spawn_blocking(move || watermarks_and_commits(&config_copy, &consumer)).await.map_err(|e| e.to_string()).and_then(|m| m)
        }
        Err(error) => Err(error),
    };
    let marks = match marks {
        Ok(marks) => marks,
        Err(error) => {
            status.error = Some(error);
            return status;
        }
    };
    for (partition, (high, committed)) in marks {
        let delta_offset = match bronze {
            Some(bronze) => bronze.position(&crate::bronze::app_id(&kafka.topic, partition)).await.ok().flatten(),
            None => None,
        };
        let lag = (high - delta_offset.map_or(0, |o| o + 1)).max(0);
        let committed_lag = (high - committed.unwrap_or(0)).max(0);
        status.partitions.push(PartitionStatus { partition, delta_offset, committed_offset: committed, high_watermark: high, lag, committed_lag });
    }
    status.total_lag = status.partitions.iter().map(|p| p.lag).sum();
    status
}

/// A client that reads watermarks and the group's committed offsets (it never joins the group).
fn lag_consumer(config: &Config) -> Result<BaseConsumer, String> {
    let kafka = &config.kafka;
    kafka
        .client_config_with(config.profile, ClientRole::Consumer, &[("group.id", kafka.group_id.clone()), ("enable.auto.commit", "false".to_owned())])
        .create()
        .map_err(|e| format!("cannot create a Kafka client for {}: {e}", kafka.effective_bootstrap()))
}

/// Partition → (high watermark, committed offset of the group), from the brokers.
fn watermarks_and_commits(config: &Config, consumer: &BaseConsumer) -> Result<BTreeMap<i32, (i64, Option<i64>)>, String> {
    let kafka = &config.kafka;
    let timeout = kafka.connect_timeout.max(Duration::from_secs(1));
    let bootstrap = kafka.effective_bootstrap();
    let metadata = consumer
        .fetch_metadata(Some(&kafka.topic), timeout)
        .map_err(|e| format!("cannot reach Kafka brokers at {bootstrap} within {timeout:?}: {e}"))?;
    let partitions: Vec<i32> = metadata.topics().iter().flat_map(|t| t.partitions().iter().map(|p| p.id())).collect();
    if partitions.is_empty() {
        return Err(format!("topic `{}` does not exist on {bootstrap}", kafka.topic));
    }
    let mut wanted = TopicPartitionList::new();
    for partition in &partitions {
        wanted.add_partition(&kafka.topic, *partition);
    }
    let committed =
        consumer.committed_offsets(wanted, timeout).map_err(|e| format!("cannot read the committed offsets of group {}: {e}", kafka.group_id))?;
    let mut marks = BTreeMap::new();
    for partition in partitions {
        let (_, high) = consumer
            .fetch_watermarks(&kafka.topic, partition, timeout)
            .map_err(|e| format!("cannot read the high watermark of partition {partition}: {e}"))?;
        let offset = committed.find_partition(&kafka.topic, partition).and_then(|p| match p.offset() {
            Offset::Offset(offset) => Some(offset),
            _ => None,
        });
        marks.insert(partition, (high, offset));
    }
    Ok(marks)
}

/// The newest day of `quality_daily`, when the table exists and has rows.
async fn quality_summary(config: &Config) -> Option<QualitySummary> {
    let location = config.lake.table_location(&config.gold.quality_daily_table);
    let reader = TableReader::open(&location, config.lake.storage_options()).await.ok().flatten()?;
    let rows = reader.read_all(&crate::gold::quality_daily_schema()).await.ok()?;
    let daily = crate::gold::QualityDaily::from_batch(&rows).ok()?;
    let (&day, quality) = daily.0.last_key_value()?;
    Some(QualitySummary {
        day: arrow::temporal_conversions::date32_to_datetime(day).map(|d| d.date().to_string()).unwrap_or_default(),
        rows: quality.rows,
        pass_rows: quality.pass,
        warning_rows: quality.warning,
        fail_rows: quality.fail,
        mean_quality_score: quality.mean_score(),
        error_pass_share: quality.error_pass_share(),
        top_failing_rules: quality.top_failing_rules().into_iter().map(str::to_owned).collect(),
    })
}

impl Status {
    /// A human-readable rendering for terminals.
    fn render(&self) -> String {
        self.streams.iter().map(StreamStatus::render).collect::<Vec<_>>().join("\n")
    }
}

impl StreamStatus {
    fn render(&self) -> String {
        let mut out = format!("stream {}\n", self.stream);
        let kafka = &self.kafka;
        out.push_str(&format!("kafka {} topic {} group {}\n", kafka.bootstrap, kafka.topic, kafka.group));
        if let Some(error) = &kafka.error {
            out.push_str(&format!("  unavailable: {error}\n"));
        }
        out.push_str("  partition  delta_offset  committed  high_watermark  lag\n");
        for p in &kafka.partitions {
            let show = |o: Option<i64>| o.map_or_else(|| "-".to_owned(), |o| o.to_string());
            out.push_str(&format!(
                "  {:>9}  {:>12}  {:>9}  {:>14}  {:>3}\n",
                p.partition,
                show(p.delta_offset),
                show(p.committed_offset),
                p.high_watermark,
                p.lag
            ));
        }
        out.push_str(&format!("  total lag {}\n", kafka.total_lag));
        out.push_str("tables\n");
        for t in &self.tables {
            let state = match (&t.error, t.exists) {
                (Some(error), _) => format!("error: {error}"),
                (None, false) => "missing".to_owned(),
                (None, true) => format!(
                    "version {}, {}, last commit {}",
                    t.version.unwrap_or(0),
                    match t.rows {
                        Some(1) => "1 row".to_owned(),
                        Some(rows) => format!("{rows} rows"),
                        None => "? rows".to_owned(),
                    },
                    t.last_commit.as_deref().unwrap_or("?")
                ),
            };
            out.push_str(&format!("  {:<24} {state}\n", t.table));
        }
        if let Some(q) = &self.quality {
            out.push_str(&format!(
                "quality {}: {} rows, {} PASS, {} WARNING, {} FAIL, {} passing the error checks, mean score {}, top failing rules: {}\n",
                q.day,
                q.rows,
                q.pass_rows,
                q.warning_rows,
                q.fail_rows,
                q.error_pass_share.map_or_else(|| "-".to_owned(), |s| format!("{:.1}%", s * 100.0)),
                q.mean_quality_score.map_or_else(|| "-".to_owned(), |s| format!("{s:.3}")),
                q.top_failing_rules.join(", ")
            ));
        }
        out
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}
