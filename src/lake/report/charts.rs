//! The figures behind the report's charts, in `report --json` as each stream's `charts` and
//! drawn by [`super::html`]: the page shows these numbers and no others.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Config;
use crate::gold::QualityDaily;
use crate::table::TableReader;

/// How many of a table's latest commits `rows_per_layer` looks at: the report reads one log
/// entry per commit, and recent hours are what a reader of the report looks for.
pub const HISTORY_COMMITS: u64 = 300;

/// One bar, point or slice: what it stands for and its value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub label: String,
    pub value: f64,
}

/// Points of one series (a layer, a verdict).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

/// Every chart of one stream.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Charts {
    /// Rows each layer's table added per hour (UTC, `YYYY-MM-DDTHH:00Z`), over its latest
    /// [`HISTORY_COMMITS`] commits.
    pub rows_per_layer: Vec<Series>,
    /// Rows per day of `quality_daily` by verdict (`PASS`, `WARNING`, `FAIL`); the page draws
    /// each day's shares.
    pub verdicts_per_day: Vec<Series>,
    /// The ten rules with the most failing rows over every day.
    pub top_failing_rules: Vec<Point>,
    /// Messages in Kafka not yet in bronze, per partition (empty when Kafka cannot be reached).
    pub lag_per_partition: Vec<Point>,
    /// Orders per completion status (the purchase orders' `order_status` model).
    pub order_completion: Vec<Point>,
    /// Revenue ordered per month (the purchase orders' `product_sales_monthly` model).
    pub sales_by_month: Vec<Point>,
}

/// Rows added per hour by the last [`HISTORY_COMMITS`] commits of the table at `location`.
pub async fn rows_per_hour(config: &Config, location: &str) -> Result<Vec<Point>, crate::table::TableError> {
    let Some(reader) = TableReader::open(location, config.lake.storage_options()).await? else { return Ok(Vec::new()) };
    let latest = reader.version();
    let mut hours: BTreeMap<i64, u64> = BTreeMap::new();
    for version in latest.saturating_sub(HISTORY_COMMITS - 1)..=latest {
        let Some(entry) = reader.kept_entry(version).await? else { continue };
        let (Some(millis), Some(rows)) = (entry.timestamp, entry.added_rows) else { continue };
        if rows > 0 {
            *hours.entry(millis.div_euclid(3_600_000)).or_default() += rows;
        }
    }
    Ok(hours
        .into_iter()
        .filter_map(|(hour, rows)| {
            let start = chrono::DateTime::from_timestamp(hour * 3600, 0)?;
            Some(Point { label: start.format("%Y-%m-%dT%H:00Z").to_string(), value: rows as f64 })
        })
        .collect())
}

/// PASS, WARNING and FAIL rows per day.
pub fn verdicts_per_day(daily: &QualityDaily) -> Vec<Series> {
    let day_label = |day: i32| arrow::temporal_conversions::date32_to_datetime(day).map_or_else(|| day.to_string(), |d| d.date().to_string());
    let series = |name: &str, rows: fn(&crate::gold::DayQuality) -> i64| Series {
        name: name.to_owned(),
        points: daily.0.iter().map(|(day, quality)| Point { label: day_label(*day), value: rows(quality) as f64 }).collect(),
    };
    vec![series("PASS", |d| d.pass), series("WARNING", |d| d.warning), series("FAIL", |d| d.fail)]
}

/// Points from two columns of a report section: labels from `label`, numbers from `value`.
pub fn from_section(section: &super::Section, label: &str, value: &str) -> Vec<Point> {
    let (Some(l), Some(v)) = (section.columns.iter().position(|c| c == label), section.columns.iter().position(|c| c == value)) else {
        return Vec::new();
    };
    section.rows.iter().filter_map(|row| Some(Point { label: row[l].clone(), value: row[v].parse().ok()? })).collect()
}
