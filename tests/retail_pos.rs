//! The point-of-sale stream: its generator holds the master data's shapes over 100,000 events
//! (segments' shares of sales, basket sizes, discount rates, the months' seasonality), its rules
//! pass every clean line and catch every defect kind, and `medallion run` against a real
//! broker carries it to `gold/fact_sales`, each sale line once across runs, every dimension key
//! of a valid line resolving.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use arrow::array::AsArray;
use chrono::{DateTime, Datelike};
use common::{Lake, read_table, unique_topic};
use medallion::generate::GeneratorSettings;
use medallion::generate::master::{CHANNELS, MONTH_FACTORS, MasterData};
use medallion::generate::retail::pos::{GeneratedSale, PosDefect, PosGenerator};

const EVENTS: usize = 100_000;

/// 100,000 lines from 2025-10-01, about 2.5 simulated minutes per line: October to January.
fn sales(invalid_ratio: f64) -> Vec<GeneratedSale> {
    let start = chrono::NaiveDate::from_ymd_opt(2025, 10, 1).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let settings = GeneratorSettings { seed: 2026, invalid_ratio, start_time: Some(start), rate: 1_000, time_scale: 100_000.0 };
    let mut generator = PosGenerator::new(&settings);
    (0..EVENTS).map(|_| generator.next_event()).collect()
}

#[test]
fn segments_baskets_discounts_and_seasons_follow_the_master_data() {
    let master = MasterData::shared();
    let lines = sales(0.0);
    let mut baskets: HashMap<String, (usize, Vec<bool>)> = HashMap::new();
    let mut per_month: BTreeMap<(i32, u32), f64> = BTreeMap::new();
    let mut expected_month: BTreeMap<(i32, u32), f64> = BTreeMap::new();
    let mut days = BTreeSet::new();
    for GeneratedSale { line, .. } in &lines {
        let segment = master.customer(line.customer_id.as_deref().unwrap()).unwrap().segment;
        let basket = baskets.entry(line.transaction_id.clone().unwrap()).or_insert((segment, Vec::new()));
        basket.1.push(line.discount_amount.is_some());
        let time = DateTime::from_timestamp_micros(line.event_time.0).unwrap();
        *per_month.entry((time.year(), time.month())).or_default() += 1.0;
        days.insert(time.date_naive());
    }
    // A month's days, each weighted by its weekday's shape (stores are busier at weekends).
    let week = CHANNELS[0].weekdays;
    let mean_week = week.iter().sum::<f64>() / 7.0;
    for day in &days {
        let weight = week[day.weekday().num_days_from_monday() as usize] / mean_week;
        *expected_month.entry((day.year(), day.month())).or_default() += weight;
    }
    let baskets: Vec<(usize, Vec<bool>)> = baskets.into_values().collect();
    common::assert_segments_hold("POS sales", &baskets, true);
    // Whole months only (the first and last are partial), against October.
    let rate = |month: (i32, u32)| per_month[&month] / expected_month[&month];
    let october = rate((2025, 10));
    for (month, factor) in [((2025, 11), MONTH_FACTORS[10]), ((2025, 12), MONTH_FACTORS[11])] {
        let measured = rate(month) / october;
        println!("{month:?}: {measured:.3} × October (table {factor})");
        assert!((measured - factor).abs() <= 0.03 * factor, "{month:?}: {measured}");
    }
}

#[test]
fn clean_lines_pass_every_rule_and_each_defect_breaks_one() {
    let lines = sales(0.05);
    let records: Vec<_> = lines.iter().map(|sale| &sale.line).collect();
    let failing = common::rule_failures_per_row(medallion::config::POS_SALE_LINE, "rules/pos.yml", &records);
    let defects: Vec<_> = lines.iter().map(|generated| generated.defect).collect();
    common::assert_defects_caught(&defects, &failing, PosDefect::ALL.len());
    let bad = defects.iter().filter(|d| d.is_some()).count() as f64 / lines.len() as f64;
    assert!((0.045..=0.055).contains(&bad), "5% bad records: {bad}");
}

