//! Settings of the gold stage (`medallion gold`, and the gold part of `medallion run`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where the current-state and gold tables live and how often `medallion run` refreshes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GoldConfig {
    /// Current-state table path under `lake.root` of the purchase-order stream when there is
    /// no `streams:` section: one row per (order_id, line_number), the latest error-free event.
    /// (A stream's gold models write `gold/<model>`: see `gold/README.md`.)
    pub current_table: String,
    /// Quality per day (rows, PASS/WARNING/FAIL counts, mean quality score, failing rules) of
    /// the purchase-order stream when there is no `streams:` section.
    pub quality_daily_table: String,
    /// How often `medallion run` refreshes gold while silver moves.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// First pause after a refresh failed on storage trouble or a concurrent writer (another
    /// `medallion gold` on the same lake); doubled per attempt up to 30 s. A one-off
    /// `medallion gold` gives up after 6 attempts.
    #[serde(with = "humantime_serde")]
    pub retry_backoff: Duration,
    /// Rows per file of the current-state and `order_status` tables. Their files hold sorted
    /// key ranges, and a refresh rewrites only the files holding keys it touches: smaller files
    /// make a refresh cheaper and the tables' file lists longer.
    pub file_rows: usize,
    /// Silver bytes (data files) one refresh step merges at most: catching up after a long stop
    /// runs in steps of this size, so memory stays bounded whatever the backlog. A silver
    /// version larger than this is merged whole.
    pub batch_bytes: u64,
}

impl Default for GoldConfig {
    fn default() -> Self {
        Self {
            current_table: "silver/purchase_order_items_current".to_owned(),
            quality_daily_table: "gold/quality_daily".to_owned(),
            interval: Duration::from_secs(5),
            retry_backoff: Duration::from_millis(500),
            file_rows: 100_000,
            batch_bytes: 64 << 20,
        }
    }
}
