//! `medallion gold` against a real broker and real Delta tables read back from storage: the
//! current state and every gold table equal an independent computation from silver (plain Rust
//! over the rows read back), after lifecycle updates and bad records, incrementally; a refresh
//! with no new silver data commits nothing.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use common::{Lake, OutputWithin, medallion, read_table, run_ok, summary, unique_topic};

fn produce(topic: &str, count: u64, seed: u64) {
    run_ok(&["produce", "--count", &count.to_string(), "--seed", &seed.to_string(), "--invalid-ratio", "0.1", "--topic", topic]);
}

/// bronze and silver until caught up, then `medallion gold --json`.
fn pipeline(lake: &Lake, topic: &str) -> serde_json::Value {
    for stage in ["bronze", "silver"] {
        let output = medallion().args([stage, "--until-caught-up", "--topic", topic, "--group", "gold-test", "--lake", &lake.root()]).output_within();
        assert!(output.status.success(), "{stage}: {}", String::from_utf8_lossy(&output.stderr));
    }
    gold(lake)
}

fn gold(lake: &Lake) -> serde_json::Value {
    let output = medallion().args(["gold", "--json", "--lake", &lake.root()]).output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    summary(&output)
}

/// A column as text (None for null), whatever its type.
fn texts(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let column = batch.column_by_name(name).unwrap_or_else(|| panic!("no column {name}"));
    let column = cast(column, &DataType::Utf8).unwrap();
    column.as_string::<i32>().iter().map(|v| v.map(str::to_owned)).collect()
}

/// A column as i64 (timestamps in microseconds, decimals in cents), whatever its type.
fn longs(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    let column = batch.column_by_name(name).unwrap_or_else(|| panic!("no column {name}"));
    let column = match column.data_type() {
        DataType::Decimal128(_, scale) => {
            let decimals = column.as_primitive::<arrow::datatypes::Decimal128Type>();
            let factor = 10i128.pow(u32::try_from(*scale).unwrap()) / 100;
            return decimals.iter().map(|v| v.map(|v| i64::try_from(v / factor).unwrap())).collect();
        }
        DataType::Date32 => cast(&cast(column, &DataType::Int32).unwrap(), &DataType::Int64).unwrap(),
        _ => cast(column, &DataType::Int64).unwrap(),
    };
    column.as_primitive::<Int64Type>().iter().collect()
}

/// One line item's latest event, computed here from silver rows.
#[derive(Debug, Clone)]
struct Item {
    recency: (i64, i64, i64),
    status: String,
    quantity: i64,
    total: i64,
    first_event: i64,
    month: String,
    product: String,
    quarter: String,
    vendor: String,
}

/// The current state, from silver rows without errors: latest (event_time, partition, offset).
fn current_from_silver(silver: &RecordBatch) -> BTreeMap<(String, i64), Item> {
    let (orders, lines, errors) = (texts(silver, "order_id"), longs(silver, "line_number"), silver.column_by_name("_errors").unwrap().clone());
    let (times, partitions, offsets) = (longs(silver, "event_time"), longs(silver, "kafka_partition"), longs(silver, "kafka_offset"));
    let (statuses, quantities, totals) = (texts(silver, "order_status"), longs(silver, "quantity"), longs(silver, "total_amount"));
    let (dates, products, quarters, vendors) =
        (texts(silver, "order_date"), texts(silver, "product_id"), texts(silver, "fiscal_quarter"), texts(silver, "vendor_id"));
    let mut items: BTreeMap<(String, i64), Item> = BTreeMap::new();
    for i in 0..silver.num_rows() {
        let (Some(order), Some(line)) = (orders[i].clone(), lines[i]) else { continue };
        if errors.is_valid(i) {
            continue;
        }
        let item = Item {
            recency: (times[i].unwrap(), partitions[i].unwrap(), offsets[i].unwrap()),
            status: statuses[i].clone().unwrap_or_default(),
            quantity: quantities[i].unwrap_or(0),
            total: totals[i].unwrap_or(0),
            first_event: times[i].unwrap(),
            month: dates[i].clone().map(|d| format!("{}-01", &d[..7])).unwrap_or_default(),
            product: products[i].clone().unwrap_or_default(),
            quarter: quarters[i].clone().unwrap_or_default(),
            vendor: vendors[i].clone().unwrap_or_default(),
        };
        items
            .entry((order, line))
            .and_modify(|held| {
                let first_event = held.first_event.min(item.first_event);
                if item.recency > held.recency {
                    *held = item.clone();
                }
                held.first_event = first_event;
            })
            .or_insert(item);
    }
    items
}

