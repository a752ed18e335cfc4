//! The analysts' aggregates, as SQL over the current state (one row per line item, its latest
//! error-free event), evaluated by DataFusion in memory.
//!
//! Written as SQL so that an analyst can read the definitions and recompute them elsewhere
//! (DuckDB, polars, Spark) without reading Rust. Every query orders its output, so the same
//! current state always gives byte-identical gold files.

use arrow::array::RecordBatch;
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::SchemaRef;
use datafusion::prelude::SessionContext;

use super::GoldError;
use super::additive::Additive;

/// The name the current state is registered under in the queries.
const CURRENT: &str = "current_items";

/// One gold table defined by a query over `current_items`.
#[derive(Debug, Clone, Copy)]
pub struct Aggregate {
    /// The table's name in reports and errors.
    pub name: &'static str,
    pub sql: &'static str,
    /// How a refresh brings it up to date without reading the whole current state.
    pub upkeep: Upkeep,
}

/// How an aggregate follows the current state.
#[derive(Debug, Clone, Copy)]
pub enum Upkeep {
    /// One row per entity (the current state's first key column, `order_id`), which is its
    /// first column: the rows of the entities a refresh touched are recomputed from all their
    /// line items; the table is kept in sorted ranges of that column.
    PerEntity,
    /// Groups spanning entities: see [`Additive`].
    Additive(Additive),
}

/// Per order: items, delivered and cancelled items, total, first and last event, and
/// COMPLETED (every item delivered) / CANCELLED (every item cancelled) / OPEN.
pub const ORDER_STATUS: Aggregate = Aggregate {
    name: "order_status",
    sql: "
SELECT order_id,
       CAST(count(*) AS BIGINT) AS line_items,
       CAST(sum(CASE WHEN order_status = 'DELIVERED' THEN 1 ELSE 0 END) AS BIGINT) AS delivered_items,
       CAST(sum(CASE WHEN order_status = 'CANCELLED' THEN 1 ELSE 0 END) AS BIGINT) AS cancelled_items,
       CAST(sum(total_amount) AS DECIMAL(22, 2)) AS order_total,
       min(first_event_time) AS first_event_time,
       max(event_time) AS last_event_time,
       CASE WHEN sum(CASE WHEN order_status = 'DELIVERED' THEN 1 ELSE 0 END) = count(*) THEN 'COMPLETED'
            WHEN sum(CASE WHEN order_status = 'CANCELLED' THEN 1 ELSE 0 END) = count(*) THEN 'CANCELLED'
            ELSE 'OPEN' END AS completion_status
FROM current_items
GROUP BY order_id
ORDER BY order_id",
    upkeep: Upkeep::PerEntity,
};

/// Month of the order date × product: units and revenue of every line item ordered, of those
/// delivered, and the number of orders.
pub const PRODUCT_SALES_MONTHLY: Aggregate = Aggregate {
    name: "product_sales_monthly",
    sql: "
SELECT CAST(date_trunc('month', CAST(order_date AS TIMESTAMP)) AS DATE) AS month,
       product_id,
       max(product_name) AS product_name,
       CAST(sum(quantity) AS BIGINT) AS units_ordered,
       CAST(sum(total_amount) AS DECIMAL(22, 2)) AS revenue_ordered,
       CAST(coalesce(sum(CASE WHEN order_status = 'DELIVERED' THEN quantity END), 0) AS BIGINT) AS units_delivered,
       CAST(coalesce(sum(CASE WHEN order_status = 'DELIVERED' THEN total_amount END), 0) AS DECIMAL(22, 2)) AS revenue_delivered,
       CAST(count(DISTINCT order_id) AS BIGINT) AS orders
FROM current_items
WHERE order_date IS NOT NULL AND product_id IS NOT NULL
GROUP BY 1, 2
ORDER BY 1, 2",
    upkeep: Upkeep::Additive(Additive { groups: &["month", "product_id"], count: "orders", max: &["product_name"] }),
};

/// Fiscal quarter × vendor: what was bought (line items not cancelled): spend, units, items,
/// orders.
pub const VENDOR_SPEND_QUARTERLY: Aggregate = Aggregate {
    name: "vendor_spend_quarterly",
    sql: "
SELECT fiscal_quarter,
       vendor_id,
       CAST(sum(total_amount) AS DECIMAL(22, 2)) AS spend,
       CAST(sum(quantity) AS BIGINT) AS units,
       CAST(count(*) AS BIGINT) AS items,
       CAST(count(DISTINCT order_id) AS BIGINT) AS orders
FROM current_items
WHERE (order_status IS DISTINCT FROM 'CANCELLED') AND fiscal_quarter IS NOT NULL AND vendor_id IS NOT NULL
GROUP BY 1, 2
ORDER BY 1, 2",
    upkeep: Upkeep::Additive(Additive { groups: &["fiscal_quarter", "vendor_id"], count: "orders", max: &[] }),
};

/// The aggregates computed from the current state.
pub const AGGREGATES: [Aggregate; 3] = [ORDER_STATUS, PRODUCT_SALES_MONTHLY, VENDOR_SPEND_QUARTERLY];

impl Aggregate {
    /// Evaluates the query over `current`: one batch (possibly empty) and its schema.
    pub async fn evaluate(&self, current: &RecordBatch) -> Result<RecordBatch, GoldError> {
        let error = |e: datafusion::error::DataFusionError| GoldError::Aggregate { table: self.name, message: e.to_string() };
        let context = SessionContext::new();
        context.register_batch(CURRENT, current.clone()).map_err(error)?;
        let frame = context.sql(self.sql).await.map_err(error)?;
        let schema: SchemaRef = frame.schema().inner().clone();
        let batches = frame.collect().await.map_err(error)?;
        // The executed plan may widen a type the logical plan declared (decimal sums): the table
        // keeps the declared schema.
        let arrow_error = |e: arrow::error::ArrowError| GoldError::Aggregate { table: self.name, message: e.to_string() };
        let conformed = batches
            .iter()
            .map(|batch| {
                let columns = schema
                    .fields()
                    .iter()
                    .zip(batch.columns())
                    .map(|(field, column)| cast(column, field.data_type()))
                    .collect::<Result<Vec<_>, _>>()?;
                RecordBatch::try_new(schema.clone(), columns)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(arrow_error)?;
        concat_batches(&schema, &conformed).map_err(arrow_error)
    }
}
