//! Settings of the bronze stage (`medallion bronze`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the bronze worker buffers, commits and retries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BronzeConfig {
    /// Table path under `lake.root`.
    pub table: String,
    /// Commit once this many messages are buffered.
    pub flush_rows: usize,
    /// Commit once buffered payloads reach this many bytes; this also bounds memory, since
    /// consumption waits while a commit runs.
    pub flush_bytes: u64,
    /// Commit at least this often while messages arrive (the latency of bronze).
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// Kafka offsets are committed (for lag tools only) at most this often.
    #[serde(with = "humantime_serde")]
    pub offset_commit_interval: Duration,
    /// First pause after a failed storage write; doubled per attempt up to 30 s.
    #[serde(with = "humantime_serde")]
    pub retry_backoff: Duration,
    /// How long a stop may take to flush and commit before giving up (exit 1, nothing lost:
    /// uncommitted messages are read again on the next start).
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
}

impl Default for BronzeConfig {
    fn default() -> Self {
        Self {
            table: "bronze/purchase_order_items".to_owned(),
            flush_rows: 50_000,
            flush_bytes: 64 * 1024 * 1024,
            flush_interval: Duration::from_secs(2),
            offset_commit_interval: Duration::from_secs(1),
            retry_backoff: Duration::from_millis(500),
            shutdown_timeout: Duration::from_secs(60),
        }
    }
}