/// order id → (items, delivered, cancelled, total cents, completion).
fn order_status_expected(items: &BTreeMap<(String, i64), Item>) -> BTreeMap<String, (i64, i64, i64, i64, String)> {
    let mut orders: BTreeMap<String, (i64, i64, i64, i64, String)> = BTreeMap::new();
    for ((order, _), item) in items {
        let entry = orders.entry(order.clone()).or_default();
        entry.0 += 1;
        entry.1 += i64::from(item.status == "DELIVERED");
        entry.2 += i64::from(item.status == "CANCELLED");
        entry.3 += item.total;
    }
    for entry in orders.values_mut() {
        entry.4 = if entry.1 == entry.0 {
            "COMPLETED"
        } else if entry.2 == entry.0 {
            "CANCELLED"
        } else {
            "OPEN"
        }
        .to_owned();
    }
    orders
}

fn order_status_in_gold(lake: &Lake) -> BTreeMap<String, (i64, i64, i64, i64, String)> {
    let gold = read_table(&lake.table("gold/order_status"));
    let (orders, items, delivered, cancelled) =
        (texts(&gold, "order_id"), longs(&gold, "line_items"), longs(&gold, "delivered_items"), longs(&gold, "cancelled_items"));
    let (totals, completion) = (longs(&gold, "order_total"), texts(&gold, "completion_status"));
    (0..gold.num_rows())
        .map(|i| {
            (
                orders[i].clone().unwrap(),
                (items[i].unwrap(), delivered[i].unwrap(), cancelled[i].unwrap(), totals[i].unwrap(), completion[i].clone().unwrap()),
            )
        })
        .collect()
}

/// (month, product) → (units ordered, revenue ordered, units delivered, revenue delivered).
fn product_sales_expected(items: &BTreeMap<(String, i64), Item>) -> BTreeMap<(String, String), (i64, i64, i64, i64)> {
    let mut sales: BTreeMap<(String, String), (i64, i64, i64, i64)> = BTreeMap::new();
    for item in items.values() {
        let entry = sales.entry((item.month.clone(), item.product.clone())).or_default();
        let delivered = i64::from(item.status == "DELIVERED");
        *entry = (entry.0 + item.quantity, entry.1 + item.total, entry.2 + delivered * item.quantity, entry.3 + delivered * item.total);
    }
    sales
}

fn product_sales_in_gold(lake: &Lake) -> BTreeMap<(String, String), (i64, i64, i64, i64)> {
    let gold = read_table(&lake.table("gold/product_sales_monthly"));
    let (months, products) = (texts(&gold, "month"), texts(&gold, "product_id"));
    let columns = ["units_ordered", "revenue_ordered", "units_delivered", "revenue_delivered"].map(|c| longs(&gold, c));
    (0..gold.num_rows())
        .map(|i| {
            (
                (months[i].clone().unwrap(), products[i].clone().unwrap()),
                (columns[0][i].unwrap(), columns[1][i].unwrap(), columns[2][i].unwrap(), columns[3][i].unwrap()),
            )
        })
        .collect()
}

/// (quarter, vendor) → (spend, items) of line items not cancelled.
fn vendor_spend_expected(items: &BTreeMap<(String, i64), Item>) -> BTreeMap<(String, String), (i64, i64)> {
    let mut spend: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for item in items.values().filter(|item| item.status != "CANCELLED") {
        let entry = spend.entry((item.quarter.clone(), item.vendor.clone())).or_default();
        *entry = (entry.0 + item.total, entry.1 + 1);
    }
    spend
}

fn vendor_spend_in_gold(lake: &Lake) -> BTreeMap<(String, String), (i64, i64)> {
    let gold = read_table(&lake.table("gold/vendor_spend_quarterly"));
    let (quarters, vendors, spend, items) = (texts(&gold, "fiscal_quarter"), texts(&gold, "vendor_id"), longs(&gold, "spend"), longs(&gold, "items"));
    (0..gold.num_rows()).map(|i| ((quarters[i].clone().unwrap(), vendors[i].clone().unwrap()), (spend[i].unwrap(), items[i].unwrap()))).collect()
}

