//! The three tables silver writes, and the order it commits them in.
//!
//! Delta has no transaction across tables, so "all or none" is built from the `txn` every
//! commit carries (`silver:<bronze table id>` = last bronze version of the batch):
//!
//! 1. quarantine (only when the batch has quarantine rows), 2. quality metrics (always: at least
//!    the totals row), 3. silver (always, even with no rows: it is the commit point).
//!
//! Silver's `txn` is where the stage resumes. A crash after step 1 or 2 leaves quarantine or
//! metrics one batch ahead; on restart the batch after silver's position is re-read exactly up to
//! the furthest position found (so it is the same batch, dataset rules included), and each table
//! whose position already covers it skips its commit. Every commit also records in its
//! `commitInfo` how the batch was checked ([`BatchRecord`]: run id and time, rule set, mode), so
//! the repair checks it again at the same time with the same run id (same verdicts, same
//! validation timestamp, even for clock checks), and refuses when the rules or the mode changed. Silver last also means readers of silver
//! never see a row whose metrics and quarantined siblings are not yet written.

use std::collections::HashMap;

use arrow::datatypes::SchemaRef;

use super::refine::{Refined, SILVER_PART_ROWS};
use crate::table::{SourceKey, StageTable, TableError};

/// Each table's position: the last bronze version it holds (None: never committed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Positions {
    pub silver: Option<u64>,
    pub quarantine: Option<u64>,
    pub metrics: Option<u64>,
}

impl Positions {
    /// Where a crash left a batch half-committed: the last bronze version of that batch.
    pub fn unfinished_batch_end(&self) -> Option<u64> {
        let ahead = self.quarantine.max(self.metrics);
        (ahead > self.silver).then_some(ahead).flatten()
    }
}

/// How a batch was checked: recorded in the `commitInfo` of each of its commits
/// (`medallion.silverBatch`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BatchRecord {
    pub run_id: String,
    pub run_time_micros: i64,
    pub rule_set_fingerprint: String,
    pub mode: String,
}

/// The `commitInfo` key of a [`BatchRecord`].
const BATCH_RECORD: &str = "medallion.silverBatch";
/// How many of quarantine's and metrics' newest commits are searched for a half-committed batch.
const RECORD_SEARCH_VERSIONS: u64 = 20;

/// What one batch's commits produced.
#[derive(Debug, Clone, Copy, Default)]
pub struct CommitReport {
    pub silver_version: u64,
    pub commits: u64,
    pub files: u64,
    pub bytes: u64,
}

/// Silver, quarantine and metrics, positioned in bronze by `source`.
pub struct SilverTables {
    silver: StageTable,
    quarantine: StageTable,
    metrics: StageTable,
    source: SourceKey,
}

impl SilverTables {
    pub async fn open(
        locations: [&str; 3],
        storage_options: HashMap<String, String>,
        schemas: [SchemaRef; 3],
        source: SourceKey,
    ) -> Result<Self, TableError> {
        let [silver_schema, quarantine_schema, metrics_schema] = schemas;
        // Statistics for the top-level columns only (see `rules::writer_properties`).
        let silver = StageTable::open_or_create(locations[0], storage_options.clone(), silver_schema.clone(), &[])
            .await?
            .with_writer_properties(crate::rules::writer_properties(&silver_schema));
        let quarantine = StageTable::open_or_create(locations[1], storage_options.clone(), quarantine_schema.clone(), &[])
            .await?
            .with_writer_properties(crate::rules::writer_properties(&quarantine_schema));
        let metrics = StageTable::open_or_create(locations[2], storage_options, metrics_schema, &[]).await?;
        Ok(Self { silver, quarantine, metrics, source })
    }

    pub fn silver_location(&self) -> &str {
        self.silver.location()
    }

    /// Reloads every table and reads its position.
    pub async fn positions(&mut self) -> Result<Positions, TableError> {
        let read = async |table: &mut StageTable| -> Result<Option<u64>, TableError> {
            table.refresh().await?;
            Ok(table.source_position(&self.source, &[]).await?.and_then(|v| u64::try_from(v).ok()))
        };
        Ok(Positions {
            silver: read(&mut self.silver).await?,
            quarantine: read(&mut self.quarantine).await?,
            metrics: read(&mut self.metrics).await?,
        })
    }

    /// Commits one batch ending at bronze version `last`, skipping the tables that hold it
    /// already; `positions` is updated as each commit lands.
    pub async fn commit(
        &mut self,
        refined: &Refined,
        last: u64,
        record: &BatchRecord,
        positions: &mut Positions,
    ) -> Result<CommitReport, TableError> {
        let txn = [(self.source.app_id(), last as i64)];
        let metadata = serde_json::to_value(record).ok().map(|value| (BATCH_RECORD.to_owned(), value));
        let holds = |position: Option<u64>| position.is_some_and(|p| p >= last);
        let mut report = CommitReport::default();
        let count = |info: crate::table::CommitInfo, report: &mut CommitReport| {
            report.commits += 1;
            report.files += info.files;
            report.bytes += info.bytes;
            info.version
        };
        if refined.quarantine.num_rows() > 0 && !holds(positions.quarantine) {
            let info = self.quarantine.append_recording(std::slice::from_ref(&refined.quarantine), &txn, metadata.clone()).await?;
            count(info, &mut report);
            positions.quarantine = Some(last);
        }
        if !holds(positions.metrics) {
            let info = self.metrics.append_recording(std::slice::from_ref(&refined.metrics), &txn, metadata.clone()).await?;
            count(info, &mut report);
            positions.metrics = Some(last);
        }
        let info = self.silver.append_parts(Box::new(refined.silver.parts(SILVER_PART_ROWS)), &txn, metadata).await?;
        report.silver_version = count(info, &mut report);
        positions.silver = Some(last);
        Ok(report)
    }
}

impl SilverTables {
    /// Maintains the three tables as `maintainer` schedules it, after a batch.
    pub async fn maintain(&mut self, maintainer: &mut crate::maintain::Maintainer) {
        for table in [&mut self.silver, &mut self.quarantine, &mut self.metrics] {
            maintainer.maintain_if_due(table).await;
        }
    }

    /// How the batch ending at bronze version `end` was checked, as its first commits recorded
    /// (`None` when they were written before records existed).
    pub async fn recorded_batch(&self, end: u64) -> Result<Option<BatchRecord>, TableError> {
        for table in [&self.quarantine, &self.metrics] {
            let Some(latest) = table.version() else { continue };
            for version in (latest.saturating_sub(RECORD_SEARCH_VERSIONS)..=latest).rev() {
                // Entries before the last checkpoint may be cleaned up: search what is there.
                let Some(entry) = table.kept_entry(version).await? else { break };
                if !entry.positions.iter().any(|(id, position)| self.source.matches(id) && *position == end as i64) {
                    continue;
                }
                if let Some(record) = entry.metadata.get(BATCH_RECORD).and_then(|value| serde_json::from_value(value.clone()).ok()) {
                    return Ok(Some(record));
                }
            }
        }
        Ok(None)
    }
}
