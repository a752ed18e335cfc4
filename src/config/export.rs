//! Copies of the lake's quality and pipeline metrics kept elsewhere (`medallion export`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;

/// Where `medallion export` copies metrics to, and how often `medallion run` does it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ExportConfig {
    /// A PostgreSQL database that receives `quality_metrics`, `quality_daily`, every stage
    /// table's commits and Kafka lag. `medallion run` exports to it every `interval` (and once
    /// more at the end of `--until-caught-up`) when it is set.
    pub postgres: Option<PostgresExportConfig>,
}

/// A PostgreSQL export target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresExportConfig {
    /// Connection URL (`postgres://user:password@host:5432/db`) or key-value string
    /// (`host=... user=... password=...`); `MEDALLION_EXPORT__POSTGRES__URL`. Never printed: errors
    /// name the host, port and database only.
    pub url: Secret,
    /// How often `medallion run` exports.
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// Most Delta versions of one table copied in one database transaction: a long backlog is
    /// exported in steps, each committed with its position.
    #[serde(default = "default_versions_per_transaction")]
    pub versions_per_transaction: usize,
}

fn default_interval() -> Duration {
    Duration::from_secs(60)
}

fn default_versions_per_transaction() -> usize {
    50
}
