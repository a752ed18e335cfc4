//! Gold: the current state of every line item and the analysts' tables, from silver.
//!
//! ```text
//!  silver Delta log ──► current (rows added since its txn, no errors: MERGE, latest event wins;
//!                   │   rewrites only the order_id ranges the rows touch)
//!                   └─► aggregates (SQL over the touched orders' line items, before and after:
//!                       order_status recomputed per order, product_sales_monthly and
//!                       vendor_spend_quarterly by difference)
//!  silver + quarantine logs ──► quality_daily (rows added since its txn, folded in per day)
//! ```
//! Exactly once and idempotent: the current table records `current:<silver table id>` = the
//! silver version it reflects, each gold table `gold:<silver table id>` (quality_daily also
//! `gold:<quarantine table id>`). A refresh commits only tables whose position is behind the
//! silver version it read, so a second refresh with no new silver data commits nothing; a crash
//! between tables leaves some behind, and the next refresh recomputes them from the current state.

mod additive;
mod aggregate;
mod current;
pub mod dimensions;
pub mod model;
mod quality;
mod ranged;
mod refresh;

pub use additive::{Additive, Ratio};
pub use aggregate::{Aggregate, CURRENT_STATE, Upkeep};
pub use current::{CurrentSpec, EVENTS, FIRST_EVENT_TIME};
pub use quality::{DayQuality, QualityDaily, schema as quality_daily_schema};
pub use refresh::{Gold, GoldSummary, TableRefresh, run};

use crate::table::TableError;

/// Why a gold refresh failed. Each variant names the table.
#[derive(Debug, thiserror::Error)]
pub enum GoldError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("the silver table at {location} does not exist yet; run `medallion silver` first")]
    SilverMissing { location: String },
    #[error("the bronze table at {location} that silver reads does not exist")]
    BronzeMissing { location: String },
    #[error("cannot compute gold table {table}: {message}")]
    Aggregate { table: String, message: String },
    #[error("gold model {file}, line {line}: {message}")]
    Model { file: String, line: usize, message: String },
    #[error("gold table {table} would be written by both {first} and {second}: rename one of the model files")]
    TableTwice { table: String, first: String, second: String },
    #[error("cannot build the {table} table: {message}")]
    Arrow { table: String, message: String },
    #[error("cannot derive the silver schema gold reads: {0}")]
    SilverSchema(#[source] Box<crate::silver::SilverError>),
    #[error("the current state's schema does not follow from silver's: {0}")]
    CurrentSchema(#[source] arrow::error::ArrowError),
    #[error("gold table {table} is not open")]
    NotOpen { table: String },
}

impl GoldError {
    /// Worth retrying after a pause: storage trouble or a concurrent writer.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Table(error) => error.is_transient() || matches!(error, TableError::TxnConflict { .. }),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;
