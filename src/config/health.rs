//! Bounds of the health check (`medallion status --check`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What `status --check` tolerates before it exits non-zero. The quality bound is
/// `silver.quality_threshold`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Most messages a stream's topic may hold that bronze has not written yet (summed over
    /// its partitions).
    pub max_lag: u64,
    /// Longest a stage may go without committing while its input has something for it: Kafka
    /// lag for bronze, a newer bronze commit for silver, a newer silver commit for gold.
    #[serde(with = "humantime_serde")]
    pub max_commit_age: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self { max_lag: 100_000, max_commit_age: Duration::from_secs(15 * 60) }
    }
}
