//! `medallion report`: what the lake holds, read back from the tables (so its counts are the
//! tables' counts), per stream: rows per layer, failures by rule, and figures from the gold
//! models it knows (top products, order completion, payments by method, merchants' decline rates).
//! `--json` prints it whole, charts' figures included ([`charts`]); `--html FILE` draws it as one
//! self-contained page ([`html`]).

pub mod charts;
pub mod html;

use std::collections::BTreeMap;

use arrow::array::{AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::DataType;
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

/// A table of figures read from one gold model's table.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// What one stream's tables hold.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StreamReport {
    pub stream: String,
    pub tables: Vec<TableStatus>,
    /// Rows checked over every day, by verdict.
    pub verdicts: BTreeMap<String, i64>,
    pub rules: Vec<RuleFailures>,
    /// Figures from the stream's gold models, for those the report knows.
    pub sections: Vec<Section>,
    /// What the HTML page's charts show.
    pub charts: charts::Charts,
}

/// The whole report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub streams: Vec<StreamReport>,
}

const REVENUE_BY_MONTH: &str = "revenue by month ordered";
const ORDERS_BY_COMPLETION: &str = "orders by completion";

/// (gold model, title, query over the model's table registered under the model's name).
const SECTIONS: [(&str, &str, &str); 5] = [
    (
        "product_sales_monthly",
        "top products by revenue ordered",
        "SELECT product_id, product_name, units_ordered, CAST(ordered AS VARCHAR) AS revenue_ordered, CAST(delivered AS VARCHAR) AS revenue_delivered
         FROM (SELECT product_id, max(product_name) AS product_name, CAST(sum(units_ordered) AS BIGINT) AS units_ordered,
                      sum(revenue_ordered) AS ordered, sum(revenue_delivered) AS delivered
               FROM product_sales_monthly GROUP BY product_id) AS products
         ORDER BY ordered DESC, product_id LIMIT 10",
    ),
    (
        "product_sales_monthly",
        REVENUE_BY_MONTH,
        "SELECT CAST(month AS VARCHAR) AS month, CAST(sum(orders) AS BIGINT) AS orders, CAST(sum(revenue_ordered) AS VARCHAR) AS revenue_ordered,
                CAST(sum(revenue_delivered) AS VARCHAR) AS revenue_delivered
         FROM product_sales_monthly GROUP BY month ORDER BY month",
    ),
    (
        "order_status",
        ORDERS_BY_COMPLETION,
        "SELECT completion_status, CAST(count(*) AS BIGINT) AS orders, CAST(sum(order_total) AS VARCHAR) AS order_total
         FROM order_status GROUP BY completion_status ORDER BY completion_status",
    ),
    (
        "payments_daily",
        "payments by method and currency",
        "SELECT payment_method, currency, CAST(sum(payments) AS BIGINT) AS payments, CAST(sum(amount) AS VARCHAR) AS amount,
                CAST(sum(declined) AS BIGINT) AS declined, CAST(sum(refunded) AS BIGINT) AS refunded
         FROM payments_daily GROUP BY payment_method, currency ORDER BY payments DESC, payment_method, currency LIMIT 12",
    ),
    (
        "payments_merchant_daily",
        "merchants by decline rate (at least 20 payments)",
        "SELECT merchant_id, merchant_name, payments,
                CAST(round(CAST(declined AS DOUBLE) * 100.0 / CAST(payments AS DOUBLE), 2) AS VARCHAR) AS decline_pct,
                CAST(round(CAST(refunded AS DOUBLE) * 100.0 / CAST(greatest(captured, 1) AS DOUBLE), 2) AS VARCHAR) AS refund_pct
         FROM (SELECT merchant_id, max(merchant_name) AS merchant_name, CAST(sum(payments) AS BIGINT) AS payments,
                      CAST(sum(declined) AS BIGINT) AS declined, CAST(sum(refunded) AS BIGINT) AS refunded, CAST(sum(captured) AS BIGINT) AS captured
               FROM payments_merchant_daily GROUP BY merchant_id) AS merchants
         WHERE payments >= 20
         ORDER BY CAST(declined AS DOUBLE) / CAST(payments AS DOUBLE) DESC, merchant_id LIMIT 10",
    ),
];

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

