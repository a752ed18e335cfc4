//! The clickstream: its generator holds the master data's segments (their share of visits and
//! the distinct products a cart holds), its rules pass every clean event and catch every defect
//! kind, and one `medallion run` against a real broker keeps in `gold/fact_cart_abandonment`
//! exactly the visits with a cart and no purchase, their keys resolving to dimension members.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use arrow::array::AsArray;
use common::{Lake, read_table, unique_topic};
use medallion::generate::GeneratorSettings;
use medallion::generate::master::{MasterData, SEGMENTS};
use medallion::generate::retail::clickstream::{ClickDefect, ClickstreamGenerator, GeneratedClick};

fn clicks(events: usize, invalid_ratio: f64) -> Vec<GeneratedClick> {
    let start = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let settings = GeneratorSettings { seed: 77, invalid_ratio, start_time: Some(start), rate: 1_000, time_scale: 60.0 };
    let mut generator = ClickstreamGenerator::new(&settings);
    (0..events).map(|_| generator.next_event()).collect()
}

#[test]
fn visits_and_carts_follow_the_segments() {
    let master = MasterData::shared();
    // Per visit of a signed-in customer: their segment and the distinct products added.
    let mut visits: HashMap<String, (usize, BTreeSet<String>)> = HashMap::new();
    for GeneratedClick { event, .. } in clicks(100_000, 0.0) {
        let Some(customer) = event.customer_id.as_deref() else { continue };
        let segment = master.customer(customer).unwrap().segment;
        let visit = visits.entry(event.session_id.clone().unwrap()).or_insert((segment, BTreeSet::new()));
        if event.event_type.as_deref() == Some("ADD_TO_CART") {
            visit.1.insert(event.sku.clone().unwrap());
        }
    }
    let total = visits.len() as f64;
    for (index, segment) in SEGMENTS.iter().enumerate() {
        let carts: Vec<usize> = visits.values().filter(|(s, cart)| *s == index && !cart.is_empty()).map(|(_, cart)| cart.len()).collect();
        let share = visits.values().filter(|(s, _)| *s == index).count() as f64 / total;
        let mean = carts.iter().sum::<usize>() as f64 / carts.len() as f64;
        println!(
            "{:8} visits {:5.2}% (table {:4.1}%)  cart {mean:.3} products ({}–{})",
            segment.name,
            share * 100.0,
            segment.share * 100.0,
            segment.basket.0,
            segment.basket.1
        );
        assert!((share - segment.share).abs() <= 0.015, "{}: share {share}", segment.name);
        assert!(carts.iter().all(|n| (segment.basket.0 as usize..=segment.basket.1 as usize).contains(n)), "{}", segment.name);
        assert!((mean / (f64::from(segment.basket.0 + segment.basket.1) / 2.0) - 1.0).abs() <= 0.03, "{}: cart {mean}", segment.name);
    }
}

#[test]
fn clean_events_pass_every_rule_and_each_defect_breaks_one() {
    let events = clicks(50_000, 0.05);
    let records: Vec<_> = events.iter().map(|click| &click.event).collect();
    let failing = common::rule_failures_per_row(medallion::config::CLICK_EVENT, "rules/clickstream.yml", &records);
    let defects: Vec<_> = events.iter().map(|generated| generated.defect).collect();
    common::assert_defects_caught(&defects, &failing, ClickDefect::ALL.len());
}

#[test]
fn one_run_keeps_the_abandoned_carts() {
    let lake = Lake::new();
    let topic = unique_topic("clicks");
    common::produce_and_run(&lake, "clickstream", &topic, &unique_topic("clicks-g"), 8000, &["--seed", "4", "--start-time", "2026-11-27"]);
    let rows = |table: &str| read_table(&lake.table(table)).num_rows();
    assert_eq!(rows("bronze/clickstream"), 8000);
    assert_eq!(rows("silver/clickstream") + rows("silver/clickstream_quarantine"), 8000, "bronze rows conserve");

    // The visits with an add-to-cart and no purchase, from the current state, are the fact's.
    let current = read_table(&lake.table("silver/clickstream_current"));
    let (sessions, types) =
        (current.column_by_name("session_id").unwrap().as_string::<i32>(), current.column_by_name("event_type").unwrap().as_string::<i32>());
    let mut visits: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
    for row in 0..current.num_rows() {
        let visit = visits.entry(sessions.value(row)).or_default();
        visit.0 |= types.value(row) == "ADD_TO_CART";
        visit.1 |= types.value(row) == "PURCHASE";
    }
    let abandoned: Vec<&str> = visits.iter().filter(|(_, (cart, bought))| *cart && !*bought).map(|(id, _)| *id).collect();
    let fact = read_table(&lake.table("gold/fact_cart_abandonment"));
    let in_fact: Vec<&str> = fact.column_by_name("session_id").unwrap().as_string::<i32>().iter().flatten().collect();
    assert_eq!(in_fact, abandoned);
    assert!(!abandoned.is_empty() && abandoned.len() < visits.values().filter(|(cart, _)| *cart).count(), "some carts are bought, some not");

    // Every signed-in abandoner and channel is a dimension member.
    let members = |table: &str, column: &str| -> BTreeSet<String> {
        read_table(&lake.table(table)).column_by_name(column).unwrap().as_string::<i32>().iter().flatten().map(str::to_owned).collect()
    };
    let (customers, channels) = (members("gold/dim_customer", "customer_id"), members("gold/dim_channel", "channel_id"));
    let fact_customers = fact.column_by_name("customer_id").unwrap().as_string::<i32>();
    assert!(fact_customers.iter().flatten().all(|c| customers.contains(c)), "a fact customer outside dim_customer");
    assert!(fact.column_by_name("channel_id").unwrap().as_string::<i32>().iter().flatten().all(|c| channels.contains(c)));
}