#[test]
fn two_runs_carry_pos_to_fact_sales_once_with_every_key_resolving() {
    let lake = Lake::new();
    let topic = unique_topic("pos");
    let group = unique_topic("pos-g");
    // Two producer runs, each followed by a run of the pipeline: the second run adds to the facts
    // without counting the first's sales again.
    for (count, seed, start) in [(4000, "9", "2026-11-20"), (2000, "10", "2026-11-23")] {
        common::produce_and_run(&lake, "pos", &topic, &group, count, &["--seed", seed, "--start-time", start]);
    }
    let rows = |table: &str| read_table(&lake.table(table)).num_rows();
    assert_eq!(rows("bronze/pos"), 6000);
    assert_eq!(rows("silver/pos") + rows("silver/pos_quarantine"), 6000, "bronze rows conserve into silver + quarantine");
    assert!(rows("silver/pos_quarantine") > 0, "the error rules quarantine bad lines");

    let fact = read_table(&lake.table("gold/fact_sales"));
    assert_eq!(fact.num_rows(), rows("silver/pos_current"), "one fact row per current sale line");
    let ids = fact.column_by_name("transaction_id").unwrap().as_string::<i32>();
    let lines = fact.column_by_name("line_number").unwrap().as_primitive::<arrow::datatypes::Int32Type>();
    let distinct: BTreeSet<(&str, i32)> = (0..fact.num_rows()).map(|row| (ids.value(row), lines.value(row))).collect();
    assert_eq!(distinct.len(), fact.num_rows(), "no sale line twice in the fact");
    let keys = |table: &str, column: &str| -> BTreeSet<String> {
        let batch = read_table(&lake.table(table));
        batch.column_by_name(column).unwrap().as_string::<i32>().iter().flatten().map(str::to_owned).collect()
    };
    let (skus, stores, channels, customers) = (
        keys("gold/dim_product", "sku"),
        keys("gold/dim_location", "location_id"),
        keys("gold/dim_channel", "channel_id"),
        keys("gold/dim_customer", "customer_id"),
    );
    // Rows that passed every rule, by (transaction, line): their keys must all resolve.
    let current = read_table(&lake.table("silver/pos_current"));
    let passed: BTreeSet<(String, i32)> = (0..current.num_rows())
        .filter(|&row| current.column_by_name("flag_check").unwrap().as_string::<i32>().value(row) == "PASS")
        .map(|row| {
            let id = current.column_by_name("transaction_id").unwrap().as_string::<i32>().value(row).to_owned();
            (id, current.column_by_name("line_number").unwrap().as_primitive::<arrow::datatypes::Int32Type>().value(row))
        })
        .collect();
    let text = |name: &str| fact.column_by_name(name).unwrap().as_string::<i32>().clone();
    let (id, sku, store, channel, customer) = (text("transaction_id"), text("sku"), text("location_id"), text("channel_id"), text("customer_id"));
    let line = fact.column_by_name("line_number").unwrap().as_primitive::<arrow::datatypes::Int32Type>().clone();
    let (mut orphans, mut valid) = (0, 0);
    for row in 0..fact.num_rows() {
        if !passed.contains(&(id.value(row).to_owned(), line.value(row))) {
            continue;
        }
        valid += 1;
        let members = skus.contains(sku.value(row))
            && stores.contains(store.value(row))
            && channels.contains(channel.value(row))
            && customers.contains(customer.value(row));
        orphans += usize::from(!members);
    }
    assert_eq!(orphans, 0, "valid fact rows whose keys miss a dimension member");
    assert!(valid * 100 > fact.num_rows() * 90, "{valid} of {} rows passed every rule", fact.num_rows());
    let dates = keys_of_dates(&lake);
    let date_key = fact.column_by_name("date_key").unwrap().as_primitive::<arrow::datatypes::Date32Type>();
    assert!(date_key.iter().flatten().all(|d| dates.contains(&d)), "every date_key is a dim_date member");
    let slots = fact.column_by_name("time_slot").unwrap().as_primitive::<arrow::datatypes::Int32Type>();
    assert!(slots.iter().flatten().all(|s| (36..88).contains(&s)), "rung up in store hours, 9:00–22:00");
}

fn keys_of_dates(lake: &Lake) -> BTreeSet<i32> {
    let dates = read_table(&lake.table("gold/dim_date"));
    dates.column_by_name("date_key").unwrap().as_primitive::<arrow::datatypes::Date32Type>().values().iter().copied().collect()
}
