//! Keeping one table cheap to read however old it is: checkpoints, compaction of small files,
//! VACUUM of removed files and cleanup of expired commit files.
//!
//! Every step keeps what a downstream reader still needs: `first_unread`, the oldest version of
//! this table some stage reading it has not consumed yet. Its commit files stay, and so do the
//! files removed after it was committed (the reader will still read the files that version and
//! later ones added, even when compaction has replaced them since).

mod compact;
mod logs;

use std::time::{Duration, SystemTime};

use deltalake::Path;
use object_store::ObjectStoreExt;

use super::{StageTable, TableError};
use crate::config::MaintenanceConfig;

/// Removed files a reader needs are kept this much longer than strictly necessary (at most the
/// retention itself): commit timestamps come from writers' clocks, which may disagree a little.
const CLOCK_MARGIN: Duration = Duration::from_secs(60);

/// How long a checkpoint keeps listing removed files (the table's
/// `delta.deletedFileRetentionDuration`, 7 days unless set): the VACUUM retention plus two
/// maintenance intervals and the clock margin, so that a VACUUM pass sees every removed file
/// once it may be deleted, and checkpoints do not carry tombstones longer than that (each one is
/// read again whenever a reader loads a new checkpoint: bronze's small files, compacted away,
/// leave tens of thousands a day).
pub fn tombstone_retention(config: &MaintenanceConfig) -> Duration {
    config.vacuum_retention + config.interval * 2 + CLOCK_MARGIN
}

/// The table property that holds [`tombstone_retention`].
const TOMBSTONE_RETENTION_PROPERTY: &str = "delta.deletedFileRetentionDuration";

/// The table property and value that set [`tombstone_retention`] for `config`.
pub(crate) fn tombstone_retention_property(config: &MaintenanceConfig) -> (&'static str, String) {
    (TOMBSTONE_RETENTION_PROPERTY, format!("interval {} seconds", tombstone_retention(config).as_secs()))
}

/// What one maintenance run did to one table (with `dry_run`: would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MaintenanceReport {
    pub location: String,
    pub dry_run: bool,
    /// The table's version after the run.
    pub version: Option<u64>,
    /// The oldest version a downstream reader has not read yet: kept with the files it needs.
    pub first_unread: Option<u64>,
    /// The version a checkpoint was written at.
    pub checkpoint: Option<u64>,
    /// Small files compacted, their bytes, and the files they became.
    pub compacted_files: u64,
    pub compacted_bytes: u64,
    pub written_files: u64,
    /// Removed data files VACUUM deleted.
    pub vacuumed_files: u64,
    /// Expired commit and checkpoint files deleted from `_delta_log`.
    pub logs_removed: u64,
}

impl std::fmt::Display for MaintenanceReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = if self.dry_run { "would compact" } else { "compacted" };
        let into = if self.dry_run { String::new() } else { format!(" into {}", self.written_files) };
        write!(
            f,
            "{}: {verb} {} files{into}, vacuumed {}, removed {} log files",
            self.location, self.compacted_files, self.vacuumed_files, self.logs_removed
        )
    }
}

