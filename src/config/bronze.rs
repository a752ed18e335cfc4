//! Settings of the bronze stage (`medallion bronze`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the bronze worker does when a partition does not continue where the table ends: the
/// broker offers an offset below the table's position (the topic was recreated, Event Hubs
/// failed over to another namespace) or after a gap that retention deleted before bronze read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OffsetResetPolicy {
    /// Stop with an error naming topic, partition, table position and the offset offered;
    /// nothing is written.
    #[default]
    Stop,
    /// Take the partition from the offset the broker offers: below the position, its messages
    /// land as new rows (offsets then repeat in bronze); after a gap, the lost messages stay
    /// lost. Each accepted reset is recorded in the commit that follows it.
    Accept,
}

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
    /// `stop` or `accept`: what to do when a partition's first offset after an assignment
    /// does not continue the table (see [`OffsetResetPolicy`]). Set `accept` for one run to
    /// resume after the stop explained why.
    pub on_offset_reset: OffsetResetPolicy,
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
            on_offset_reset: OffsetResetPolicy::Stop,
        }
    }
}
