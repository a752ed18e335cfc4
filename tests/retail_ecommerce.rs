//! The e-commerce stream: its generator holds the master data's segments and moves every order
//! forward through its lifecycle, its rules pass every clean event and catch every defect kind,
//! and one `medallion run` against a real broker gives `gold/fact_sales_ecommerce` one row per
//! order line in its latest status, its dimension keys resolving.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use arrow::array::AsArray;
use common::{Lake, read_table, unique_topic};
use medallion::generate::GeneratorSettings;
use medallion::generate::master::MasterData;
use medallion::generate::retail::ecommerce::{EcommerceDefect, EcommerceGenerator, GeneratedOrderLine};

fn order_lines(events: usize, invalid_ratio: f64) -> Vec<GeneratedOrderLine> {
    let start = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let settings = GeneratorSettings { seed: 31, invalid_ratio, start_time: Some(start), rate: 1_000, time_scale: 600.0 };
    let mut generator = EcommerceGenerator::new(&settings);
    (0..events).map(|_| generator.next_event()).collect()
}

#[test]
fn orders_follow_the_segments_and_only_move_forward() {
    let master = MasterData::shared();
    let rank = |status: &str| ["PLACED", "PAID", "SHIPPED", "DELIVERED", "RETURNED"].iter().position(|s| *s == status);
    let mut orders: HashMap<String, (usize, Vec<bool>)> = HashMap::new();
    let mut last: HashMap<(String, i32), (usize, i64)> = HashMap::new();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    for GeneratedOrderLine { line, .. } in order_lines(100_000, 0.0) {
        let (id, status) = (line.order_id.clone().unwrap(), line.order_status.clone().unwrap());
        *statuses.entry(status.clone()).or_default() += 1;
        if status == "PLACED" {
            let segment = master.customer(line.customer_id.as_deref().unwrap()).unwrap().segment;
            orders.entry(id.clone()).or_insert((segment, Vec::new())).1.push(line.discount_amount.is_some());
        }
        let previous = last.insert((id, line.line_number), (rank(&status).unwrap_or(usize::MAX), line.event_time.0));
        if let Some((previous_rank, previous_time)) = previous {
            assert!(line.event_time.0 > previous_time, "a later status has a later time");
            assert!(rank(&status).is_none_or(|r| r > previous_rank), "{status} after rank {previous_rank}");
        } else {
            assert_eq!(status, "PLACED", "an order line starts as PLACED");
        }
    }
    println!("{statuses:?}");
    assert!(["PAID", "SHIPPED", "DELIVERED", "CANCELLED", "RETURNED"].iter().all(|s| statuses.contains_key(*s)), "{statuses:?}");
    let baskets: Vec<(usize, Vec<bool>)> = orders.into_values().collect();
    common::assert_segments_hold("online orders", &baskets, true);
}

#[test]
fn clean_events_pass_every_rule_and_each_defect_breaks_one() {
    let events = order_lines(50_000, 0.05);
    let records: Vec<_> = events.iter().map(|generated| &generated.line).collect();
    let failing = common::rule_failures_per_row(medallion::config::ECOMMERCE_ORDER_LINE, "rules/ecommerce.yml", &records);
    let defects: Vec<_> = events.iter().map(|generated| generated.defect).collect();
    common::assert_defects_caught(&defects, &failing, EcommerceDefect::ALL.len());
}

#[test]
fn one_run_gives_a_fact_row_per_order_line_in_its_latest_status() {
    let lake = Lake::new();
    let topic = unique_topic("ecommerce");
    common::produce_and_run(&lake, "ecommerce", &topic, &unique_topic("ecommerce-g"), 8000, &["--seed", "8", "--start-time", "2026-11-27"]);
    let rows = |table: &str| read_table(&lake.table(table)).num_rows();
    assert_eq!(rows("bronze/ecommerce"), 8000);
    assert_eq!(rows("silver/ecommerce") + rows("silver/ecommerce_quarantine"), 8000, "bronze rows conserve");
    let current = rows("silver/ecommerce_current");
    assert!(current < rows("silver/ecommerce"), "several statuses per line collapse into one current row");

    let fact = read_table(&lake.table("gold/fact_sales_ecommerce"));
    assert_eq!(fact.num_rows(), current, "one fact row per current order line");
    let members = |table: &str, column: &str| -> BTreeSet<String> {
        read_table(&lake.table(table)).column_by_name(column).unwrap().as_string::<i32>().iter().flatten().map(str::to_owned).collect()
    };
    for (column, table, key) in [
        ("channel_id", "gold/dim_channel", "channel_id"),
        ("customer_id", "gold/dim_customer", "customer_id"),
        ("location_id", "gold/dim_location", "location_id"),
    ] {
        let known = members(table, key);
        let values = fact.column_by_name(column).unwrap().as_string::<i32>();
        assert!(values.iter().flatten().all(|v| known.contains(v)), "a fact {column} outside {table}");
    }
    let skus = members("gold/dim_product", "sku");
    let fact_skus = fact.column_by_name("sku").unwrap().as_string::<i32>();
    let unknown = fact_skus.iter().flatten().filter(|s| !skus.contains(*s)).count();
    let flagged = read_table(&lake.table("silver/ecommerce"))
        .column_by_name("flag_check")
        .unwrap()
        .as_string::<i32>()
        .iter()
        .filter(|f| *f == Some("WARNING"))
        .count();
    assert!(unknown <= flagged, "only lines the rules flagged miss a product: {unknown} of {flagged}");
}