/// Total rows and FAIL rows per day over silver and quarantine, against quality_daily.
fn assert_quality_daily(lake: &Lake) {
    const DAY: i64 = 86_400_000_000;
    let mut expected: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for table in ["silver/purchase_order_items", "silver/purchase_order_items_quarantine"] {
        let rows = read_table(&lake.table(table));
        if rows.num_rows() == 0 {
            continue;
        }
        let (times, kafka_times, flags) = (longs(&rows, "event_time"), longs(&rows, "kafka_timestamp"), texts(&rows, "flag_check"));
        for i in 0..rows.num_rows() {
            let entry = expected.entry(times[i].or(kafka_times[i]).unwrap().div_euclid(DAY)).or_default();
            entry.0 += 1;
            entry.1 += i64::from(flags[i].as_deref() == Some("FAIL"));
        }
    }
    let gold = read_table(&lake.table("gold/quality_daily"));
    let (days, rows, fails) = (longs(&gold, "day"), longs(&gold, "rows"), longs(&gold, "fail_rows"));
    let actual: BTreeMap<i64, (i64, i64)> = (0..gold.num_rows()).map(|i| (days[i].unwrap(), (rows[i].unwrap(), fails[i].unwrap()))).collect();
    assert_eq!(actual, expected, "quality_daily rows and FAIL rows per day");
}

fn assert_gold_matches_silver(lake: &Lake) {
    let items = current_from_silver(&read_table(&lake.table("silver/purchase_order_items")));
    let current = read_table(&lake.table("silver/purchase_order_items_current"));
    assert_eq!(current.num_rows(), items.len(), "one current row per line item");
    let (orders, lines, statuses, firsts) =
        (texts(&current, "order_id"), longs(&current, "line_number"), texts(&current, "order_status"), longs(&current, "first_event_time"));
    for i in 0..current.num_rows() {
        let item = &items[&(orders[i].clone().unwrap(), lines[i].unwrap())];
        assert_eq!((statuses[i].as_deref(), firsts[i]), (Some(item.status.as_str()), Some(item.first_event)), "current row {i}");
    }
    assert_eq!(order_status_in_gold(lake), order_status_expected(&items));
    assert_eq!(product_sales_in_gold(lake), product_sales_expected(&items));
    assert_eq!(vendor_spend_in_gold(lake), vendor_spend_expected(&items));
    assert_quality_daily(lake);
}

fn log_versions(lake: &Lake, table: &str) -> usize {
    let log = lake.path().join(table).join("_delta_log");
    std::fs::read_dir(log).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".json")).count()
}

/// The dimensions, read back from the lake: every member once, with its master-data version.
fn assert_dimensions_from_master_data(lake: &Lake) {
    for (table, key, members) in [
        ("gold/dim_product", "sku", 500),
        ("gold/dim_product", "product_id", 500),
        ("gold/dim_vendor", "vendor_id", 12),
        ("gold/dim_location", "location_id", 13),
        ("gold/dim_channel", "channel_id", 8),
        ("gold/dim_customer", "customer_id", 10_000),
    ] {
        let rows = read_table(&lake.table(table));
        let keys: std::collections::BTreeSet<_> = texts(&rows, key).into_iter().map(Option::unwrap).collect();
        assert_eq!((rows.num_rows(), keys.len()), (members, members), "{table}");
        let version = i64::from(medallion::generate::master::VERSION);
        assert_eq!(common::txn_version(&lake.table(table), "dimensions:master"), Some(version), "{table}");
    }
    let customers = read_table(&lake.table("gold/dim_customer"));
    let vip = texts(&customers, "segment").iter().filter(|s| s.as_deref() == Some("VIP")).count();
    assert_eq!(vip, 500, "5% of 10,000 customers are VIP");
    let dates = read_table(&lake.table("gold/dim_date"));
    assert!((1826..=1827).contains(&dates.num_rows()), "five calendar years: {}", dates.num_rows());
    let holidays = texts(&dates, "holiday_name").iter().filter(|h| h.as_deref() == Some("Thanksgiving")).count();
    assert_eq!(holidays, 5, "one Thanksgiving a year");
    assert_eq!(read_table(&lake.table("gold/dim_time")).num_rows(), 96);
}

/// `order_details` holds every current line item, and each whose keys are master-data members
/// found its product, customer and vendor (no orphans).
fn assert_order_details_resolve(lake: &Lake) {
    let master = medallion::generate::master::MasterData::shared();
    let details = read_table(&lake.table("gold/order_details"));
    assert_eq!(details.num_rows(), read_table(&lake.table("silver/purchase_order_items_current")).num_rows());
    let (products, skus, customers, names) =
        (texts(&details, "product_id"), texts(&details, "sku"), texts(&details, "customer_id"), texts(&details, "customer_name"));
    let vendors = texts(&details, "vendor_name");
    let mut resolved = 0;
    for row in 0..details.num_rows() {
        let product = products[row].as_deref().and_then(|id| master.products.iter().find(|p| p.product_id == id));
        assert_eq!(skus[row].as_deref(), product.map(|p| p.sku.as_str()), "row {row}");
        let customer = customers[row].as_deref().and_then(|id| master.customer(id));
        assert_eq!(names[row].as_deref(), customer.map(|c| c.name.as_str()), "row {row}");
        if product.is_some() && customer.is_some() {
            assert!(vendors[row].is_some(), "row {row}: the product's vendor is a member");
            resolved += 1;
        }
    }
    assert!(resolved * 100 >= details.num_rows() * 97, "most rows carry member keys: {resolved} of {}", details.num_rows());
}

