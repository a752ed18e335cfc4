//! The silver stage: bronze rows checked by DQX rules into silver, quarantine and
//! `quality_metrics`, exactly once.
//!
//! ```text
//!  bronze Delta log ──► source (files added since silver's txn, bounded batches)
//!                   ──► refine (decode errors → quarantine; rules; route by mode; metrics)
//!                   ──► tables (quarantine → metrics → silver, each commit with the same txn)
//! ```
//! Exactly once: every commit carries `txn` `silver:<bronze table id>` = the last bronze
//! version of its batch; the stage resumes after silver's. `tables.rs` explains the commit
//! order and how a crash between the three commits is repaired.

mod metrics;
mod refine;
mod source;
mod stage;
mod tables;

pub use metrics::{RowCounts, batch_metrics, metrics_schema};
pub use refine::{BRONZE_VERSION, QUARANTINE_REASON, Refined, SilverSchemas, refine};
pub use source::{BatchLimits, BronzeSlice, BronzeSource};
pub use stage::{SilverStop, SilverSummary, run};
pub use tables::{BatchRecord, Positions, SilverTables};

use crate::rules::RulesError;
use crate::table::TableError;

/// The purchase-order stream's built-in rules, used when `silver.rules` is not set.
pub const BUILT_IN_RULES: &str = include_str!("../../rules/purchase_orders.yml");
/// The payments stream's built-in rules.
pub const BUILT_IN_PAYMENT_RULES: &str = include_str!("../../rules/payments.yml");
/// The point-of-sale stream's built-in rules.
pub const BUILT_IN_POS_RULES: &str = include_str!("../../rules/pos.yml");
/// The clickstream's built-in rules.
pub const BUILT_IN_CLICKSTREAM_RULES: &str = include_str!("../../rules/clickstream.yml");
/// The e-commerce stream's built-in rules.
pub const BUILT_IN_ECOMMERCE_RULES: &str = include_str!("../../rules/ecommerce.yml");
/// The inventory stream's built-in rules.
pub const BUILT_IN_INVENTORY_RULES: &str = include_str!("../../rules/inventory.yml");

/// The rules of the stream `config` works on, and their name in logs and `quality_metrics`.
pub fn stream_rules(config: &crate::config::Config) -> Result<(crate::rules::RuleSet, String), SilverError> {
    use crate::config::RulesSource;
    match config.stream().rules {
        RulesSource::File(path) => Ok((crate::rules::RuleSet::load(&path.display().to_string())?, path.display().to_string())),
        RulesSource::BuiltIn(stream) => {
            let (file, text) = match stream {
                crate::config::PAYMENTS => ("payments.yml", BUILT_IN_PAYMENT_RULES),
                crate::config::POS => ("pos.yml", BUILT_IN_POS_RULES),
                crate::config::CLICKSTREAM => ("clickstream.yml", BUILT_IN_CLICKSTREAM_RULES),
                crate::config::ECOMMERCE => ("ecommerce.yml", BUILT_IN_ECOMMERCE_RULES),
                crate::config::INVENTORY => ("inventory.yml", BUILT_IN_INVENTORY_RULES),
                _ => ("purchase_orders.yml", BUILT_IN_RULES),
            };
            let name = format!("built-in rules/{file}");
            Ok((crate::rules::RuleSet::parse(&name, text)?, name))
        }
    }
}

/// The silver schemas for the configured Avro reader schema (the bronze columns it decodes to).
pub fn schemas(config: &crate::config::Config) -> Result<SilverSchemas, SilverError> {
    let bronze_schema = crate::bronze::DecoderFactory::from_config(config).bronze_schema().map_err(|e| SilverError::BronzeSchema(Box::new(e)))?;
    SilverSchemas::from_bronze(&bronze_schema)
}

/// Why the silver stage stopped with a failure. Each variant names the table, file or row.
#[derive(Debug, thiserror::Error)]
pub enum SilverError {
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("cannot derive the bronze schema silver reads: {0}")]
    BronzeSchema(#[source] Box<crate::bronze::BronzeError>),
    #[error("the bronze schema lacks the columns {missing:?} silver needs")]
    BronzeLacks { missing: Vec<String> },
    #[error("the bronze table at {location} does not exist yet; run `medallion bronze` first")]
    BronzeMissing { location: String },
    #[error("cannot read the bronze table at {location}: {message}")]
    Bronze { location: String, message: String },
    #[error("{context}: {message}")]
    Arrow { context: &'static str, message: String },
    #[error(
        "mode `fail`: {count} row(s) failed error checks; first: bronze version {bronze_version}, partition {partition}, offset {offset}, rules {rules}. Nothing was committed for this batch"
    )]
    RowsFailed { count: usize, bronze_version: i64, partition: i64, offset: i64, rules: String },
    #[error("bronze version {version} ({location}): {source}")]
    BronzeVersion { location: String, version: u64, source: Box<TableError> },
    #[error(
        "the batch ending at bronze version {bronze_version} was half-committed by rules {recorded_rules} in mode `{recorded_mode}`, but the configured rules are {rules} in mode `{mode}`: finishing it now would check its rows differently from the part already committed. Run silver once with the rules and mode it began with to finish it, then switch"
    )]
    RepairMismatch { bronze_version: u64, recorded_rules: String, recorded_mode: String, rules: String, mode: String },
    #[error("the rules task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error(
        "{source}. Silver keeps the rows it read before that version. Apply the same change to silver and quarantine, then list the version in silver.skip_bronze_versions (MEDALLION_SILVER__SKIP_BRONZE_VERSIONS=[{version}]) to go on past it; or move the silver tables aside to rebuild them from bronze"
    )]
    BronzeRewritten { version: u64, source: Box<TableError> },
}

impl SilverError {
    /// Whether the input was at fault (a rules file that does not load), not the run.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Self::Rules(error) if error.is_invalid_input())
    }

    /// Worth retrying after a pause: storage trouble, not bad data or a bad table.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Table(error) => error.is_transient() || matches!(error, TableError::TxnConflict { .. }),
            Self::BronzeVersion { source, .. } => source.is_transient(),
            // Bronze's files that do not concatenate (their columns differ) stay so.
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;
