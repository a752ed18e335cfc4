//! Settings of the silver stage (`medallion silver`).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What happens to a row that fails a rule of criticality `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SilverMode {
    /// Every decoded row goes to silver with its verdict.
    Flag,
    /// Rows with errors go to quarantine; rows with only warnings stay in silver.
    #[default]
    Split,
    /// Rows with errors are counted in `quality_metrics` and discarded.
    Drop,
    /// A row with errors stops the stage before it commits (exit 1, naming the row).
    Fail,
}

impl SilverMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Flag => "flag",
            Self::Split => "split",
            Self::Drop => "drop",
            Self::Fail => "fail",
        }
    }
}

/// How the silver stage reads bronze, checks rows and commits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SilverConfig {
    /// Silver table path under `lake.root`.
    pub table: String,
    /// Quarantine table path under `lake.root` (undecodable rows in every mode, rows with errors
    /// in `split` mode).
    pub quarantine_table: String,
    /// Quality metrics table path under `lake.root` (one row per batch per rule, plus totals).
    pub metrics_table: String,
    /// DQX YAML rules file. When unset, the purchase-order rules built into medallion
    /// (`rules/purchase_orders.yml`).
    pub rules: Option<PathBuf>,
    /// `flag`, `split`, `drop` or `fail`: what happens to rows with errors.
    pub mode: SilverMode,
    /// At most this many bronze versions are checked and committed together.
    pub max_batch_versions: usize,
    /// A batch stops growing once the bronze files it reads reach this many bytes (a single
    /// larger version is still read whole); this bounds memory.
    pub max_batch_bytes: u64,
    /// How often bronze is polled for new versions once silver has caught up.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// First pause after a failed storage read or write; doubled per attempt up to 30 s.
    #[serde(with = "humantime_serde")]
    pub retry_backoff: Duration,
    /// Bronze versions silver goes past without reading. Silver consumes bronze's appends (and
    /// skips compaction); a version that deletes or rewrites rows (DELETE, UPDATE, MERGE,
    /// RESTORE) stops it, naming the version. Once the same change has been applied to silver
    /// and quarantine, list the version here to go on.
    pub skip_bronze_versions: Vec<u64>,
    /// The share of rows (0 to 1) that must pass every error-criticality check, per batch and
    /// per day: undecodable rows and rows with errors count against it. A batch below it is
    /// marked in `quality_metrics` (`below_threshold`), a day in `quality_daily`; both log at
    /// WARN, count in `medallion_quality_below_threshold_total` and fail `status --check`.
    pub quality_threshold: f64,
}

impl Default for SilverConfig {
    fn default() -> Self {
        Self {
            table: "silver/purchase_order_items".to_owned(),
            quarantine_table: "silver/purchase_order_items_quarantine".to_owned(),
            metrics_table: "silver/quality_metrics".to_owned(),
            rules: None,
            mode: SilverMode::Split,
            max_batch_versions: 64,
            // Two batches are held: one checked while the one before it is written (see
            // silver/stage.rs). At 8 MiB a 1M-row catch-up peaked at 253-256 MiB; at 16, 299-328.
            max_batch_bytes: 8 * 1024 * 1024,
            poll_interval: Duration::from_millis(250),
            retry_backoff: Duration::from_millis(500),
            skip_bronze_versions: Vec::new(),
            quality_threshold: 0.95,
        }
    }
}