#[test]
fn gold_equals_an_independent_computation_from_silver_incrementally() {
    let lake = Lake::new();
    let topic = unique_topic("gold");
    produce(&topic, 4_000, 21);
    let first = pipeline(&lake, &topic);
    assert_eq!(first["commits"], 8, "current, six models and quality_daily: {first}");
    assert_gold_matches_silver(&lake);
    let completion = texts(&read_table(&lake.table("gold/order_status")), "completion_status");
    assert!(
        completion.iter().any(|c| c.as_deref() == Some("COMPLETED")) && completion.iter().any(|c| c.as_deref() == Some("OPEN")),
        "lifecycles reach both states"
    );

    assert_dimensions_from_master_data(&lake);
    assert_order_details_resolve(&lake);

    // No new silver data: nothing is committed anywhere (the dimensions included).
    let tables = [
        "gold/dim_product",
        "gold/dim_customer",
        "gold/dim_date",
        "silver/purchase_order_items_current",
        "gold/order_status",
        "gold/product_sales_monthly",
        "gold/vendor_spend_quarterly",
        "gold/quality_daily",
    ];
    let before: Vec<usize> = tables.iter().map(|t| log_versions(&lake, t)).collect();
    let again = gold(&lake);
    assert_eq!(again["commits"], 0, "{again}");
    assert_eq!(tables.iter().map(|t| log_versions(&lake, t)).collect::<Vec<_>>(), before);

    // More events: the incremental refresh (only the new silver versions read) still equals the
    // computation over all of silver.
    produce(&topic, 3_000, 22);
    let second = pipeline(&lake, &topic);
    assert_eq!(second["commits"], 8, "{second}");
    assert_gold_matches_silver(&lake);
}

/// Live data files of `table` under the lake, from its log.
fn live_files(lake: &Lake, table: &str) -> std::collections::BTreeSet<String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = deltalake::table::builder::ensure_table_uri(lake.table(table)).unwrap();
    runtime.block_on(deltalake::open_table(url)).unwrap().get_file_uris().unwrap().collect()
}

#[test]
fn gold_in_small_files_and_small_steps_rewrites_only_what_it_touches_and_still_equals_silver() {
    let lake = Lake::new();
    let topic = unique_topic("gold-ranges");
    // Files of 400 rows; bronze commits of 500 rows, a silver batch per bronze version, a gold
    // step per silver version.
    let small = |stage: &str| {
        let mut command = medallion();
        command.env("MEDALLION_GOLD__FILE_ROWS", "400").env("MEDALLION_GOLD__BATCH_BYTES", "1");
        command.env("MEDALLION_BRONZE__FLUSH_ROWS", "500").env("MEDALLION_SILVER__MAX_BATCH_VERSIONS", "1");
        command.args([stage, "--topic", &topic, "--group", "gold-ranges", "--lake", &lake.root()]);
        command
    };
    let round = |count: u64, seed: u64, invalid_ratio: &str| {
        let (count, seed) = (count.to_string(), seed.to_string());
        run_ok(&["produce", "--count", &count, "--seed", &seed, "--invalid-ratio", invalid_ratio, "--topic", &topic]);
        for stage in ["bronze", "silver"] {
            let output = small(stage).arg("--until-caught-up").output_within();
            assert!(output.status.success(), "{stage}: {}", String::from_utf8_lossy(&output.stderr));
        }
        let output = small("gold").arg("--json").output_within();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        summary(&output)["streams"][0].clone()
    };
    round(4_000, 31, "0.1");
    assert_gold_matches_silver(&lake);
    let tables = ["silver/purchase_order_items_current", "gold/order_status"];
    let before: Vec<_> = tables.iter().map(|table| live_files(&lake, table)).collect();
    assert!(before[0].len() >= 3 && before[1].len() >= 2, "kept in files of at most 400 rows: {before:?}");

    // Another generator's orders (another seed: another range of order ids, no updates of the
    // first one's), without malformed ids (which sort anywhere): the files holding the first
    // orders stay as they were, except the one of the highest range, which new orders extend.
    round(1_500, 32, "0");
    assert_gold_matches_silver(&lake);
    for (table, before) in tables.iter().zip(&before) {
        let after = live_files(&lake, table);
        let kept = before.intersection(&after).count();
        assert!(kept + 1 >= before.len(), "{table}: {kept} of {} files untouched", before.len());
    }
}