/// Reads the lake and builds the report of every stream; tables that do not exist are left out.
pub async fn collect(config: &Config) -> Result<Report, ReportError> {
    let mut streams = Vec::new();
    for (stream, view) in config.views() {
        streams.push(collect_stream(&view, stream.name).await?);
    }
    Ok(Report { streams })
}

async fn collect_stream(config: &Config, stream: String) -> Result<StreamReport, ReportError> {
    let tables = super::status::collect_tables(config).await;
    let mut report = StreamReport { stream, ..StreamReport::default() };
    let daily = match read(config, &config.gold.quality_daily_table).await? {
        Some(daily) => Some(QualityDaily::from_batch(&daily).map_err(|source| ReportError::Rows { table: "quality_daily".to_owned(), source })?),
        None => None,
    };
    if let Some(daily) = &daily {
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
    for (model, title, sql) in SECTIONS {
        if !tables.iter().any(|t| t.table == model && t.exists) {
            continue;
        }
        if let Some(rows) = query(config, &crate::gold::model::table_path(model), model, sql).await? {
            let columns = rows.schema().fields().iter().map(|f| f.name().clone()).collect();
            let cells: Vec<Vec<String>> = (0..rows.num_columns()).map(|c| texts(&rows, c)).collect();
            let rows = (0..rows.num_rows()).map(|r| cells.iter().map(|column| column[r].clone()).collect()).collect();
            report.sections.push(Section { title: title.to_owned(), columns, rows });
        }
    }
    report.charts = collect_charts(config, &report, &tables, daily.as_ref()).await?;
    report.tables = tables;
    Ok(report)
}

async fn collect_charts(
    config: &Config,
    report: &StreamReport,
    tables: &[TableStatus],
    daily: Option<&QualityDaily>,
) -> Result<charts::Charts, ReportError> {
    let mut charts = charts::Charts::default();
    for layer in ["bronze", "silver", "quarantine"] {
        if let Some(table) = tables.iter().find(|t| t.table == layer && t.exists) {
            charts.rows_per_layer.push(charts::Series { name: layer.to_owned(), points: charts::rows_per_hour(config, &table.location).await? });
        }
    }
    if let Some(daily) = daily {
        charts.verdicts_per_day = charts::verdicts_per_day(daily);
    }
    charts.top_failing_rules =
        report.rules.iter().take(10).map(|rule| charts::Point { label: rule.rule_name.clone(), value: rule.failed_rows as f64 }).collect();
    let kafka = super::status::collect_kafka(config).await;
    charts.lag_per_partition = kafka.partitions.iter().map(|p| charts::Point { label: p.partition.to_string(), value: p.lag as f64 }).collect();
    for section in &report.sections {
        match section.title.as_str() {
            ORDERS_BY_COMPLETION => charts.order_completion = charts::from_section(section, "completion_status", "orders"),
            REVENUE_BY_MONTH => charts.sales_by_month = charts::from_section(section, "month", "revenue_ordered"),
            _ => {}
        }
    }
    Ok(charts)
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

impl StreamReport {
    /// A readable rendering for terminals.
    fn render(&self) -> String {
        let mut out = format!("== stream {}: rows per table ==\n", self.stream);
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
        for section in &self.sections {
            out.push_str(&format!("== {} ==\n", section.title));
            let widths: Vec<usize> = (0..section.columns.len())
                .map(|c| section.rows.iter().map(|r| r[c].len()).chain([section.columns[c].len()]).max().unwrap_or(0))
                .collect();
            let line = |cells: &[String]| {
                let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
                format!("  {}\n", padded.join("  ").trim_end())
            };
            out.push_str(&line(&section.columns));
            for row in &section.rows {
                out.push_str(&line(row));
            }
        }
        out
    }
}

impl Report {
    fn render(&self) -> String {
        self.streams.iter().map(StreamReport::render).collect::<Vec<_>>().join("\n")
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
