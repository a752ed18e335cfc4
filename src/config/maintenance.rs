//! Table maintenance: checkpoints, expired-log cleanup, compaction and VACUUM, run by each stage
//! on its own tables while it runs, and by `medallion maintain` on demand.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the lake's tables are kept small and fast to read, whatever their age.
///
/// Commits never clean up or checkpoint on their own (that would list the whole `_delta_log`
/// after every commit): each stage does it for its tables, between its own commits, so
/// maintenance never conflicts with the stage's writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaintenanceConfig {
    /// Whether running stages compact, vacuum and clean up their tables every `interval`. Off,
    /// they still write checkpoints; run `medallion maintain` from a scheduler instead.
    pub enabled: bool,
    /// How often a running stage maintains its tables.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Commits between checkpoints of a table (Delta's `checkpointInterval`). Readers replay at
    /// most this many commit files on top of the last checkpoint.
    pub checkpoint_interval: u64,
    /// How long commit files stay in `_delta_log` (Delta's `logRetentionDuration`, 30 days):
    /// the time travel window. Entries a downstream stage has not read yet are always kept.
    #[serde(with = "humantime_serde")]
    pub log_retention: Duration,
    /// Data files smaller than this are compacted.
    pub small_file_bytes: u64,
    /// Compaction packs small files into files of about this size.
    pub target_file_bytes: u64,
    /// A partition is compacted once it holds at least this many small files.
    pub min_small_files: usize,
    /// At most this many bytes of small files are rewritten per maintenance run, so one run
    /// stays short however far behind compaction is.
    pub max_compaction_bytes: u64,
    /// How long files removed from a table (by compaction or a replace) are kept before VACUUM
    /// deletes them (Delta's `deletedFileRetentionDuration`, 7 days): readers of older versions
    /// need them. Files a downstream stage has not read yet are always kept.
    #[serde(with = "humantime_serde")]
    pub vacuum_retention: Duration,
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(10 * 60),
            checkpoint_interval: 100,
            log_retention: Duration::from_secs(30 * 24 * 3600),
            small_file_bytes: 16 << 20,
            target_file_bytes: 128 << 20,
            min_small_files: 8,
            max_compaction_bytes: 512 << 20,
            vacuum_retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl MaintenanceConfig {
    /// Problems with these settings, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.interval.is_zero() {
            problems.push("maintenance.interval: must be longer than 0".to_owned());
        }
        if self.checkpoint_interval == 0 {
            problems.push("maintenance.checkpoint_interval: must be at least 1".to_owned());
        }
        if self.min_small_files < 2 {
            problems.push(format!(
                "maintenance.min_small_files: {} must be at least 2 (compacting one file rewrites it for nothing)",
                self.min_small_files
            ));
        }
        if self.small_file_bytes == 0 || self.target_file_bytes < self.small_file_bytes {
            problems.push(format!(
                "maintenance.small_file_bytes, maintenance.target_file_bytes: need 0 < small_file_bytes ({}) <= target_file_bytes ({})",
                self.small_file_bytes, self.target_file_bytes
            ));
        }
        if self.max_compaction_bytes < self.target_file_bytes {
            problems.push(format!(
                "maintenance.max_compaction_bytes: {} is less than target_file_bytes ({}): no compaction could run",
                self.max_compaction_bytes, self.target_file_bytes
            ));
        }
        problems
    }
}