/// `GET /metrics` from `addr`, or None while nothing answers there.
fn scrape(addr: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: medallion\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn run_serves_prometheus_metrics_of_every_stage() {
    let lake = Lake::new();
    let topic = unique_topic("metrics");
    common::send_raw(&topic, &common::undecodable_payloads(7));
    produce(&topic, 2_000, 5);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut command = medallion();
    command
        .args(["run", "--topic", &topic, "--group", &unique_topic("g"), "--lake", &lake.root(), "--metrics-addr", &addr])
        .env("MEDALLION_GOLD__INTERVAL", "300ms");
    let mut child = lake.spawn_logged(&mut command, "run");
    let mut last = String::new();
    let complete = common::wait_until(std::time::Duration::from_secs(90), || {
        last = scrape(&addr).unwrap_or_default();
        last.contains("medallion_stage_rows_total{stage=\"silver\",direction=\"in\"} 2007")
            && last.contains("medallion_stage_rows_total{stage=\"order_status\"")
    });
    common::send_signal(&child, "TERM");
    let status = common::wait_within(&mut child, common::PROCESS_DEADLINE);
    assert!(complete, "metrics never showed every row through silver and gold:\n{last}");
    assert!(last.starts_with("HTTP/1.1 200 OK"), "{last}");
    let decode_failures: u64 = last
        .lines()
        .filter(|line| line.starts_with("medallion_decode_failures_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(decode_failures, 7, "{last}");
    for metric in [
        "medallion_stage_rows_total{stage=\"bronze\",direction=\"out\"} 2007",
        "medallion_rule_failures_total{rule=\"quantity_positive\"",
        "medallion_commit_seconds_bucket{",
        "medallion_file_bytes_count{",
        "medallion_partition_lag{",
    ] {
        assert!(last.contains(metric), "no {metric} in:\n{last}");
    }
    assert!(status.success(), "run did not stop cleanly on SIGTERM");
}

#[test]
fn status_reports_lag_before_and_none_after_a_caught_up_run() {
    let lake = Lake::new();
    let topic = unique_topic("status");
    let group = unique_topic("g");
    produce(&topic, 3_000, 9);
    let status = |lake: &Lake| {
        let output = medallion().args(["status", "--json", "--topic", &topic, "--group", &group, "--lake", &lake.root()]).output_within();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        summary(&output)["streams"][0].clone()
    };
    let before = status(&lake);
    let partitions = before["kafka"]["partitions"].as_array().unwrap().clone();
    assert_eq!(partitions.len(), 8, "{before}");
    for p in &partitions {
        // Nothing in Delta, nothing committed: the whole partition is lag, as a group tool shows it.
        assert!(p["delta_offset"].is_null() && p["committed_offset"].is_null(), "{p}");
        assert_eq!(p["lag"], p["high_watermark"], "{p}");
        assert_eq!(p["committed_lag"], p["high_watermark"], "{p}");
    }
    assert!(before["tables"].as_array().unwrap().iter().all(|t| t["exists"] == false), "{before}");

    let output = medallion().args(["run", "--until-caught-up", "--topic", &topic, "--group", &group, "--lake", &lake.root()]).output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let after = status(&lake);
    assert_eq!(after["kafka"]["total_lag"], 0, "{after}");
    for p in after["kafka"]["partitions"].as_array().unwrap() {
        assert_eq!(p["lag"], 0, "{p}");
        assert_eq!(p["committed_offset"].as_i64(), p["delta_offset"].as_i64().map(|o| o + 1), "Kafka commits follow the Delta commits: {p}");
    }
    let tables = after["tables"].as_array().unwrap();
    // A table whose newest version has a checkpoint still shows when it was committed.
    assert!(tables.iter().all(|t| t["exists"] == true && t["rows"].as_u64().is_some() && t["last_commit"].is_string()), "{after}");
    let bronze_rows = tables.iter().find(|t| t["table"] == "bronze").unwrap()["rows"].as_u64().unwrap();
    assert_eq!(bronze_rows, 3_000);
    assert!(after["quality"]["rows"].as_i64().is_some_and(|rows| rows > 0), "the last day's quality: {after}");
}
