//! Conformed dimensions from the retail master data ([`crate::generate::master`]): the tables
//! facts join to, with the same key column names as the facts (`sku`, `location_id`,
//! `channel_id`, `customer_id`, `vendor_id`, `date_key`, `time_slot`; purchase orders join
//! `dim_product` by its `product_id`).
//!
//! They are written once per master-data version: each table's commit carries the txn
//! `dimensions:master` = [`master::VERSION`] (for `dim_date`, also `dimensions:calendar` = the
//! last year it covers), so writing again is a no-op, and a new version replaces the rows whole
//! (adding the columns it brings).

mod calendar;

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Decimal128Array, Int32Array, RecordBatch, StringArray};
use chrono::Datelike;

pub use calendar::{holiday, time_slot};

use super::GoldError;
use crate::config::Config;
use crate::generate::master::{self, MasterData};
use crate::table::StageTable;

/// The txn application id of the master-data version a dimension holds.
pub const MASTER_APP_ID: &str = "dimensions:master";
/// The txn application id of the last calendar year `dim_date` covers.
pub const CALENDAR_APP_ID: &str = "dimensions:calendar";

/// Every dimension's name; its table is `gold/<name>`.
pub const NAMES: [&str; 7] = ["dim_product", "dim_vendor", "dim_location", "dim_channel", "dim_customer", "dim_date", "dim_time"];

/// One dimension table's rows.
pub struct Dimension {
    pub name: &'static str,
    pub rows: RecordBatch,
    /// The last calendar year it covers (`dim_date` only).
    pub calendar_until: Option<i32>,
}

/// Every dimension, built from `master` and a calendar around `year` (the year of writing).
pub fn build(master: &MasterData, year: i32) -> Result<Vec<Dimension>, GoldError> {
    let error = |name: &'static str| move |e: arrow::error::ArrowError| GoldError::Arrow { table: name.to_owned(), message: e.to_string() };
    Ok(vec![
        Dimension { name: "dim_product", rows: products(master).map_err(error("dim_product"))?, calendar_until: None },
        Dimension { name: "dim_vendor", rows: vendors(master).map_err(error("dim_vendor"))?, calendar_until: None },
        Dimension { name: "dim_location", rows: locations(master).map_err(error("dim_location"))?, calendar_until: None },
        Dimension { name: "dim_channel", rows: channels(master).map_err(error("dim_channel"))?, calendar_until: None },
        Dimension { name: "dim_customer", rows: customers(master).map_err(error("dim_customer"))?, calendar_until: None },
        Dimension {
            name: "dim_date",
            rows: calendar::dim_date(year - calendar::YEARS_BACK, year + calendar::YEARS_FORWARD).map_err(error("dim_date"))?,
            calendar_until: Some(year + calendar::YEARS_FORWARD),
        },
        Dimension { name: "dim_time", rows: calendar::dim_time().map_err(error("dim_time"))?, calendar_until: None },
    ])
}

/// The dimensions of this process's master data and year, built once: what gold models join.
pub fn shared() -> Result<&'static [Dimension], GoldError> {
    static SHARED: std::sync::OnceLock<Result<Vec<Dimension>, String>> = std::sync::OnceLock::new();
    let built = SHARED.get_or_init(|| build(MasterData::shared(), chrono::Utc::now().year()).map_err(|e| e.to_string()));
    built.as_deref().map_err(|message| GoldError::Arrow { table: "dimensions".to_owned(), message: message.clone() })
}

/// What writing the dimensions did to one table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DimensionWrite {
    pub table: String,
    pub rows: u64,
    /// False when it already held this master-data version (and calendar).
    pub committed: bool,
}

/// Writes every dimension of the lake that is not at the current master-data version (or, for
/// `dim_date`, does not cover next year yet). Run once per process, not by each stream's gold
/// stage (they would race to write them); the stages join the same rows from [`shared`].
pub async fn write(config: &Config) -> Result<Vec<DimensionWrite>, GoldError> {
    let storage_options = config.lake.storage_options();
    let mut writes = Vec::new();
    for dimension in shared()? {
        let location = config.lake.table_location(&super::model::table_path(dimension.name));
        // Opened with its own columns: a new version may bring more (the replace adds them).
        let mut table = match StageTable::open_existing(&location, storage_options.clone()).await? {
            Some(table) => table,
            None => StageTable::open_or_create(&location, storage_options.clone(), dimension.rows.schema(), &[]).await?,
        };
        let mut positions = vec![(MASTER_APP_ID.to_owned(), i64::from(master::VERSION))];
        if let Some(last_year) = dimension.calendar_until {
            positions.push((CALENDAR_APP_ID.to_owned(), i64::from(last_year)));
        }
        let mut current = true;
        for (app_id, wanted) in &positions {
            current &= table.position(app_id).await?.is_some_and(|held| held >= *wanted);
        }
        let rows = dimension.rows.num_rows() as u64;
        if !current {
            table.replace_widening(std::slice::from_ref(&dimension.rows), &positions).await?;
            tracing::info!(table = dimension.name, rows, version = master::VERSION, "dimension written");
        }
        writes.push(DimensionWrite { table: dimension.name.to_owned(), rows, committed: !current });
    }
    Ok(writes)
}

fn text<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

/// USD cents as `decimal(12, 2)`, like the facts' money.
fn money(values: impl Iterator<Item = i64>) -> Result<ArrayRef, arrow::error::ArrowError> {
    Ok(Arc::new(Decimal128Array::from_iter_values(values.map(i128::from)).with_precision_and_scale(12, 2)?))
}

