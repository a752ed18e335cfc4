//! The silver loop: position from the tables, read the next bronze batch, refine it on a
//! blocking thread, commit; poll bronze when caught up; back off on storage trouble.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::SilverError;
use super::metrics::{RowCounts, metrics_schema};
use super::refine::{SilverSchemas, refine};
use super::source::{BatchLimits, BronzeSlice, BronzeSource};
use super::tables::{BatchRecord, Positions, SilverTables};
use crate::config::Config;
use crate::rules::{RulesEngine, RunInfo};
use crate::table::SourceKey;

/// Why the stage stopped (successfully).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SilverStop {
    #[default]
    Signal,
    CaughtUp,
}

/// The `--json` summary of a silver run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SilverSummary {
    pub bronze_table: String,
    pub silver_table: String,
    pub rules: String,
    pub rule_set_fingerprint: String,
    pub mode: String,
    pub run_id: String,
    /// Batches checked and committed.
    pub batches: u64,
    /// Delta commits over the three tables.
    pub commits: u64,
    pub files: u64,
    pub bytes: u64,
    /// Bronze versions consumed in this run (first, last).
    pub bronze_versions: Option<(u64, u64)>,
    pub silver_version: Option<u64>,
    pub rows: RowCounts,
    pub stop: SilverStop,
}

/// Runs the silver stage until cancelled, or until it has consumed the bronze version current
/// at start when `until_caught_up`.
#[tracing::instrument(name = "silver", skip_all, fields(bronze = %config.bronze.table, table = %config.silver.table))]
pub async fn run(config: &Config, until_caught_up: bool, cancel: CancellationToken) -> Result<SilverSummary, SilverError> {
    deltalake::azure::register_handlers(None);
    let (rules, rules_name) = super::stream_rules(config)?;
    let schemas = super::schemas(config)?;
    let engine = Arc::new(rules.compile(schemas.input.clone())?);
    let bronze_location = config.lake.table_location(&config.bronze.table);
    let Some(mut source) = wait_for_bronze(config, &bronze_location, &schemas, until_caught_up, &cancel).await? else {
        return Ok(SilverSummary { stop: SilverStop::Signal, ..SilverSummary::default() });
    };
    let silver = &config.silver;
    let locations = [silver.table.as_str(), silver.quarantine_table.as_str(), silver.metrics_table.as_str()].map(|t| config.lake.table_location(t));
    let mut tables = SilverTables::open(
        [&locations[0], &locations[1], &locations[2]],
        config.lake.storage_options(),
        [schemas.silver.clone(), schemas.quarantine.clone(), metrics_schema()],
        SourceKey::silver(source.table_id()?, &bronze_location, &config.bronze.table),
    )
    .await?;
    let target = if until_caught_up { Some(source.latest_version().await?) } else { None };
    let run_id = uuid::Uuid::new_v4().to_string();
    tracing::info!(bronze = %bronze_location, silver = %locations[0], rules = %rules_name, mode = silver.mode.as_str(), ?target, "silver stage started");
    let mut stage = Stage {
        maintainer: crate::maintain::Maintainer::new(config),
        ahead: None,
        config,
        engine,
        schemas,
        summary: SilverSummary {
            bronze_table: bronze_location,
            silver_table: locations[0].clone(),
            rules: rules_name,
            rule_set_fingerprint: rules.fingerprint.clone(),
            mode: silver.mode.as_str().to_owned(),
            run_id,
            ..SilverSummary::default()
        },
    };
    stage.run(&mut source, &mut tables, target, cancel).await?;
    Ok(stage.summary)
}

/// Opens bronze, waiting for it to appear unless `until_caught_up` (then its absence is an
/// error). `None` when cancelled while waiting.
async fn wait_for_bronze(
    config: &Config,
    location: &str,
    schemas: &SilverSchemas,
    until_caught_up: bool,
    cancel: &CancellationToken,
) -> Result<Option<BronzeSource>, SilverError> {
    let mut waited = Duration::ZERO;
    loop {
        if let Some(source) = BronzeSource::open(location, config.lake.storage_options(), schemas.read.clone()).await? {
            return Ok(Some(source.skipping(&config.silver.skip_bronze_versions)));
        }
        if until_caught_up {
            return Err(SilverError::BronzeMissing { location: location.to_owned() });
        }
        if waited.as_secs().is_multiple_of(30) {
            tracing::info!(bronze = %location, "waiting for the bronze table to be created");
        }
        tokio::select! {
            () = cancel.cancelled() => return Ok(None),
            () = tokio::time::sleep(Duration::from_secs(1)) => waited += Duration::from_secs(1),
        }
    }
}

struct Stage<'a> {
    config: &'a Config,
    engine: Arc<RulesEngine>,
    schemas: SilverSchemas,
    summary: SilverSummary,
    maintainer: crate::maintain::Maintainer,
    /// The next batch, read and being checked on the blocking pool while the one before it
    /// commits: the checking of one batch overlaps the encoding of the other on two cores.
    ahead: Option<Ahead>,
}

