//! The purchase-order generator on the retail master data, without a broker: over 100,000
//! generated events, the segments' shares of orders, basket sizes and discount rates are those of
//! the master data's table, the months follow its seasonality, and every key names a
//! master-data member: clean events pass every rule of `rules/purchase_orders.yml`, the
//! foreign-key-like ones included.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDate};
use medallion::generate::master::MasterData;
use medallion::generate::{Generator, GeneratorSettings, PurchaseOrderItem};
use medallion::rules::RuleSet;

const EVENTS: usize = 100_000;

/// 100,000 clean events from 2025-10-01, about 1.2 simulated days per 1,000 events: October to
/// late January.
fn events() -> Vec<PurchaseOrderItem> {
    let start = chrono::NaiveDate::from_ymd_opt(2025, 10, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc());
    let settings = GeneratorSettings { seed: 2025, invalid_ratio: 0.0, start_time: start, rate: 1_000, time_scale: 100_000.0 };
    let mut generator = Generator::new(&settings);
    (0..EVENTS).map(|_| generator.next_event().item).collect()
}

#[test]
fn segments_baskets_and_discounts_follow_the_master_data() {
    let master = MasterData::shared();
    let events = events();
    // An order's lines are its NEW events; each line once.
    let mut orders: HashMap<String, (usize, Vec<bool>)> = HashMap::new();
    for item in events.iter().filter(|i| i.order_status.as_deref() == Some("NEW")) {
        let customer = master.customer(item.customer_id.as_deref().unwrap()).expect("the customer is a master-data member");
        let order = orders.entry(item.order_id.clone().unwrap()).or_insert((customer.segment, Vec::new()));
        assert_eq!(order.0, customer.segment, "one customer per order");
        order.1.push(item.discount_amount.is_some());
    }
    assert!(orders.len() > 8_000, "{} orders", orders.len());
    let baskets: Vec<(usize, Vec<bool>)> = orders.into_values().collect();
    common::assert_segments_hold("purchase orders", &baskets, true);
}

#[test]
fn months_follow_the_seasonality() {
    // Events per weekday (UTC) of each month: the hour shape is the same every day, weekends are
    // quieter, so weekdays alone compare the months' factors.
    let mut per_month: BTreeMap<(i32, u32), (usize, HashSet<NaiveDate>)> = BTreeMap::new();
    for item in events() {
        let time = DateTime::from_timestamp_micros(item.event_time).unwrap();
        if time.weekday().number_from_monday() <= 5 {
            let month = per_month.entry((time.year(), time.month())).or_default();
            month.0 += 1;
            month.1.insert(time.date_naive());
        }
    }
    let daily = |year, month| {
        let (events, days) = &per_month[&(year, month)];
        *events as f64 / days.len() as f64
    };
    let october = daily(2025, 10);
    let (november, december, january) = (daily(2025, 11) / october, daily(2025, 12) / october, daily(2026, 1) / october);
    println!("per weekday, against October: November {november:.3}, December {december:.3}, January {january:.3}");
    assert!((november - 1.3).abs() <= 0.04 && (december - 1.5).abs() <= 0.045 && (january - 0.7).abs() <= 0.03, "{per_month:?}");
}

#[test]
fn every_key_names_a_master_data_member_and_clean_events_pass_every_rule() {
    let master = MasterData::shared();
    let events = events();
    let warehouses: HashSet<&str> = master.warehouses().map(|w| w.location_id).collect();
    for item in &events {
        let product = master.products.iter().find(|p| Some(&p.product_id) == item.product_id.as_ref()).expect("a master product");
        assert_eq!((item.product_name.as_deref(), item.vendor_id.as_deref()), (Some(product.name.as_str()), Some(product.vendor_id)));
        assert!(master.vendor(product.vendor_id).is_some() && warehouses.contains(item.warehouse_location.as_deref().unwrap()));
    }
    let records: Vec<&PurchaseOrderItem> = events.iter().collect();
    let failing = common::rule_failures_per_row(medallion::config::PURCHASE_ORDER_ITEM, "rules/purchase_orders.yml", &records);
    assert!(failing.iter().all(|rules| *rules == 0), "a clean event fails a rule");
    let rules = RuleSet::load(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/purchase_orders.yml")).unwrap();
    assert!(rules.rules.iter().any(|r| r.name == "product_id_in_master_data"));
}
