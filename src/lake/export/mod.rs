//! `medallion export postgres`: the lake's quality and pipeline metrics copied into PostgreSQL
//! for dashboards that already read it, exactly once.
//!
//! Each source (a stream's `quality_metrics`, its `quality_daily`, the commits of each of its
//! tables) has an export position in `medallion_export_positions`: the last Delta version
//! copied. Rows and the new position are written in one database transaction, so an export
//! killed at any point leaves either both or neither, and the next one goes on from the
//! position. Backlogs are copied in steps of `versions_per_transaction` versions.
//!
//! Tables (created when missing; columns added when the lake's tables gain some):
//! - `medallion_quality_metrics`: every row of each stream's `quality_metrics`, with `stream` and
//!   `delta_version` (the version that added it);
//! - `medallion_quality_daily`: each stream's `quality_daily`, one row per (stream, day), updated
//!   as the day's rows change;
//! - `medallion_stage_commits`: one row per commit of every stage table: when, rows and bytes
//!   added, the upstream version it consumed up to (`input_version`) and `freshness_ms`, the
//!   commit's time minus that upstream version's;
//! - `medallion_kafka_lag`: per export and partition, bronze's offset, the group's committed
//!   offset, the high watermark and the lag (a sample, not a copy: each export adds one).

mod cells;
mod commits;
mod postgres;

use arrow::array::RecordBatch;

use crate::config::{Config, PostgresExportConfig};
use crate::table::{TableError, TableReader};
use postgres::Database;

/// What went wrong, naming the database (never its credentials) or the table.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("invalid PostgreSQL URL: {reason}")]
    Url { reason: String },
    #[error("cannot connect to PostgreSQL at {target}: {source}")]
    Connect { target: String, source: tokio_postgres::Error },
    #[error("PostgreSQL at {target}, {doing}: {source}")]
    Database { target: String, doing: String, source: tokio_postgres::Error },
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(
        "the export position of {stream}/{export_source} names table {exported_id}, but {location} is table {found_id} (recreated?): delete its row from medallion_export_positions (and its copied rows) to export the new table"
    )]
    TableReplaced { stream: String, export_source: String, location: String, exported_id: String, found_id: String },
}

impl ExportError {
    /// Worth another try later (the database or storage was unreachable), as opposed to a bad
    /// URL or a lake that no longer matches what was exported.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Database { .. } => true,
            Self::Table(error) => error.is_transient(),
            Self::Url { .. } | Self::TableReplaced { .. } => false,
        }
    }
}

/// What one export copied, per stream and source.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ExportSummary {
    pub target: String,
    pub sources: Vec<SourceExport>,
    pub lag_rows: u64,
}

/// One source's part of an export: the versions after `from` up to `to` (`None`: nothing yet).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SourceExport {
    pub stream: String,
    pub source: String,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub rows: u64,
}

impl std::fmt::Display for ExportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "exported to {}:", self.target)?;
        for source in &self.sources {
            let versions = match (source.from, source.to) {
                (_, None) => "no table yet".to_owned(),
                (from, Some(to)) if from == Some(to) => format!("up to date at version {to}"),
                (from, Some(to)) => format!("versions {}..={to}", from.map_or(0, |v| v + 1)),
            };
            writeln!(f, "  {}/{}: {versions}, {} rows", source.stream, source.source, source.rows)?;
        }
        write!(f, "  kafka lag: {} partition rows", self.lag_rows)
    }
}

/// Exports every stream of `config` to `target` once, each source up to its latest version.
pub async fn export(config: &Config, target: &PostgresExportConfig) -> Result<ExportSummary, ExportError> {
    deltalake::azure::register_handlers(None);
    let mut database = postgres::connect(target.url.expose()).await?;
    let mut summary = ExportSummary { target: database.target.clone(), ..ExportSummary::default() };
    for (stream, view) in config.views() {
        let stream = stream.name;
        let step = target.versions_per_transaction.max(1);
        summary.sources.push(quality_metrics(&mut database, &view, &stream, step).await?);
        summary.sources.push(quality_daily(&mut database, &view, &stream).await?);
        summary.sources.extend(commits::stage_commits(&mut database, &view, &stream, step).await?);
        summary.lag_rows += commits::kafka_lag(&mut database, &view, &stream).await?;
    }
    Ok(summary)
}

