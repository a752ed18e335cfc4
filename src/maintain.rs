//! `medallion maintain`, and the schedule each stage keeps for its own tables.
//!
//! The lake's tables and who reads each: a table is maintained keeping every version its
//! readers have not consumed yet (see [`crate::table::StageTable::maintain`]). A reader that
//! does not exist yet will read from version 0, so nothing it needs is removed either.
//!
//! Stages call [`Maintainer::maintain_if_due`] between their own commits and while idle:
//! maintenance of a table never races its writer in the same process, and a failed run is logged, counted and retried
//! at the next interval without stopping the stage.

use std::collections::HashMap;
use std::time::Instant;

use crate::config::{Config, MaintenanceConfig};
use crate::table::{MaintenanceReport, SourceKey, StageTable, TableError, TableReader};

/// Why `medallion maintain` stopped.
#[derive(Debug, thiserror::Error)]
pub enum MaintainError {
    #[error("{0}")]
    Table(#[from] TableError),
    #[error("no table `{name}` in this lake; its tables are: {known}")]
    UnknownTable { name: String, known: String },
}

/// How a reader of a table records its position there.
type KeyOf = fn(String, &str, &str) -> SourceKey;

/// One table of the lake: its path under the root and the tables that read it.
#[derive(Debug, Clone)]
pub struct LakeTable {
    pub path: String,
    readers: Vec<(String, KeyOf)>,
    /// Laid out in sorted key ranges, never compacted (gold's current state and order_status).
    key_ordered: bool,
}

/// Every stage table of the lake, stream by stream, sources before the tables that read them.
/// Gold model tables (`gold/<model>`) are not listed: nothing reads them, and their stage
/// passes them in (see [`run`] and [`Maintainer::maintain_if_due`]).
pub fn lake_tables(config: &Config) -> Vec<LakeTable> {
    config.streams().iter().flat_map(|stream| stream_tables(&stream.tables)).collect()
}

fn stream_tables(tables: &crate::config::StreamTables) -> Vec<LakeTable> {
    let table = |path: &str, readers: Vec<(&String, KeyOf)>| LakeTable {
        path: path.to_owned(),
        readers: readers.into_iter().map(|(reader, key)| (reader.clone(), key)).collect(),
        key_ordered: path == tables.current,
    };
    // Gold models follow the current table, never silver's files: only the current and
    // quality tables read silver.
    let silver_readers = vec![(&tables.current, SourceKey::current as KeyOf), (&tables.quality_daily, SourceKey::gold)];
    vec![
        table(
            &tables.bronze,
            vec![(&tables.silver, SourceKey::silver), (&tables.quarantine, SourceKey::silver), (&tables.quality_metrics, SourceKey::silver)],
        ),
        table(&tables.silver, silver_readers),
        table(&tables.quarantine, vec![(&tables.quality_daily, SourceKey::gold)]),
        table(&tables.quality_metrics, vec![]),
        table(&tables.current, vec![]),
        table(&tables.quality_daily, vec![]),
    ]
}

impl LakeTable {
    /// A table nothing reads (a gold model's), `key_ordered` when kept in sorted key ranges.
    pub fn unread(path: String, key_ordered: bool) -> Self {
        Self { path, readers: Vec::new(), key_ordered }
    }
}

/// The oldest version of `table` (its `metaData.id` is `table_id`) one of its readers has not
/// read yet; `None` when nothing reads it.
async fn first_unread(config: &Config, table: &LakeTable, table_id: &str) -> Result<Option<u64>, TableError> {
    let mut first: Option<u64> = None;
    let source_location = config.lake.table_location(&table.path);
    for (reader_path, key_of) in &table.readers {
        let key = key_of(table_id.to_owned(), &source_location, &table.path);
        let unread = match TableReader::open(&config.lake.table_location(reader_path), config.lake.storage_options()).await? {
            // A position under a pre-identity (path) app id counts as none: everything is kept
            // until the reader's next commit records its table-id position.
            Some(reader) => reader.position(&key.app_id()).await?.map_or(0, |read| u64::try_from(read).map_or(0, |read| read + 1)),
            None => 0,
        };
        first = Some(first.map_or(unread, |first| first.min(unread)));
    }
    Ok(first)
}

/// What `medallion maintain` did, table by table (a JSON array with `--json`).
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(transparent)]
pub struct MaintainSummary {
    pub tables: Vec<MaintenanceReport>,
}

impl std::fmt::Display for MaintainSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines: Vec<String> = self.tables.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

