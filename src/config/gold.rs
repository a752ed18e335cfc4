//! Settings of the gold stage (`medallion gold`, and the gold part of `medallion run`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where the current-state and gold tables live and how often `medallion run` refreshes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GoldConfig {
    /// Current-state table path under `lake.root`: one row per (order_id, line_number), the
    /// latest error-free event.
    pub current_table: String,
    /// Per order: line items, delivered and cancelled items, total, first and last event time,
    /// completion status.
    pub order_status_table: String,
    /// Month × product: units and revenue ordered and delivered, orders.
    pub product_sales_table: String,
    /// Fiscal quarter × vendor: spend, items, orders.
    pub vendor_spend_table: String,
    /// Day: rows, PASS/WARNING/FAIL counts, mean quality score, failing rules.
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
            order_status_table: "gold/order_status".to_owned(),
            product_sales_table: "gold/product_sales_monthly".to_owned(),
            vendor_spend_table: "gold/vendor_spend_quarterly".to_owned(),
            quality_daily_table: "gold/quality_daily".to_owned(),
            interval: Duration::from_secs(5),
            retry_backoff: Duration::from_millis(500),
            file_rows: 100_000,
            batch_bytes: 64 << 20,
        }
    }
}