/// Exports every `interval` until `cancel`; failures are logged and retried at the next round.
pub async fn keep_exporting(config: &Config, target: &PostgresExportConfig, cancel: &tokio_util::sync::CancellationToken) {
    loop {
        match export(config, target).await {
            Ok(summary) => tracing::info!(target = %summary.target, sources = summary.sources.len(), "exported metrics to PostgreSQL"),
            Err(error) if error.is_transient() => tracing::warn!(%error, retry_in = ?target.interval, "export to PostgreSQL failed; retrying"),
            Err(error) => {
                tracing::error!(%error, "export to PostgreSQL stopped");
                return;
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(target.interval) => {}
        }
    }
}

/// The table at `path` of the lake, `None` while it does not exist.
async fn open(config: &Config, path: &str) -> Result<Option<TableReader>, ExportError> {
    Ok(TableReader::open(&config.lake.table_location(path), config.lake.storage_options()).await?)
}

/// The export position one transaction reads and moves: `source` of `stream`, copied from the
/// table with id `table_id` at `location`.
struct Position<'a> {
    stream: &'a str,
    source: &'a str,
    table_id: String,
    location: &'a str,
}

impl<'a> Position<'a> {
    fn of(stream: &'a str, source: &'a str, reader: &'a TableReader) -> Result<Self, ExportError> {
        Ok(Self { stream, source, table_id: reader.table_id()?, location: reader.location() })
    }
}

/// Rows for one PostgreSQL table, in `names` order.
struct Rows<'a> {
    table: &'a str,
    names: &'a [String],
    cells: Vec<Vec<cells::Cell>>,
    on_conflict: &'a str,
}

/// Starts the transaction of one step of `at`: locked, and its position checked against the
/// table about to be read. Returns the transaction and the last version exported.
async fn begin<'d>(database: &'d mut Database, at: &Position<'_>) -> Result<(tokio_postgres::Transaction<'d>, Option<i64>), ExportError> {
    let target = database.target.clone();
    let tx = database.client.transaction().await.map_err(|e| postgres::error(&target, "starting a transaction", e))?;
    postgres::lock_source(&tx, at.stream, at.source).await.map_err(|e| postgres::error(&target, "locking the export position", e))?;
    let position =
        postgres::lock_position(&tx, at.stream, at.source).await.map_err(|e| postgres::error(&target, "reading the export position", e))?;
    match position {
        Some((exported_id, _)) if exported_id != at.table_id => Err(ExportError::TableReplaced {
            stream: at.stream.to_owned(),
            export_source: at.source.to_owned(),
            location: at.location.to_owned(),
            exported_id,
            found_id: at.table_id.clone(),
        }),
        Some((_, version)) => Ok((tx, Some(version))),
        None => Ok((tx, None)),
    }
}

/// Writes `rows` and moves `at` to `version`, in `tx`, and commits: both or neither.
async fn commit(tx: tokio_postgres::Transaction<'_>, target: &str, at: &Position<'_>, version: i64, rows: Rows<'_>) -> Result<u64, ExportError> {
    let doing = format!("inserting {} rows", rows.table);
    let inserted =
        postgres::insert(&tx, rows.table, rows.names, rows.cells, rows.on_conflict).await.map_err(|e| postgres::error(target, &doing, e))?;
    postgres::store_position(&tx, at.stream, at.source, &at.table_id, version)
        .await
        .map_err(|e| postgres::error(target, "storing the export position", e))?;
    tx.commit().await.map_err(|e| postgres::error(target, "committing", e))?;
    Ok(inserted)
}

/// Copies what `rows_of` makes of each version of `reader` after the position of `at`, into
/// `table` (columns `names`), in transactions of at most `step` versions.
async fn copy_versions(
    database: &mut Database,
    at: &Position<'_>,
    reader: &TableReader,
    step: usize,
    (table, names): (&str, &[String]),
    mut rows_of: impl AsyncFnMut(i64) -> Result<Vec<Vec<cells::Cell>>, ExportError>,
) -> Result<SourceExport, ExportError> {
    let mut export = SourceExport { stream: at.stream.to_owned(), source: at.source.to_owned(), ..SourceExport::default() };
    let latest = i64::try_from(reader.version()).unwrap_or(i64::MAX);
    let target = database.target.clone();
    loop {
        let (tx, position) = begin(database, at).await?;
        export.from = export.from.or(position);
        let first = position.map_or(0, |v| v + 1);
        let last = latest.min(first + step as i64 - 1);
        let mut cells = Vec::new();
        for version in first..=last {
            cells.extend(rows_of(version).await?);
        }
        let done = if last >= first { last } else { position.unwrap_or(latest) };
        export.rows += commit(tx, &target, at, done, Rows { table, names, cells, on_conflict: "" }).await?;
        export.to = Some(done);
        if done >= latest {
            return Ok(export);
        }
    }
}