/// Maintains every table of the lake and `gold_tables`, or the one whose path or last path
/// segment is `only`.
pub async fn run(config: &Config, gold_tables: Vec<LakeTable>, only: Option<&str>, dry_run: bool) -> Result<MaintainSummary, MaintainError> {
    deltalake::azure::register_handlers(None);
    let mut tables = lake_tables(config);
    tables.extend(gold_tables);
    let chosen: Vec<&LakeTable> =
        tables.iter().filter(|t| only.is_none_or(|name| t.path == name || t.path.rsplit('/').next() == Some(name))).collect();
    if chosen.is_empty() {
        let known = tables.iter().map(|t| t.path.as_str()).collect::<Vec<_>>().join(", ");
        return Err(MaintainError::UnknownTable { name: only.unwrap_or_default().to_owned(), known });
    }
    let mut reports = Vec::new();
    for table in chosen {
        let location = config.lake.table_location(&table.path);
        let Some(mut delta) = StageTable::open_existing(&location, config.lake.storage_options()).await? else {
            tracing::info!(table = %location, "not created yet; nothing to maintain");
            continue;
        };
        if table.key_ordered {
            delta = delta.key_ordered();
        }
        let first_unread = first_unread(config, table, &delta.table_id()?).await?;
        let report = delta.maintain(&config.maintenance, first_unread, dry_run).await?;
        log_report(&report);
        reports.push(report);
    }
    Ok(MaintainSummary { tables: reports })
}

fn log_report(report: &MaintenanceReport) {
    tracing::info!(
        table = %report.location,
        dry_run = report.dry_run,
        version = ?report.version,
        first_unread = ?report.first_unread,
        compacted_files = report.compacted_files,
        written_files = report.written_files,
        vacuumed_files = report.vacuumed_files,
        logs_removed = report.logs_removed,
        checkpoint = ?report.checkpoint,
        "maintained"
    );
}

/// The maintenance schedule of one stage's tables.
pub struct Maintainer {
    config: Config,
    /// Per table location: when this stage last maintained it (never, at first: a stage
    /// maintains its tables at its first commit, then every interval), and the version of its
    /// last checkpoint.
    state: HashMap<String, (Option<Instant>, Option<u64>)>,
}

impl Maintainer {
    pub fn new(config: &Config) -> Self {
        Self { config: config.clone(), state: HashMap::new() }
    }

    fn settings(&self) -> &MaintenanceConfig {
        &self.config.maintenance
    }

    /// Called by the stage between its commits to `table` (after one, or while idle): a full run
    /// every `interval` (when enabled), else a checkpoint every `checkpoint_interval` commits.
    /// Failures are logged and counted, never returned: the stage's own work goes on.
    pub async fn maintain_if_due(&mut self, table: &mut StageTable) {
        let location = table.location().to_owned();
        let started = Instant::now();
        let outcome = self.tick(table).await;
        let label = crate::telemetry::TableLabel { table: location.clone() };
        match outcome {
            Ok(false) => {}
            Ok(true) => crate::telemetry::metrics().maintenance_seconds.get_or_create(&label).observe(started.elapsed().as_secs_f64()),
            Err(error) => {
                crate::telemetry::metrics().maintenance_failures.get_or_create(&label).inc();
                tracing::warn!(table = %location, %error, "table maintenance failed; the stage goes on and the next run retries");
            }
        }
    }

    /// Whether anything ran.
    async fn tick(&mut self, table: &mut StageTable) -> Result<bool, TableError> {
        let location = table.location().to_owned();
        let version = table.version().unwrap_or(0);
        let (last_run, checkpoint) = match self.state.get(&location) {
            Some(state) => *state,
            None => (None, table.last_checkpoint().await?),
        };
        if self.settings().enabled && last_run.is_none_or(|run| run.elapsed() >= self.settings().interval) {
            // Counted as run before it runs: a failing run is retried after an interval, not at
            // the next tick.
            self.state.insert(location.clone(), (Some(Instant::now()), checkpoint));
            let first_unread = match lake_tables(&self.config).into_iter().find(|t| self.config.lake.table_location(&t.path) == location) {
                Some(lake_table) => first_unread(&self.config, &lake_table, &table.table_id()?).await?,
                // Not a stage table: a gold model's, which nothing reads.
                None => None,
            };
            let report = table.maintain(self.settings(), first_unread, false).await?;
            log_report(&report);
            let checkpoint = report.checkpoint.or(checkpoint);
            self.state.insert(location, (Some(Instant::now()), checkpoint));
            return Ok(true);
        }
        if checkpoint.is_none_or(|c| version >= c + self.settings().checkpoint_interval) {
            let written = table.checkpoint().await?;
            tracing::debug!(table = %location, version = written, "checkpoint written");
            self.state.insert(location, (last_run, Some(written)));
            return Ok(true);
        }
        self.state.insert(location, (last_run, checkpoint));
        Ok(false)
    }
}
