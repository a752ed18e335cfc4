//! One gold refresh: read what silver (and quarantine) added since each table's position, bring
//! the current state and every gold table to the silver version read, commit only what moved.
//!
//! A refresh runs in steps of at most `gold.batch_bytes` of silver files (see [`step`]), so
//! catching up after a long stop holds one step in memory, not the backlog.

mod step;

use std::time::Duration;

use arrow::datatypes::{Schema, SchemaRef};
use tokio_util::sync::CancellationToken;

use super::GoldError;
use super::aggregate::{Aggregate, Upkeep};
use super::current::CurrentSpec;
use super::quality;
use super::ranged::Ranges;
use crate::config::Config;
use crate::table::{DataFile, SourceKey, StageTable, TableReader};

/// What a refresh did to one table.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TableRefresh {
    pub table: String,
    pub location: String,
    /// The table's version after the refresh.
    pub version: Option<u64>,
    /// Rows this refresh wrote (the files it rewrote); 0 when it was up to date.
    pub rows: u64,
    /// Whether this refresh committed to it (false: it already reflected the silver version).
    pub committed: bool,
}

/// The `--json` summary of `medallion gold`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct GoldSummary {
    pub silver_table: String,
    /// The silver version every table now reflects.
    pub silver_version: u64,
    pub refreshes: u64,
    pub commits: u64,
    pub tables: Vec<TableRefresh>,
}

impl GoldSummary {
    /// Adds what one step did to a table to what earlier steps of the refresh did to it.
    fn record(&mut self, step: TableRefresh) {
        match self.tables.iter_mut().find(|t| t.table == step.table) {
            Some(table) => {
                table.rows += step.rows;
                table.committed |= step.committed;
                table.version = step.version.or(table.version);
            }
            None => self.tables.push(step),
        }
    }
}

/// A gold table computed by an aggregate, opened once it exists.
struct AggregateTable {
    aggregate: Aggregate,
    location: String,
    table: Option<StageTable>,
}

/// The current-state and gold tables, with their silver (and quarantine) sources.
pub struct Gold {
    storage_options: std::collections::HashMap<String, String>,
    spec: CurrentSpec,
    silver: TableReader,
    /// What the silver versions this refresh reads appended.
    silver_appends: SilverAppends,
    /// How the current table and the gold tables record their position in silver.
    current_key: SourceKey,
    gold_key: SourceKey,
    quarantine_location: String,
    quarantine_table: String,
    /// Quarantine, once it exists, and how `quality_daily` records its position there.
    quarantine: Option<(TableReader, SourceKey)>,
    /// Silver's own position in bronze: quarantine versions beyond it are not final.
    bronze_key: SourceKey,
    /// Silver columns the current state needs.
    silver_read_schema: SchemaRef,
    current_schema: SchemaRef,
    current: StageTable,
    /// How the current table is laid out (by the entity column).
    current_ranges: Ranges,
    aggregates: Vec<AggregateTable>,
    quality: StageTable,
    /// `silver.quality_threshold`, which each day of `quality_daily` is judged against.
    quality_threshold: f64,
    /// `quality_daily`'s path under the lake (the metric label).
    quality_table: String,
    /// Rows per file of the tables kept in key ranges.
    file_rows: usize,
    /// Silver bytes one step merges at most.
    batch_bytes: u64,
}

