//! Pipeline metrics: the commits of every stage table (`medallion_stage_commits`) and a sample of
//! Kafka lag (`medallion_kafka_lag`).

use std::collections::HashMap;

use super::cells::Cell;
use super::postgres::{self, Database};
use super::{ExportError, SourceExport, begin};
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
    let tables = crate::lake::status::collect_tables(config).await;
    let locations: HashMap<String, String> = tables.iter().map(|t| (t.table.clone(), t.location.clone())).collect();
    let mut exports = Vec::new();
    for table in &tables {
        let source = format!("commits/{}", table.table);
        let mut export = SourceExport { stream: stream.to_owned(), source: source.clone(), ..SourceExport::default() };
        let storage = config.lake.storage_options();
        let Some(reader) = TableReader::open(&table.location, storage.clone()).await? else {
            exports.push(export);
            continue;
        };
        let upstream = match upstream_role(&table.table).and_then(|role| locations.get(role)) {
            Some(location) => TableReader::open(location, storage).await?,
            None => None,
        };
        let latest = i64::try_from(reader.version()).unwrap_or(i64::MAX);
        let mut upstream_times = HashMap::new();
        loop {
            let table_id = reader.table_id()?;
            let target = database.target.clone();
            let (tx, position) = begin(database, stream, &source, &reader).await?;
            export.from = export.from.or(position);
            let first = position.map_or(0, |v| v + 1);
            let last = latest.min(first + step as i64 - 1);
            let mut rows = Vec::new();
            for version in first..=last {
                if let Some(row) = commit_row(&reader, upstream.as_ref(), &mut upstream_times, stream, &table.table, version).await? {
                    rows.push(row);
                }
            }
            let error = |doing: &str, source| ExportError::Database { target: target.clone(), doing: doing.to_owned(), source };
            let names: Vec<String> = COLUMNS.iter().map(|c| (*c).to_owned()).collect();
            export.rows +=
                postgres::insert(&tx, "medallion_stage_commits", &names, rows, "").await.map_err(|e| error("inserting stage commits", e))?;
            let done = if last >= first { last } else { position.unwrap_or(latest) };
            postgres::store_position(&tx, stream, &source, &table_id, done).await.map_err(|e| error("storing the export position", e))?;
            tx.commit().await.map_err(|e| error("committing", e))?;
            export.to = Some(done);
            if done >= latest {
                break;
            }
        }
        exports.push(export);
    }
    Ok(exports)
}

/// The row of commit `version`, `None` when log cleanup removed its entry.
async fn commit_row(
    reader: &TableReader,
    upstream: Option<&TableReader>,
    upstream_times: &mut HashMap<i64, Option<i64>>,
    stream: &str,
    stage: &str,
    version: i64,
) -> Result<Option<Vec<Cell>>, ExportError> {
    let Some(entry) = reader.kept_entry(version as u64).await? else { return Ok(None) };
    let input_version = match upstream {
        Some(upstream) => {
            let suffix = format!(":{}", upstream.table_id()?);
            entry.positions.iter().filter(|(app_id, _)| app_id.ends_with(&suffix)).map(|(_, v)| *v).max()
        }
        None => None,
    };
    let mut freshness_ms = None;
    if let (Some(upstream), Some(input), Some(committed)) = (upstream, input_version, entry.timestamp) {
        let upstream_time = match upstream_times.get(&input) {
            Some(time) => *time,
            None => {
                let time = upstream.kept_entry(input as u64).await?.and_then(|e| e.timestamp);
                upstream_times.insert(input, time);
                time
            }
        };
        freshness_ms = upstream_time.map(|time| committed - time);
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
    let tx = database.client.transaction().await.map_err(|e| database_error(&database.target, "starting a transaction", e))?;
    let inserted =
        postgres::insert(&tx, "medallion_kafka_lag", &names, rows, "").await.map_err(|e| database_error(&database.target, "inserting lag", e))?;
    tx.commit().await.map_err(|e| database_error(&database.target, "committing", e))?;
    Ok(inserted)
}

fn database_error(target: &str, doing: &str, source: tokio_postgres::Error) -> ExportError {
    ExportError::Database { target: target.to_owned(), doing: doing.to_owned(), source }
}