/// A batch being checked on the blocking pool.
struct Checking {
    first_version: u64,
    last_version: u64,
    run: RunInfo,
    refined: tokio::task::JoinHandle<Result<super::Refined, SilverError>>,
}

/// A batch checked ahead, and the silver position it continues from (taken only if silver is
/// still there: after a failed commit the positions are read again and it is dropped).
struct Ahead {
    after: Option<u64>,
    batch: Checking,
}

impl Stage<'_> {
    async fn run(
        &mut self,
        source: &mut BronzeSource,
        tables: &mut SilverTables,
        target: Option<u64>,
        cancel: CancellationToken,
    ) -> Result<(), SilverError> {
        let settings = &self.config.silver;
        let limits = BatchLimits { max_versions: settings.max_batch_versions, max_bytes: settings.max_batch_bytes };
        let mut positions: Option<Positions> = None;
        let mut backoff = settings.retry_backoff;
        while !cancel.is_cancelled() {
            let step = self.step(source, tables, &mut positions, target, limits).await;
            let pause = match step {
                Ok(Step::Committed) => {
                    backoff = settings.retry_backoff;
                    continue;
                }
                Ok(Step::CaughtUp) if target.is_some() => {
                    self.summary.stop = SilverStop::CaughtUp;
                    return Ok(());
                }
                Ok(Step::CaughtUp) => {
                    tables.maintain(&mut self.maintainer).await;
                    settings.poll_interval
                }
                Err(error) if error.is_transient() => {
                    tracing::warn!(%error, retry_in = ?backoff, "silver: storage trouble; retrying from the tables' positions");
                    positions = None;
                    let pause = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    pause
                }
                Err(error) => return Err(error),
            };
            tokio::select! {
                () = cancel.cancelled() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
        self.summary.stop = SilverStop::Signal;
        Ok(())
    }

    /// Checks and commits the next batch, if bronze has one.
    async fn step(
        &mut self,
        source: &mut BronzeSource,
        tables: &mut SilverTables,
        positions: &mut Option<Positions>,
        target: Option<u64>,
        limits: BatchLimits,
    ) -> Result<Step, SilverError> {
        let current = match positions {
            Some(known) => *known,
            None => *positions.insert(tables.positions().await?),
        };
        let latest = match target {
            Some(target) => target,
            None => source.latest_version().await?,
        };
        if current.silver.is_some_and(|done| done >= latest) {
            return Ok(Step::CaughtUp);
        }
        let ahead = self.ahead.take().filter(|ahead| ahead.after == current.silver);
        let (batch, repair) = match (current.unfinished_batch_end(), ahead) {
            (Some(end), _) => {
                let record = tables.recorded_batch(end).await?;
                self.check_repairable(record.as_ref(), end)?;
                tracing::info!(silver = ?current.silver, batch_end = end, ?record, "finishing the batch a previous run left half-committed");
                let run = match &record {
                    Some(record) => RunInfo {
                        run_time_micros: record.run_time_micros,
                        run_id: record.run_id.clone(),
                        rule_set_fingerprint: self.engine.fingerprint.clone(),
                    },
                    None => self.engine.run_info(self.summary.run_id.clone()),
                };
                (self.start_checking(source.read(current.silver, end, None).await?, run), record)
            }
            (None, Some(ahead)) => (ahead.batch, None),
            (None, None) => {
                let run = self.engine.run_info(self.summary.run_id.clone());
                (self.start_checking(source.read(current.silver, latest, Some(limits)).await?, run), None)
            }
        };
        if repair.is_none() && batch.last_version < latest {
            self.check_ahead(source, batch.last_version, latest, limits).await;
        }
        let span = tracing::info_span!("silver_batch", bronze_from = batch.first_version, bronze_to = batch.last_version);
        let mut updated = current;
        let result = self.check_and_commit(batch, tables, &mut updated).instrument(span).await;
        // Commits that landed count even when a later one failed.
        *positions = Some(updated);
        result.map(|()| Step::Committed)
    }

    /// Starts checking `slice` on the blocking pool.
    fn start_checking(&self, slice: BronzeSlice, run: RunInfo) -> Checking {
        let (engine, schemas, mode) = (Arc::clone(&self.engine), self.schemas.clone(), self.config.silver.mode);
        let threshold = self.config.silver.quality_threshold;
        let versions = slice.first_version..=slice.last_version;
        let batch = slice.batch;
        let checked_run = run.clone();
        let refined = tokio::task::spawn_blocking(move || refine(&engine, &schemas, &batch, mode, threshold, &checked_run, versions));
        Checking { first_version: slice.first_version, last_version: slice.last_version, run, refined }
    }

    /// Reads the batch after bronze version `after` and starts checking it. A read that fails is
    /// left to the next step, which reads again and reports.
    async fn check_ahead(&mut self, source: &BronzeSource, after: u64, latest: u64, limits: BatchLimits) {
        match source.read(Some(after), latest, Some(limits)).await {
            Ok(slice) => {
                let run = self.engine.run_info(self.summary.run_id.clone());
                self.ahead = Some(Ahead { after: Some(after), batch: self.start_checking(slice, run) });
            }
            Err(error) => tracing::debug!(%error, after, "reading ahead failed; the next batch is read again when its turn comes"),
        }
    }

    /// A half-committed batch is finished only as it was begun: same rules, same mode (a batch
    /// recorded before records existed is checked with the configured ones).
    fn check_repairable(&self, record: Option<&BatchRecord>, end: u64) -> Result<(), SilverError> {
        let mode = self.config.silver.mode.as_str();
        match record {
            Some(record) if record.rule_set_fingerprint != self.engine.fingerprint || record.mode != mode => Err(SilverError::RepairMismatch {
                bronze_version: end,
                recorded_rules: record.rule_set_fingerprint.clone(),
                recorded_mode: record.mode.clone(),
                rules: self.engine.fingerprint.clone(),
                mode: mode.to_owned(),
            }),
            Some(_) => Ok(()),
            None => {
                tracing::warn!(
                    batch_end = end,
                    "the half-committed batch has no record of how it was checked (written by an earlier version): checking it with the configured rules"
                );
                Ok(())
            }
        }
    }

    /// Commits one batch once it is checked.
    async fn check_and_commit(&mut self, batch: Checking, tables: &mut SilverTables, positions: &mut Positions) -> Result<(), SilverError> {
        let started = std::time::Instant::now();
        let mode = self.config.silver.mode;
        let threshold = self.config.silver.quality_threshold;
        let run = batch.run;
        let record = BatchRecord {
            run_id: run.run_id.clone(),
            run_time_micros: run.run_time_micros,
            rule_set_fingerprint: run.rule_set_fingerprint.clone(),
            mode: mode.as_str().to_owned(),
        };
        let slice = (batch.first_version, batch.last_version);
        let refined = batch.refined.await??;
        let report = tables.commit(&refined, slice.1, &record, positions).await?;
        tables.maintain(&mut self.maintainer).await;
        let counts = refined.counts;
        record_metrics(&refined);
        judge_quality(&refined.counts, threshold, &self.config.silver.metrics_table, slice);
        tracing::info!(
            rows = counts.input,
            silver = counts.silver,
            quarantined = counts.quarantined,
            dropped = counts.dropped,
            errors = counts.with_errors,
            warnings = counts.with_warnings,
            silver_version = report.silver_version,
            millis = started.elapsed().as_millis() as u64,
            "silver batch committed"
        );
        let summary = &mut self.summary;
        summary.batches += 1;
        summary.commits += report.commits;
        summary.files += report.files;
        summary.bytes += report.bytes;
        summary.rows.add(&counts);
        summary.silver_version = Some(report.silver_version);
        summary.bronze_versions = Some((summary.bronze_versions.map_or(slice.0, |(first, _)| first), slice.1));
        Ok(())
    }
}

/// Rows in and out and failures per rule, for the Prometheus endpoint.
fn record_metrics(refined: &super::refine::Refined) {
    let metrics = crate::telemetry::metrics();
    let counts = &refined.counts;
    metrics.rows("silver", "in", counts.input);
    metrics.rows("silver", "out", counts.silver);
    metrics.rows("quarantine", "out", counts.quarantined);
    metrics.rows("dropped", "out", counts.dropped);
    for failures in &refined.rule_failures {
        let label = crate::telemetry::RuleLabel { rule: failures.rule.clone(), criticality: failures.criticality.to_owned() };
        metrics.rule_failures.get_or_create(&label).inc_by(failures.rows);
    }
}

/// The quality gate of one batch: a WARN line and a count when it is below the threshold, the
/// batch's pass share as a gauge either way.
fn judge_quality(counts: &RowCounts, threshold: f64, metrics_table: &str, bronze_versions: (u64, u64)) {
    let Some(share) = counts.error_pass_share() else { return };
    let label = crate::telemetry::QualityLabel { scope: "batch".to_owned(), table: metrics_table.to_owned() };
    let metrics = crate::telemetry::metrics();
    metrics.error_pass_share.get_or_create(&label).set(share);
    if share < threshold {
        metrics.quality_below_threshold.get_or_create(&label).inc();
        tracing::warn!(
            share,
            threshold,
            rows = counts.input,
            errors = counts.with_errors,
            undecodable = counts.undecodable,
            bronze_from = bronze_versions.0,
            bronze_to = bronze_versions.1,
            "silver batch below the quality threshold: fewer rows than silver.quality_threshold passed the error checks"
        );
    }
}

enum Step {
    Committed,
    CaughtUp,
}

impl std::fmt::Display for SilverSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rows = &self.rows;
        write!(
            f,
            "silver: {} rows from bronze versions {} ({} to silver, {} quarantined, {} dropped; {} with errors, {} with warnings, {} undecodable) in {} batches; silver version {}",
            rows.input,
            self.bronze_versions.map_or_else(|| "none".to_owned(), |(first, last)| format!("{first}..={last}")),
            rows.silver,
            rows.quarantined,
            rows.dropped,
            rows.with_errors,
            rows.with_warnings,
            rows.undecodable,
            self.batches,
            self.silver_version.map_or_else(|| "unchanged".to_owned(), |v| v.to_string())
        )
    }
}
