//! `medallion report`: what the lake holds, read back from the tables (so its counts are the
//! tables' counts): rows per layer, failures by rule, top products, order completion.

use std::collections::BTreeMap;

use arrow::array::{AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use datafusion::prelude::SessionContext;
use serde::Serialize;

use super::status::TableStatus;
use crate::config::Config;
use crate::gold::QualityDaily;
use crate::table::TableReader;

/// Failures of one rule over every day of `quality_daily`.
#[derive(Debug, Clone, Serialize)]
pub struct RuleFailures {
    pub rule_name: String,
    pub criticality: String,
    pub failed_rows: i64,
}

/// One product's sales over all months.
#[derive(Debug, Clone, Serialize)]
pub struct ProductSales {
    pub product_id: String,
    pub product_name: String,
    pub units_ordered: i64,
    pub revenue_ordered: String,
    pub revenue_delivered: String,
}

/// Orders per completion status.
#[derive(Debug, Clone, Serialize)]
pub struct Completion {
    pub completion_status: String,
    pub orders: i64,
    pub order_total: String,
}

/// The whole report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub tables: Vec<TableStatus>,
    /// Rows checked over every day, by verdict.
    pub verdicts: BTreeMap<String, i64>,
    pub rules: Vec<RuleFailures>,
    pub top_products: Vec<ProductSales>,
    pub completion: Vec<Completion>,
}

const TOP_PRODUCTS: &str = "
SELECT product_id, product_name, units_ordered, CAST(ordered AS VARCHAR) AS revenue_ordered, CAST(delivered AS VARCHAR) AS revenue_delivered
FROM (SELECT product_id, max(product_name) AS product_name, CAST(sum(units_ordered) AS BIGINT) AS units_ordered,
             sum(revenue_ordered) AS ordered, sum(revenue_delivered) AS delivered
      FROM product_sales_monthly GROUP BY product_id) AS products
ORDER BY ordered DESC, product_id LIMIT 10";

const COMPLETION: &str = "
SELECT completion_status, CAST(count(*) AS BIGINT) AS orders, CAST(sum(order_total) AS VARCHAR) AS order_total
FROM order_status GROUP BY completion_status ORDER BY completion_status";

/// Why the report could not be built. Each variant names the table.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Table(#[from] crate::table::TableError),
    #[error("{table}: {source}")]
    Query { table: String, source: datafusion::error::DataFusionError },
    #[error("{table}: {source}")]
    Rows { table: String, source: arrow::error::ArrowError },
}

/// Reads the lake and builds the report; tables that do not exist are left out.
pub async fn collect(config: &Config) -> Result<Report, ReportError> {
    let status = super::status::collect_tables(config).await;
    let mut report = Report { tables: status, ..Report::default() };
    if let Some(daily) = read(config, &config.gold.quality_daily_table).await? {
        let daily = QualityDaily::from_batch(&daily).map_err(|source| ReportError::Rows { table: "quality_daily".to_owned(), source })?;
        let mut rules: BTreeMap<(String, String), i64> = BTreeMap::new();
        for day in daily.0.values() {
            for (verdict, rows) in [("PASS", day.pass), ("WARNING", day.warning), ("FAIL", day.fail)] {
                *report.verdicts.entry(verdict.to_owned()).or_default() += rows;
            }
            for (rule, failed) in &day.rule_failures {
                *rules.entry(rule.clone()).or_default() += failed;
            }
        }
        let mut rules: Vec<RuleFailures> =
            rules.into_iter().map(|((rule_name, criticality), failed_rows)| RuleFailures { rule_name, criticality, failed_rows }).collect();
        rules.sort_by(|a, b| b.failed_rows.cmp(&a.failed_rows).then_with(|| a.rule_name.cmp(&b.rule_name)));
        report.rules = rules;
    }
    if let Some(sales) = query(config, &config.gold.product_sales_table, "product_sales_monthly", TOP_PRODUCTS).await? {
        let (ids, names, units, ordered, delivered) = (texts(&sales, 0), texts(&sales, 1), longs(&sales, 2), texts(&sales, 3), texts(&sales, 4));
        report.top_products = (0..sales.num_rows())
            .map(|i| ProductSales {
                product_id: ids[i].clone(),
                product_name: names[i].clone(),
                units_ordered: units[i],
                revenue_ordered: ordered[i].clone(),
                revenue_delivered: delivered[i].clone(),
            })
            .collect();
    }
    if let Some(orders) = query(config, &config.gold.order_status_table, "order_status", COMPLETION).await? {
        let (statuses, counts, totals) = (texts(&orders, 0), longs(&orders, 1), texts(&orders, 2));
        report.completion = (0..orders.num_rows())
            .map(|i| Completion { completion_status: statuses[i].clone(), orders: counts[i], order_total: totals[i].clone() })
            .collect();
    }
    Ok(report)
}