impl Gold {
    /// Opens silver and creates the current and quality tables if needed; `SilverMissing` when
    /// silver does not exist yet.
    pub async fn open(config: &Config) -> Result<Self, GoldError> {
        deltalake::azure::register_handlers(None);
        let storage_options = config.lake.storage_options();
        let location = |table: &str| config.lake.table_location(table);
        let silver_location = location(&config.silver.table);
        let silver = TableReader::open(&silver_location, storage_options.clone())
            .await?
            .ok_or_else(|| GoldError::SilverMissing { location: silver_location.clone() })?;
        let bronze_location = location(&config.bronze.table);
        let bronze = TableReader::open(&bronze_location, storage_options.clone())
            .await?
            .ok_or(GoldError::BronzeMissing { location: bronze_location.clone() })?;
        let bronze_key = SourceKey::silver(bronze.table_id()?, &bronze_location, &config.bronze.table);
        let silver_id = silver.table_id()?;
        let silver_schema = crate::silver::schemas(config).map_err(|e| GoldError::SilverSchema(Box::new(e)))?.silver;
        let stream = config.stream();
        let spec = CurrentSpec::of(&stream.current);
        let current_schema = spec.schema(&silver_schema).map_err(GoldError::CurrentSchema)?;
        let read_fields =
            silver_schema.fields().iter().filter(|f| current_schema.field_with_name(f.name()).is_ok() || f.name() == crate::rules::column::ERRORS);
        let silver_read_schema = std::sync::Arc::new(Schema::new(read_fields.cloned().collect::<Vec<_>>()));
        let current = StageTable::open_or_create(&location(&config.gold.current_table), storage_options.clone(), current_schema.clone(), &[])
            .await?
            .key_ordered();
        let quality =
            StageTable::open_or_create(&location(&config.gold.quality_daily_table), storage_options.clone(), quality::schema(), &[]).await?;
        let mut aggregates = Vec::new();
        for aggregate in super::model::load(&stream.gold_models)? {
            let table_location = location(&super::model::table_path(&aggregate.name));
            let mut table = StageTable::open_existing(&table_location, storage_options.clone()).await?;
            if matches!(aggregate.upkeep, Upkeep::PerEntity) {
                table = table.map(StageTable::key_ordered);
            }
            aggregates.push(AggregateTable { aggregate, location: table_location, table });
        }
        Ok(Self {
            current_key: SourceKey::current(silver_id.clone(), &silver_location, &config.silver.table),
            gold_key: SourceKey::gold(silver_id, &silver_location, &config.silver.table),
            bronze_key,
            quarantine_location: location(&config.silver.quarantine_table),
            quarantine_table: config.silver.quarantine_table.clone(),
            quality_threshold: config.silver.quality_threshold,
            quality_table: config.gold.quality_daily_table.clone(),
            quarantine: None,
            storage_options,
            silver,
            silver_read_schema,
            current_schema,
            current_ranges: Ranges { key: spec.entity().to_owned(), file_rows: config.gold.file_rows },
            current,
            silver_appends: SilverAppends::default(),
            aggregates,
            quality,
            file_rows: config.gold.file_rows,
            batch_bytes: config.gold.batch_bytes,
            spec,
        })
    }

    /// Maintains the current and gold tables as `maintainer` schedules it, after a refresh.
    pub async fn maintain(&mut self, maintainer: &mut crate::maintain::Maintainer) {
        maintainer.maintain_if_due(&mut self.current).await;
        for aggregate in &mut self.aggregates {
            if let Some(table) = &mut aggregate.table {
                maintainer.maintain_if_due(table).await;
            }
        }
        maintainer.maintain_if_due(&mut self.quality).await;
    }

    /// Brings every table to the newest silver version, in steps of at most `gold.batch_bytes`;
    /// commits nothing when all are there.
    pub async fn refresh(&mut self) -> Result<GoldSummary, GoldError> {
        let silver_version = self.silver.refresh().await?;
        self.silver_appends = SilverAppends::default();
        let bronze_position = self.silver.source_position(&self.bronze_key, &[]).await?;
        let mut summary = GoldSummary { silver_table: self.silver.location().to_owned(), silver_version, refreshes: 1, ..GoldSummary::default() };
        loop {
            self.current.refresh().await?;
            let from = as_version(self.current.source_position(&self.current_key, &[]).await?);
            let until = self.step_end(from, silver_version).await?;
            let touched = self.step_current(from, until, &mut summary).await?;
            for index in 0..self.aggregates.len() {
                self.step_aggregate(index, until, touched.as_ref(), &mut summary).await?;
            }
            self.step_quality(until, bronze_position, &mut summary).await?;
            self.silver_appends.forget_through(until);
            if until >= silver_version {
                break;
            }
            tracing::debug!(until, silver_version, "gold step done; catching up");
        }
        summary.commits = summary.tables.iter().filter(|t| t.committed).count() as u64;
        tracing::info!(silver_version, commits = summary.commits, "gold refreshed");
        Ok(summary)
    }

    /// The last silver version of the step starting after `from`: the versions up to
    /// `gold.batch_bytes` of appended files (at least one version), at most `latest`.
    async fn step_end(&mut self, from: Option<u64>, latest: u64) -> Result<u64, GoldError> {
        let mut bytes = 0;
        for version in from.map_or(0, |v| v + 1)..=latest {
            bytes += self.silver_appends.since(&self.silver, version.checked_sub(1), version).await?.iter().map(|f| f.size).sum::<u64>();
            if bytes >= self.batch_bytes {
                return Ok(version);
            }
        }
        Ok(latest)
    }
}