fn products(master: &MasterData) -> Result<RecordBatch, arrow::error::ArrowError> {
    let p = &master.products;
    calendar::batch(vec![
        ("sku", false, text(p.iter().map(|p| p.sku.as_str()))),
        ("product_id", false, text(p.iter().map(|p| p.product_id.as_str()))),
        ("product_name", false, text(p.iter().map(|p| p.name.as_str()))),
        ("category", false, text(p.iter().map(|p| p.category))),
        ("item", false, text(p.iter().map(|p| p.item))),
        ("brand", false, text(p.iter().map(|p| p.brand))),
        ("list_price", false, money(p.iter().map(|p| p.list_price_cents))?),
        ("unit_cost", false, money(p.iter().map(|p| p.cost_cents))?),
        ("vendor_id", false, text(p.iter().map(|p| p.vendor_id))),
    ])
}

fn vendors(master: &MasterData) -> Result<RecordBatch, arrow::error::ArrowError> {
    let v = master.vendors;
    calendar::batch(vec![
        ("vendor_id", false, text(v.iter().map(|v| v.vendor_id))),
        ("vendor_name", false, text(v.iter().map(|v| v.name))),
        ("country", false, text(v.iter().map(|v| v.country))),
    ])
}

fn locations(master: &MasterData) -> Result<RecordBatch, arrow::error::ArrowError> {
    let l = master.locations;
    calendar::batch(vec![
        ("location_id", false, text(l.iter().map(|l| l.location_id))),
        ("location_name", false, text(l.iter().map(|l| l.name))),
        ("location_type", false, text(l.iter().map(|l| l.kind))),
        ("region", false, text(l.iter().map(|l| l.region))),
        ("city", false, text(l.iter().map(|l| l.city))),
        ("format", false, text(l.iter().map(|l| l.format))),
    ])
}

fn channels(master: &MasterData) -> Result<RecordBatch, arrow::error::ArrowError> {
    let c = master.channels;
    calendar::batch(vec![
        ("channel_id", false, text(c.iter().map(|c| c.channel_id))),
        ("channel_name", false, text(c.iter().map(|c| c.name))),
        ("is_online", false, Arc::new(BooleanArray::from_iter(c.iter().map(|c| Some(c.online))))),
    ])
}

fn customers(master: &MasterData) -> Result<RecordBatch, arrow::error::ArrowError> {
    let c = &master.customers;
    let int = |f: &dyn Fn(&master::Customer) -> i32| Arc::new(Int32Array::from_iter_values(c.iter().map(f))) as ArrayRef;
    calendar::batch(vec![
        ("customer_id", false, text(c.iter().map(|c| c.customer_id.as_str()))),
        ("customer_name", false, text(c.iter().map(|c| c.name.as_str()))),
        ("email", false, text(c.iter().map(|c| c.email.as_str()))),
        ("segment", false, text(c.iter().map(|c| c.segment().name))),
        ("home_store", false, text(c.iter().map(|c| c.home_store))),
        ("tenure_days", false, int(&|c| c.tenure_days as i32)),
        ("basket_min", false, int(&|c| c.segment().basket.0 as i32)),
        ("basket_max", false, int(&|c| c.segment().basket.1 as i32)),
        ("discount_sensitivity", false, Arc::new(arrow::array::Float64Array::from_iter_values(c.iter().map(|c| c.segment().discount_sensitivity)))),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dimension_has_its_members_and_unique_keys() {
        let dimensions = build(&MasterData::current(), 2026).unwrap();
        let rows: Vec<(&str, usize)> = dimensions.iter().map(|d| (d.name, d.rows.num_rows())).collect();
        assert_eq!(
            rows,
            [
                ("dim_product", 500),
                ("dim_vendor", 12),
                ("dim_location", 13),
                ("dim_channel", 8),
                ("dim_customer", 10_000),
                ("dim_date", 1826),
                ("dim_time", 96)
            ]
        );
        assert_eq!(dimensions.iter().map(|d| d.name).collect::<Vec<_>>(), NAMES);
        for dimension in &dimensions {
            let keys = arrow::compute::cast(dimension.rows.column(0), &arrow::datatypes::DataType::Utf8).unwrap();
            let keys = keys.as_any().downcast_ref::<StringArray>().unwrap();
            let distinct: std::collections::HashSet<&str> = keys.iter().flatten().collect();
            assert_eq!(distinct.len(), dimension.rows.num_rows(), "{} keys are unique", dimension.name);
        }
    }

    #[tokio::test]
    async fn an_older_version_is_replaced_with_the_columns_it_lacked() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.lake.root = dir.path().display().to_string();
        // dim_product as master-data version 1 wrote it: no product_id column.
        let old = products(MasterData::shared()).unwrap();
        let old = old.project(&(0..old.num_columns()).filter(|i| old.schema().field(*i).name() != "product_id").collect::<Vec<_>>()).unwrap();
        let location = config.lake.table_location(&super::super::model::table_path("dim_product"));
        let mut table = StageTable::open_or_create(&location, Default::default(), old.schema(), &[]).await.unwrap();
        table.replace(std::slice::from_ref(&old), &[(MASTER_APP_ID.to_owned(), 1)]).await.unwrap();

        let writes = write(&config).await.unwrap();
        assert!(writes.iter().all(|w| w.committed), "every table is new or older");
        let table = StageTable::open_existing(&location, Default::default()).await.unwrap().unwrap();
        assert_eq!(table.position(MASTER_APP_ID).await.unwrap(), Some(i64::from(master::VERSION)));
        let rows = crate::table::TableReader::open(&location, Default::default()).await.unwrap().unwrap();
        let rows = rows.read_all(&table.schema()).await.unwrap();
        let ids = rows.column_by_name("product_id").unwrap();
        assert_eq!((rows.num_rows(), ids.null_count()), (500, 0));
        assert!(write(&config).await.unwrap().iter().all(|w| !w.committed), "written once per version");
    }
}