impl StageTable {
    /// The version of the newest checkpoint, from `_delta_log/_last_checkpoint`.
    pub async fn last_checkpoint(&self) -> Result<Option<u64>, TableError> {
        let store = self.table.log_store().object_store(None);
        let path = Path::from("_delta_log/_last_checkpoint");
        let error = |e: &dyn std::fmt::Display| TableError::Read { location: self.location.clone(), message: format!("_last_checkpoint: {e}") };
        let bytes = match store.get(&path).await {
            Ok(found) => found.bytes().await,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(other) => Err(other),
        };
        let bytes = bytes.map_err(|e| error(&e))?;
        let last: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| error(&e))?;
        Ok(last.get("version").and_then(serde_json::Value::as_u64))
    }

    /// Writes a checkpoint at the loaded version.
    pub async fn checkpoint(&mut self) -> Result<u64, TableError> {
        let error = |source| TableError::Write { location: self.location.clone(), source: Box::new(source) };
        let version = self.table.version().unwrap_or(0);
        deltalake::checkpoints::create_checkpoint(&self.table, None).await.map_err(error)?;
        Ok(version)
    }

    /// One maintenance run: compaction, VACUUM, a checkpoint when there are commits since the
    /// last one, expired-log cleanup. `first_unread`: see the module documentation.
    pub async fn maintain(&mut self, config: &MaintenanceConfig, first_unread: Option<u64>, dry_run: bool) -> Result<MaintenanceReport, TableError> {
        self.refresh().await?;
        if !dry_run {
            self.set_tombstone_retention(config).await?;
        }
        let mut report = MaintenanceReport { location: self.location.clone(), dry_run, first_unread, ..MaintenanceReport::default() };
        let plan = compact::plan(self, config)?;
        report.compacted_files = plan.iter().map(|bin| bin.files.len() as u64).sum();
        report.compacted_bytes = plan.iter().map(|bin| bin.bytes).sum();
        if !dry_run && !plan.is_empty() {
            report.written_files = compact::run(self, plan, config.target_file_bytes).await?;
        }
        report.vacuumed_files = self.vacuum(config.vacuum_retention, first_unread, dry_run).await?;
        let version = self.table.version().unwrap_or(0);
        if !dry_run && self.last_checkpoint().await?.is_none_or(|c| c < version) {
            report.checkpoint = Some(self.checkpoint().await?);
        }
        let keep_from = first_unread.map_or(version, |unread| unread.min(version));
        let cutoff = SystemTime::now().checked_sub(config.log_retention).unwrap_or(SystemTime::UNIX_EPOCH);
        report.logs_removed = logs::remove_expired(self, keep_from, cutoff, dry_run).await?;
        report.version = self.table.version();
        Ok(report)
    }

    /// Sets the table's tombstone retention to [`tombstone_retention`] when it differs (one
    /// metadata commit, the first time and after the settings change).
    async fn set_tombstone_retention(&mut self, config: &MaintenanceConfig) -> Result<(), TableError> {
        let (_, wanted) = tombstone_retention_property(config);
        let error = |source| TableError::Write { location: self.location.clone(), source: Box::new(source) };
        let snapshot = self.table.snapshot().map_err(error)?;
        if snapshot.metadata().configuration().get(TOMBSTONE_RETENTION_PROPERTY) == Some(&wanted) {
            return Ok(());
        }
        let properties = std::collections::HashMap::from([(TOMBSTONE_RETENTION_PROPERTY.to_owned(), wanted.clone())]);
        let table = self.table.clone().set_tbl_properties().with_properties(properties).with_commit_properties(super::without_upkeep()).await;
        self.table = table.map_err(|error| super::commit_failure(&self.location, error))?;
        tracing::info!(table = %self.location, retention = %wanted, "tombstone retention set");
        Ok(())
    }

    /// Deletes files removed longer ago than `retention` and before `first_unread` was
    /// committed; the number deleted (to be deleted, with `dry_run`).
    async fn vacuum(&mut self, retention: Duration, first_unread: Option<u64>, dry_run: bool) -> Result<u64, TableError> {
        let version = self.table.version().unwrap_or(0);
        let mut retention = retention;
        if let Some(unread) = first_unread.filter(|&unread| unread <= version) {
            match logs::commit_time(self, unread).await? {
                Some(committed) => {
                    let age = SystemTime::now().duration_since(committed).unwrap_or_default();
                    retention = retention.max(age + CLOCK_MARGIN.min(retention));
                }
                // The reader cannot go on anyway (its next entry is gone); delete nothing.
                None => return Ok(0),
            }
        }
        let error = |source| TableError::Write { location: self.location.clone(), source: Box::new(source) };
        let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let (table, metrics) = self
            .table
            .clone()
            .vacuum()
            .with_retention_period(retention)
            .with_enforce_retention_duration(false)
            .with_dry_run(dry_run)
            .with_commit_properties(super::without_upkeep())
            .await
            .map_err(error)?;
        if !dry_run {
            self.table = table;
        }
        Ok(metrics.files_deleted.len() as u64)
    }
}

#[cfg(test)]
mod tests;
