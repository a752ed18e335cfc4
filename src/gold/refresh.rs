//! One gold refresh: read what silver (and quarantine) added since each table's position, bring
//! the current state and every gold table to the silver version read, commit only what moved.

use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use tokio_util::sync::CancellationToken;

use super::GoldError;
use super::aggregate::{AGGREGATES, Aggregate};
use super::current::CurrentSpec;
use super::quality::{self, QualityDaily};
use crate::config::Config;
use crate::table::{DataFile, SourceKey, StageTable, TableReader};

/// What a refresh did to one table.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TableRefresh {
    pub table: String,
    pub location: String,
    /// The table's version after the refresh.
    pub version: Option<u64>,
    /// Rows this refresh wrote (the table's whole content); 0 when it was up to date.
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
    /// The current table's rows as of its version, kept between refreshes.
    current_rows: Option<(u64, RecordBatch)>,
    aggregates: Vec<(Aggregate, String, Option<StageTable>)>,
    quality: StageTable,
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
        let silver_schema = crate::silver::schemas(config).map_err(|e| GoldError::Schema(e.to_string()))?.silver;
        let spec = CurrentSpec::purchase_orders();
        let current_schema = spec.schema(&silver_schema).map_err(|e| GoldError::Schema(format!("current state: {e}")))?;
        let read_fields = silver_schema.fields().iter().filter(|f| current_schema.field_with_name(f.name()).is_ok() || f.name() == "_errors");
        let silver_read_schema = std::sync::Arc::new(Schema::new(read_fields.cloned().collect::<Vec<_>>()));
        let current = StageTable::open_or_create(&location(&config.gold.current_table), storage_options.clone(), current_schema.clone(), &[]).await?;
        let quality =
            StageTable::open_or_create(&location(&config.gold.quality_daily_table), storage_options.clone(), quality::schema(), &[]).await?;
        let gold = &config.gold;
        let aggregate_tables = [&gold.order_status_table, &gold.product_sales_table, &gold.vendor_spend_table];
        let aggregates = AGGREGATES.iter().zip(aggregate_tables).map(|(aggregate, table)| (*aggregate, location(table), None)).collect();
        Ok(Self {
            current_key: SourceKey::current(silver_id.clone(), &silver_location, &config.silver.table),
            gold_key: SourceKey::gold(silver_id, &silver_location, &config.silver.table),
            bronze_key,
            quarantine_location: location(&config.silver.quarantine_table),
            quarantine_table: config.silver.quarantine_table.clone(),
            quarantine: None,
            storage_options,
            spec,
            silver,
            silver_read_schema,
            current_schema,
            current,
            current_rows: None,
            silver_appends: SilverAppends::default(),
            aggregates,
            quality,
        })
    }

    /// Maintains the current and gold tables as `maintainer` schedules it, after a refresh.
    pub async fn maintain(&mut self, maintainer: &mut crate::maintain::Maintainer) {
        maintainer.maintain_if_due(&mut self.current).await;
        for (_, _, table) in &mut self.aggregates {
            if let Some(table) = table {
                maintainer.maintain_if_due(table).await;
            }
        }
        maintainer.maintain_if_due(&mut self.quality).await;
    }

    /// Brings every table to the newest silver version; commits nothing when all are there.
    pub async fn refresh(&mut self) -> Result<GoldSummary, GoldError> {
        let silver_version = self.silver.refresh().await?;
        self.silver_appends = SilverAppends::default();
        let bronze_position = self.silver.source_position(&self.bronze_key, &[]).await?;
        let mut summary = GoldSummary { silver_table: self.silver.location().to_owned(), silver_version, refreshes: 1, ..GoldSummary::default() };
        self.refresh_current(silver_version, &mut summary).await?;
        for index in 0..self.aggregates.len() {
            self.refresh_aggregate(index, silver_version, &mut summary).await?;
        }
        self.refresh_quality(silver_version, bronze_position, &mut summary).await?;
        summary.commits = summary.tables.iter().filter(|t| t.committed).count() as u64;
        tracing::info!(silver_version, commits = summary.commits, "gold refreshed");
        Ok(summary)
    }

    async fn refresh_current(&mut self, silver_version: u64, summary: &mut GoldSummary) -> Result<(), GoldError> {
        self.current.refresh().await?;
        let app_id = self.current_key.app_id();
        let position = as_version(self.current.source_position(&self.current_key, &[]).await?);
        if position.is_some_and(|p| p >= silver_version) {
            summary.tables.push(report("current", &self.current, None));
            return Ok(());
        }
        let files = self.silver_appends.since(&self.silver, position, silver_version).await?;
        if position.is_some() && files.is_empty() {
            // Silver versions without data (maintenance, empty batches): only the position moves.
            self.current.append(&[], &[(app_id, silver_version as i64)]).await?;
            summary.tables.push(report("current", &self.current, None));
            return Ok(());
        }
        let existing = self.current_rows().await?;
        let new_rows = self.silver.read(&files, &self.silver_read_schema, None).await?;
        let merged = self.spec.merge(&self.current_schema, &existing, &new_rows).map_err(|e| arrow_error("current", e))?;
        let info = self.current.replace(std::slice::from_ref(&merged), &[(app_id, silver_version as i64)]).await?;
        tracing::debug!(silver_rows = new_rows.num_rows(), current_rows = merged.num_rows(), version = info.version, "current state merged");
        summary.tables.push(report("current", &self.current, Some(&merged)));
        self.current_rows = Some((info.version, merged));
        Ok(())
    }

    /// The current table's rows: from memory when nobody else committed since, else from storage
    /// (only read when a table needs them).
    async fn current_rows(&mut self) -> Result<RecordBatch, GoldError> {
        if let Some((version, rows)) = &self.current_rows
            && Some(*version) == self.current.version()
        {
            return Ok(rows.clone());
        }
        let rows = read_all(self.current.location(), &self.storage_options, &self.current_schema).await?;
        self.current_rows = self.current.version().map(|v| (v, rows.clone()));
        Ok(rows)
    }

    async fn refresh_aggregate(&mut self, index: usize, silver_version: u64, summary: &mut GoldSummary) -> Result<(), GoldError> {
        let app_id = self.gold_key.app_id();
        let (aggregate, _, table) = &mut self.aggregates[index];
        if let Some(table) = table.as_mut() {
            table.refresh().await?;
            let position = as_version(table.source_position(&self.gold_key, &[]).await?);
            if position.is_some_and(|p| p >= silver_version) {
                summary.tables.push(report(aggregate.name, table, None));
                return Ok(());
            }
            // No silver rows since: the current state, and so the aggregate, is what it was.
            if position.is_some() && self.silver_appends.since(&self.silver, position, silver_version).await?.is_empty() {
                table.append(&[], &[(app_id, silver_version as i64)]).await?;
                summary.tables.push(report(aggregate.name, table, None));
                return Ok(());
            }
        }
        let current = self.current_rows().await?;
        let (aggregate, location, table) = &mut self.aggregates[index];
        let rows = aggregate.evaluate(&current).await?;
        let table = match table {
            Some(table) => table,
            None => table.insert(StageTable::open_or_create(location, self.storage_options.clone(), rows.schema(), &[]).await?),
        };
        let written = if as_version(table.source_position(&self.gold_key, &[]).await?).is_none_or(|p| p < silver_version) {
            table.replace(std::slice::from_ref(&rows), &[(app_id, silver_version as i64)]).await?;
            Some(&rows)
        } else {
            None
        };
        summary.tables.push(report(aggregate.name, table, written));
        Ok(())
    }

    async fn refresh_quality(&mut self, silver_version: u64, bronze_position: Option<i64>, summary: &mut GoldSummary) -> Result<(), GoldError> {
        self.quality.refresh().await?;
        let quarantine_key = self.open_quarantine().await?.map(|(_, key)| key.clone());
        let quarantine_keys: Vec<SourceKey> = quarantine_key.iter().cloned().collect();
        let silver_position = as_version(self.quality.source_position(&self.gold_key, &quarantine_keys).await?);
        let quarantine_position = match &quarantine_key {
            Some(key) => as_version(self.quality.source_position(key, std::slice::from_ref(&self.gold_key)).await?),
            None => None,
        };
        let (quarantine_files, quarantine_last) = self.final_quarantine_files(quarantine_position, bronze_position).await?;
        if silver_position.is_some_and(|p| p >= silver_version) && quarantine_last == quarantine_position {
            summary.tables.push(report("quality_daily", &self.quality, None));
            return Ok(());
        }
        let silver_files = self.silver_appends.since(&self.silver, silver_position, silver_version).await?;
        let mut positions = vec![(self.gold_key.app_id(), silver_version as i64)];
        positions.extend(quarantine_key.zip(quarantine_last).map(|(key, q)| (key.app_id(), q as i64)));
        if silver_position.is_some() && silver_files.is_empty() && quarantine_files.is_empty() {
            self.quality.append(&[], &positions).await?;
            summary.tables.push(report("quality_daily", &self.quality, None));
            return Ok(());
        }
        let existing = read_all(self.quality.location(), &self.storage_options, &quality::schema()).await?;
        let input = quality::input_schema();
        let mut daily = QualityDaily::default();
        daily.add_rows(&self.silver.read(&silver_files, &input, None).await?).map_err(|e| arrow_error("quality_daily", e))?;
        if let Some((quarantine, _)) = &self.quarantine {
            daily.add_rows(&quarantine.read(&quarantine_files, &input, None).await?).map_err(|e| arrow_error("quality_daily", e))?;
        }
        daily.absorb(QualityDaily::from_batch(&existing).map_err(|e| arrow_error("quality_daily", e))?);
        let rows = daily.to_batch().map_err(|e| arrow_error("quality_daily", e))?;
        self.quality.replace(std::slice::from_ref(&rows), &positions).await?;
        summary.tables.push(report("quality_daily", &self.quality, Some(&rows)));
        Ok(())
    }

    /// Quarantine files added after version `after` by batches silver has finished (quarantine
    /// commits before silver, so its newest batch may not be final yet), and the last such version.
    async fn final_quarantine_files(&mut self, after: Option<u64>, bronze_position: Option<i64>) -> Result<(Vec<DataFile>, Option<u64>), GoldError> {
        let Some((quarantine, _)) = self.quarantine.as_mut() else {
            return Ok((Vec::new(), after));
        };
        let latest = quarantine.refresh().await?;
        let (mut files, mut last) = (Vec::new(), after);
        for version in after.map_or(0, |v| v + 1)..=latest {
            let entry = quarantine.entry(version).await?;
            let batch_end = entry.positions.iter().find(|(app, _)| self.bronze_key.matches(app)).map(|(_, end)| *end);
            if batch_end.is_some_and(|end| Some(end) > bronze_position) {
                break;
            }
            files.extend(entry.appended_only(quarantine.location(), version)?);
            last = Some(version);
        }
        Ok((files, last))
    }
}

