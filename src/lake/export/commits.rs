//! Pipeline metrics: the commits of every stage table (`medallion_stage_commits`) and a sample of
//! Kafka lag (`medallion_kafka_lag`).

use std::collections::HashMap;

use super::cells::Cell;
use super::postgres::{self, Database};
use super::{ExportError, Position, SourceExport, copy_versions};
use crate::config::Config;
use crate::table::TableReader;

const COLUMNS: [&str; 11] =
    ["stream", "stage", "table_location", "version", "committed_at", "operation", "rows", "files", "bytes", "input_version", "freshness_ms"];

/// The table each stage reads: silver's tables read bronze, the current state and gold models
/// read silver. Bronze reads Kafka (see `medallion_kafka_lag`).
fn upstream_role(role: &str) -> Option<&'static str> {
    match role {
        "bronze" => None,
        "silver" | "quarantine" | "quality_metrics" => Some("bronze"),
        _ => Some("silver"),
    }
}

/// Copies the commits every table of the stream made since the last export.
pub async fn stage_commits(database: &mut Database, config: &Config, stream: &str, step: usize) -> Result<Vec<SourceExport>, ExportError> {
    let (paths, models_error) = crate::lake::status::table_paths(config);
    if let Some(error) = models_error {
        tracing::warn!(stream, %error, "the gold models' commits are not exported: their definitions cannot be loaded");
    }
    let location = |path: &str| config.lake.table_location(path);
    let names: Vec<String> = COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    let mut exports = Vec::new();
    for (role, path) in &paths {
        let source = format!("commits/{role}");
        let storage = config.lake.storage_options();
        let Some(reader) = TableReader::open(&location(path), storage.clone()).await? else {
            exports.push(SourceExport { stream: stream.to_owned(), source, ..SourceExport::default() });
            continue;
        };
        let upstream_path = upstream_role(role).and_then(|upstream| paths.iter().find(|(r, _)| r == upstream)).map(|(_, p)| p);
        let mut upstream = match upstream_path {
            Some(path) => Upstream::open(&location(path), storage).await?,
            None => None,
        };
        let at = Position::of(stream, &source, &reader)?;
        let export = copy_versions(database, &at, &reader, step, ("medallion_stage_commits", &names), async |version| {
            Ok(commit_row(&reader, upstream.as_mut(), stream, role, version).await?.into_iter().collect())
        })
        .await?;
        exports.push(export);
    }
    Ok(exports)
}

/// The table a stage reads, with the commit times looked up so far.
struct Upstream {
    reader: TableReader,
    /// What the stage's `txn` app ids end with when they are positions in this table.
    app_id_suffix: String,
    commit_times: HashMap<i64, Option<i64>>,
}

impl Upstream {
    async fn open(location: &str, storage: HashMap<String, String>) -> Result<Option<Self>, ExportError> {
        let Some(reader) = TableReader::open(location, storage).await? else { return Ok(None) };
        Ok(Some(Self { app_id_suffix: format!(":{}", reader.table_id()?), reader, commit_times: HashMap::new() }))
    }
}

/// The row of commit `version`, `None` when log cleanup removed its entry.
async fn commit_row(
    reader: &TableReader,
    upstream: Option<&mut Upstream>,
    stream: &str,
    stage: &str,
    version: i64,
) -> Result<Option<Vec<Cell>>, ExportError> {
    let Some(entry) = reader.kept_entry(version as u64).await? else { return Ok(None) };
    let mut input_version = None;
    let mut freshness_ms = None;
    if let Some(upstream) = upstream {
        input_version = entry.positions.iter().filter(|(app_id, _)| app_id.ends_with(&upstream.app_id_suffix)).map(|(_, v)| *v).max();
        if let (Some(input), Some(committed)) = (input_version, entry.timestamp) {
            let upstream_time = match upstream.commit_times.get(&input) {
                Some(time) => *time,
                None => {
                    let time = upstream.reader.kept_entry(input as u64).await?.and_then(|e| e.timestamp);
                    upstream.commit_times.insert(input, time);
                    time
                }
            };
            freshness_ms = upstream_time.map(|time| committed - time);
        }
    }
    let bytes: u64 = entry.added.iter().map(|file| file.size).sum();
    Ok(Some(vec![
        Box::new(stream.to_owned()),
        Box::new(stage.to_owned()),
        Box::new(reader.location().to_owned()),
        Box::new(version),
        Box::new(entry.timestamp.and_then(chrono::DateTime::from_timestamp_millis)),
        Box::new(entry.operation.clone()),
        Box::new(entry.added_rows.and_then(|rows| i64::try_from(rows).ok())),
        Box::new(i32::try_from(entry.added.len()).unwrap_or(i32::MAX)),
        Box::new(i64::try_from(bytes).unwrap_or(i64::MAX)),
        Box::new(input_version),
        Box::new(freshness_ms),
    ]))
}

/// Adds this moment's lag of every partition of the stream's topic; nothing when Kafka cannot
/// be reached (the error is logged: lag is a sample, the next export takes another).
pub async fn kafka_lag(database: &mut Database, config: &Config, stream: &str) -> Result<u64, ExportError> {
    let kafka = crate::lake::status::collect_kafka(config).await;
    if let Some(error) = &kafka.error {
        tracing::warn!(stream, %error, "no Kafka lag exported this time");
        return Ok(0);
    }
    let now = chrono::Utc::now();
    let rows: Vec<Vec<Cell>> = kafka
        .partitions
        .iter()
        .map(|p| -> Vec<Cell> {
            vec![
                Box::new(now),
                Box::new(stream.to_owned()),
                Box::new(kafka.topic.clone()),
                Box::new(p.partition),
                Box::new(p.delta_offset),
                Box::new(p.committed_offset),
                Box::new(p.high_watermark),
                Box::new(p.lag),
            ]
        })
        .collect();
    let names: Vec<String> =
        ["exported_at", "stream", "topic", "partition", "delta_offset", "committed_offset", "high_watermark", "lag"].map(str::to_owned).to_vec();
    let tx = database.client.transaction().await.map_err(|e| postgres::error(&database.target, "starting a transaction", e))?;
    let inserted =
        postgres::insert(&tx, "medallion_kafka_lag", &names, rows, "").await.map_err(|e| postgres::error(&database.target, "inserting lag", e))?;
    tx.commit().await.map_err(|e| postgres::error(&database.target, "committing", e))?;
    Ok(inserted)
}