/// Copies the rows `quality_metrics` gained since the last export, a step at a time.
async fn quality_metrics(database: &mut Database, config: &Config, stream: &str, step: usize) -> Result<SourceExport, ExportError> {
    let source = "quality_metrics";
    let Some(reader) = open(config, &config.silver.metrics_table).await? else {
        return Ok(SourceExport { stream: stream.to_owned(), source: source.to_owned(), ..SourceExport::default() });
    };
    let schema = reader.schema()?;
    let empty = RecordBatch::new_empty(schema.clone());
    let columns = ensure_table(database, "medallion_quality_metrics", &empty, "stream text NOT NULL, delta_version bigint NOT NULL", "").await?;
    let names: Vec<String> = ["stream".to_owned(), "delta_version".to_owned()].into_iter().chain(columns.iter().cloned()).collect();
    let at = Position::of(stream, source, &reader)?;
    copy_versions(database, &at, &reader, step, ("medallion_quality_metrics", &names), async |version| {
        let Some(entry) = reader.kept_entry(version as u64).await? else { return Ok(Vec::new()) };
        let files = entry.appended_only(reader.location(), version as u64)?;
        let batch = reader.read(&files, &schema, None).await?;
        Ok(row_cells(&batch, &columns, stream, version))
    })
    .await
}

/// Copies `quality_daily` whole when it changed since the last export (one row per day).
async fn quality_daily(database: &mut Database, config: &Config, stream: &str) -> Result<SourceExport, ExportError> {
    let source = "quality_daily";
    let mut export = SourceExport { stream: stream.to_owned(), source: source.to_owned(), ..SourceExport::default() };
    let Some(reader) = open(config, &config.gold.quality_daily_table).await? else { return Ok(export) };
    let latest = i64::try_from(reader.version()).unwrap_or(i64::MAX);
    let batch = reader.read_all(&reader.schema()?).await?;
    let columns = ensure_table(
        database,
        "medallion_quality_daily",
        &batch,
        "stream text NOT NULL, delta_version bigint NOT NULL",
        ", PRIMARY KEY (stream, day)",
    )
    .await?;
    let at = Position::of(stream, source, &reader)?;
    let target = database.target.clone();
    let (tx, position) = begin(database, &at).await?;
    export.from = position;
    export.to = Some(latest);
    if position == Some(latest) {
        return Ok(export);
    }
    let names: Vec<String> = ["stream".to_owned(), "delta_version".to_owned()].into_iter().chain(columns.iter().cloned()).collect();
    let updates: Vec<String> = names.iter().filter(|c| *c != "stream" && *c != "day").map(|c| format!("\"{c}\" = EXCLUDED.\"{c}\"")).collect();
    let on_conflict = format!("ON CONFLICT (stream, day) DO UPDATE SET {}", updates.join(", "));
    let cells = row_cells(&batch, &columns, stream, latest);
    export.rows =
        commit(tx, &target, &at, latest, Rows { table: "medallion_quality_daily", names: &names, cells, on_conflict: &on_conflict }).await?;
    Ok(export)
}

/// Creates `table` (its leading columns `leading`, then `batch`'s exportable ones) and adds
/// the columns an older copy lacks. Returns the names of `batch`'s exported columns.
async fn ensure_table(database: &Database, table: &str, batch: &RecordBatch, leading: &str, constraints: &str) -> Result<Vec<String>, ExportError> {
    let columns = cells::exported_columns(batch);
    let definitions: Vec<String> = columns.iter().map(|(name, pg, _)| format!("\"{name}\" {pg}")).collect();
    let mut ddl = format!("CREATE TABLE IF NOT EXISTS {table} ({leading}, {}{constraints});", definitions.join(", "));
    for definition in &definitions {
        ddl.push_str(&format!("ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {definition};"));
    }
    database.client.batch_execute(&ddl).await.map_err(|source| database.error(&format!("creating {table}"), source))?;
    Ok(columns.into_iter().map(|(name, _, _)| name).collect())
}

/// Each row of `batch` as its stream and Delta version followed by the values of `columns`.
fn row_cells(batch: &RecordBatch, columns: &[String], stream: &str, version: i64) -> Vec<Vec<cells::Cell>> {
    let arrays: Vec<_> = columns.iter().filter_map(|name| batch.column_by_name(name).cloned()).collect();
    (0..batch.num_rows())
        .map(|row| {
            let mut values: Vec<cells::Cell> = vec![Box::new(stream.to_owned()), Box::new(version)];
            values.extend(arrays.iter().map(|array| cells::cell(array, row)));
            values
        })
        .collect()
}