impl Gold {
    /// Quarantine and its key, opened once it exists (silver creates it on its first batch).
    async fn open_quarantine(&mut self) -> Result<Option<&(TableReader, SourceKey)>, GoldError> {
        if self.quarantine.is_none()
            && let Some(reader) = TableReader::open(&self.quarantine_location, self.storage_options.clone()).await?
        {
            let key = SourceKey::gold(reader.table_id()?, &self.quarantine_location, &self.quarantine_table);
            self.quarantine = Some((reader, key));
        }
        Ok(self.quarantine.as_ref())
    }
}

/// How often a one-off refresh (`medallion gold`) tries before a transient failure is final.
const ONE_OFF_ATTEMPTS: u32 = 6;

/// Refreshes once (`medallion gold`), or every `gold.interval` until cancelled when
/// `keep_running`. Storage trouble and concurrent writers (another gold on the same lake) are
/// retried with backoff, a one-off refresh [`ONE_OFF_ATTEMPTS`] times; other errors stop it.
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
}

/// Every row of the table at `location` as `schema` (none while it does not exist).
async fn read_all(location: &str, storage_options: &std::collections::HashMap<String, String>, schema: &SchemaRef) -> Result<RecordBatch, GoldError> {
    match TableReader::open(location, storage_options.clone()).await? {
        Some(reader) => Ok(reader.read_all(schema).await?),
        None => Ok(RecordBatch::new_empty(schema.clone())),
    }
}

fn as_version(position: Option<i64>) -> Option<u64> {
    position.and_then(|p| u64::try_from(p).ok())
}

/// What a refresh did to `table`: the rows it wrote, or nothing when it was up to date.
fn report(name: &str, table: &StageTable, written: Option<&RecordBatch>) -> TableRefresh {
    let rows = written.map_or(0, |rows| rows.num_rows() as u64);
    if written.is_some() {
        crate::telemetry::metrics().rows(name, "out", rows);
    }
    TableRefresh { table: name.to_owned(), location: table.location().to_owned(), version: table.version(), rows, committed: written.is_some() }
}

fn arrow_error(table: &str, error: arrow::error::ArrowError) -> GoldError {
    GoldError::Arrow { table: table.to_owned(), message: error.to_string() }
}