/// Every row of a table, or None when it does not exist.
async fn read(config: &Config, table: &str) -> Result<Option<RecordBatch>, ReportError> {
    let location = config.lake.table_location(table);
    let Some(reader) = TableReader::open(&location, config.lake.storage_options()).await? else { return Ok(None) };
    let schema = reader.schema()?;
    Ok(Some(reader.read_all(&schema).await?))
}

/// `sql` over the table registered as `name`, or None when the table does not exist.
async fn query(config: &Config, table: &str, name: &str, sql: &str) -> Result<Option<RecordBatch>, ReportError> {
    let Some(rows) = read(config, table).await? else { return Ok(None) };
    let failed = |source| ReportError::Query { table: name.to_owned(), source };
    let context = SessionContext::new();
    context.register_batch(name, rows).map_err(failed)?;
    let frame = context.sql(sql).await.map_err(failed)?;
    let schema = frame.schema().inner().clone();
    let batches = frame.collect().await.map_err(failed)?;
    arrow::compute::concat_batches(&schema, &batches).map(Some).map_err(|source| ReportError::Rows { table: name.to_owned(), source })
}

fn texts(batch: &RecordBatch, column: usize) -> Vec<String> {
    let values = cast(batch.column(column), &DataType::Utf8).unwrap_or_else(|_| arrow::array::new_null_array(&DataType::Utf8, batch.num_rows()));
    values.as_string::<i32>().iter().map(|v| v.unwrap_or("").to_owned()).collect()
}

fn longs(batch: &RecordBatch, column: usize) -> Vec<i64> {
    let values = cast(batch.column(column), &DataType::Int64).unwrap_or_else(|_| arrow::array::new_null_array(&DataType::Int64, batch.num_rows()));
    values.as_primitive::<Int64Type>().iter().map(|v| v.unwrap_or(0)).collect()
}

impl Report {
    /// A readable rendering for terminals.
    fn render(&self) -> String {
        let mut out = String::from("== rows per table ==\n");
        for table in &self.tables {
            let rows = table.rows.map_or_else(|| "-".to_owned(), |r| r.to_string());
            out.push_str(&format!("  {:<24} {:>10}{}\n", table.table, rows, if table.exists { "" } else { "  (not created)" }));
        }
        out.push_str("== quality ==\n");
        let checked: i64 = self.verdicts.values().sum();
        for (verdict, rows) in &self.verdicts {
            out.push_str(&format!("  {verdict:<8} {rows:>10}  {:>5.1}%\n", percent(*rows, checked)));
        }
        out.push_str("  failing rules (rows):\n");
        for rule in &self.rules {
            out.push_str(&format!(
                "    {:<40} {:<5} {:>8}  {:>5.2}%\n",
                rule.rule_name,
                rule.criticality,
                rule.failed_rows,
                percent(rule.failed_rows, checked)
            ));
        }
        out.push_str("== top products by revenue ordered ==\n");
        for p in &self.top_products {
            out.push_str(&format!(
                "  {:<8} {:<32} {:>8} units  {:>14} ordered  {:>14} delivered\n",
                p.product_id, p.product_name, p.units_ordered, p.revenue_ordered, p.revenue_delivered
            ));
        }
        out.push_str("== orders by completion ==\n");
        for c in &self.completion {
            out.push_str(&format!("  {:<10} {:>8} orders  {:>16} total\n", c.completion_status, c.orders, c.order_total));
        }
        out
    }
}

fn percent(part: i64, whole: i64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}
