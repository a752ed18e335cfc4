//! What `medallion bronze --json` reports.

use std::collections::BTreeMap;

use serde::Serialize;

/// Why the worker stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BronzeStop {
    CaughtUp,
    Signal,
}

/// Totals of one run of the bronze worker.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BronzeSummary {
    pub table: String,
    pub table_version: Option<u64>,
    pub messages: u64,
    pub decoded: u64,
    pub undecodable: u64,
    /// Messages of a shared topic passed over: another stream's record (see `routing.rs`).
    pub passed_over: u64,
    /// Buffered rows dropped because their partition was revoked or another writer got there
    /// first; they are read again from the table's position, never lost.
    pub dropped_for_reread: u64,
    pub commits: u64,
    pub files: u64,
    pub bytes: u64,
    pub rebalances: u64,
    /// From the first message received to the last commit.
    pub ingest_seconds: f64,
    /// Last offset in the table for each partition this worker owned at the end.
    pub partitions: BTreeMap<i32, Option<i64>>,
    pub stop_reason: Option<BronzeStop>,
}

impl std::fmt::Display for BronzeSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "bronze: {} messages ({} decoded, {} undecodable) in {} commits to {} (version {})",
            self.messages,
            self.decoded,
            self.undecodable,
            self.commits,
            self.table,
            self.table_version.map_or_else(|| "none".to_owned(), |v| v.to_string())
        )
    }
}