/// How often a one-off refresh (`medallion gold`) tries before a transient failure is final.
const ONE_OFF_ATTEMPTS: u32 = 6;

/// Refreshes once (`medallion gold`), or every `gold.interval` until cancelled when
/// `keep_running`. Storage trouble and concurrent writers (another gold on the same lake) are
/// retried with backoff, a one-off refresh [`ONE_OFF_ATTEMPTS`] times; other errors stop it.
#[tracing::instrument(name = "gold", skip_all, fields(silver = %config.silver.table))]
pub async fn run(config: &Config, keep_running: bool, cancel: CancellationToken) -> Result<GoldSummary, GoldError> {
    let mut gold = Gold::open(config).await?;
    let mut maintainer = crate::maintain::Maintainer::new(config);
    let mut total: Option<GoldSummary> = None;
    let (mut backoff, mut failures) = (config.gold.retry_backoff, 0);
    loop {
        let pause = match gold.refresh().await {
            Ok(summary) => {
                (backoff, failures) = (config.gold.retry_backoff, 0);
                gold.maintain(&mut maintainer).await;
                let refreshed = match total.take() {
                    Some(before) => GoldSummary { refreshes: before.refreshes + 1, commits: before.commits + summary.commits, ..summary },
                    None => summary,
                };
                if !keep_running {
                    return Ok(refreshed);
                }
                total = Some(refreshed);
                config.gold.interval
            }
            Err(error) if error.is_transient() && (keep_running || failures + 1 < ONE_OFF_ATTEMPTS) => {
                failures += 1;
                tracing::warn!(%error, retry_in = ?backoff, failures, "gold refresh failed; retrying");
                let pause = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                pause
            }
            Err(error) => return Err(error),
        };
        tokio::select! {
            () = cancel.cancelled() => return Ok(total.unwrap_or_default()),
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// The files each silver version appended, each entry read once per refresh: the current
/// table and every gold table ask for the same versions.
#[derive(Default)]
struct SilverAppends(std::collections::BTreeMap<u64, Vec<DataFile>>);

impl SilverAppends {
    /// The files versions `after+1..=until` of `silver` appended; a version that deleted or
    /// rewrote rows stops gold (the current state and aggregates would miss the change).
    async fn since(&mut self, silver: &TableReader, after: Option<u64>, until: u64) -> Result<Vec<DataFile>, GoldError> {
        let mut files = Vec::new();
        for version in after.map_or(0, |v| v + 1)..=until {
            if let std::collections::btree_map::Entry::Vacant(missing) = self.0.entry(version) {
                missing.insert(silver.entry(version).await?.appended_only(silver.location(), version)?);
            }
            files.extend(self.0.get(&version).into_iter().flatten().cloned());
        }
        Ok(files)
    }

    /// Drops the entries of versions up to `version` (a finished step).
    fn forget_through(&mut self, version: u64) {
        self.0 = self.0.split_off(&(version + 1));
    }
}

fn as_version(position: Option<i64>) -> Option<u64> {
    position.and_then(|p| u64::try_from(p).ok())
}

/// What a step did to `table`: the rows it wrote, or nothing (`None`) when it was up to date.
fn report(name: &str, table: &StageTable, written: Option<usize>) -> TableRefresh {
    let rows = written.unwrap_or(0) as u64;
    if written.is_some() {
        crate::telemetry::metrics().rows(name, "out", rows);
    }
    TableRefresh { table: name.to_owned(), location: table.location().to_owned(), version: table.version(), rows, committed: written.is_some() }
}

fn arrow_error(table: &str, error: arrow::error::ArrowError) -> GoldError {
    GoldError::Arrow { table: table.to_owned(), message: error.to_string() }
}

impl std::fmt::Display for GoldSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tables: Vec<String> = self
            .tables
            .iter()
            .map(|t| if t.committed { format!("{} {} rows written", t.table, t.rows) } else { format!("{} up to date", t.table) })
            .collect();
        write!(f, "gold: silver version {}, {} commits: {}", self.silver_version, self.commits, tables.join(", "))
    }
}
