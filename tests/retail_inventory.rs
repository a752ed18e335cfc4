//! The inventory stream: its stock is consistent (a product's on-hand at a location is the sum
//! of its movements there, never negative; transfers leave one place and arrive at another; the
//! end-of-day counts state the stock), its rules pass every clean movement and catch every
//! defect kind, and one `medallion run` against a real broker gives `gold/fact_inventory` and a
//! daily snapshot that agrees with the movements.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use arrow::array::AsArray;
use arrow::datatypes::Int32Type;
use common::{Lake, read_table, unique_topic};
use medallion::generate::GeneratorSettings;
use medallion::generate::retail::inventory::{GeneratedMovement, InventoryDefect, InventoryGenerator};

fn movements(events: usize, invalid_ratio: f64) -> Vec<GeneratedMovement> {
    let start = chrono::NaiveDate::from_ymd_opt(2026, 2, 2).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let settings = GeneratorSettings { seed: 5, invalid_ratio, start_time: Some(start), rate: 1_000, time_scale: 3_000.0 };
    let mut generator = InventoryGenerator::new(&settings);
    (0..events).map(|_| generator.next_event()).collect()
}

#[test]
fn stock_is_the_sum_of_its_movements_and_never_negative() {
    let mut stock: HashMap<(String, String), i32> = HashMap::new();
    let mut transfers: HashMap<String, Vec<i32>> = HashMap::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for GeneratedMovement { movement, .. } in movements(100_000, 0.0) {
        let kind = movement.movement_type.clone().unwrap();
        let cell = (movement.location_id.clone().unwrap(), movement.sku.clone().unwrap());
        let held = stock.entry(cell.clone()).or_default();
        *held += movement.quantity.unwrap();
        assert_eq!(Some(*held), movement.quantity_on_hand, "{cell:?} after {kind}");
        assert!(*held >= 0, "{cell:?} below zero");
        if kind.starts_with("TRANSFER") {
            transfers.entry(movement.reference_id.clone().unwrap()).or_default().push(movement.quantity.unwrap());
        }
        if kind == "SALE" {
            assert!(cell.0.starts_with("STORE-"), "sales happen in stores");
        }
        *kinds.entry(kind).or_default() += 1;
    }
    println!("{kinds:?}");
    assert!(kinds["SALE"] > 30_000 && kinds["STOCK_COUNT"] > 1_000 && kinds["ADJUSTMENT"] > 1_000, "{kinds:?}");
    assert!(transfers.values().all(|legs| legs.len() == 2 && legs[0] == -legs[1]), "a transfer leaves and arrives whole");
}

#[test]
fn clean_movements_pass_every_rule_and_each_defect_breaks_one() {
    let events = movements(50_000, 0.05);
    let records: Vec<_> = events.iter().map(|generated| &generated.movement).collect();
    let failing = common::rule_failures_per_row(medallion::config::INVENTORY_MOVEMENT, "rules/inventory.yml", &records);
    let defects: Vec<_> = events.iter().map(|generated| generated.defect).collect();
    common::assert_defects_caught(&defects, &failing, InventoryDefect::ALL.len());
}

#[test]
fn one_run_gives_movements_and_a_snapshot_that_agree() {
    let lake = Lake::new();
    let topic = unique_topic("inventory");
    let calendar = ["--seed", "6", "--start-time", "2026-11-02", "--time-scale", "20000", "--invalid-ratio", "0"];
    common::produce_and_run(&lake, "inventory", &topic, &unique_topic("inventory-g"), 12000, &calendar);
    let fact = read_table(&lake.table("gold/fact_inventory"));
    assert_eq!(fact.num_rows(), 12000, "every movement is a fact row");

    // Replay the movements in time order: each end-of-day count states the stock then.
    let text = |name: &str| fact.column_by_name(name).unwrap().as_string::<i32>().clone();
    let (locations, skus, kinds, ids) = (text("location_id"), text("sku"), text("movement_type"), text("movement_id"));
    let quantities = fact.column_by_name("quantity").unwrap().as_primitive::<Int32Type>().clone();
    let times = fact.column_by_name("event_time").unwrap().as_primitive::<arrow::datatypes::TimestampMicrosecondType>().clone();
    let mut order: Vec<usize> = (0..fact.num_rows()).collect();
    order.sort_by_key(|&row| (times.value(row), ids.value(row).to_owned()));
    let mut stock: HashMap<(&str, &str), i32> = HashMap::new();
    let mut counted: BTreeMap<&str, i32> = BTreeMap::new();
    for row in order {
        let held = stock.entry((locations.value(row), skus.value(row))).or_default();
        *held += quantities.value(row);
        if kinds.value(row) == "STOCK_COUNT" {
            counted.insert(ids.value(row), *held);
        }
    }
    let snapshot = read_table(&lake.table("gold/fact_inventory_snapshot"));
    assert_eq!(snapshot.num_rows(), counted.len());
    assert!(!counted.is_empty(), "days ended during the run");
    let snapshot_ids = snapshot.column_by_name("movement_id").unwrap().as_string::<i32>();
    let on_hand = snapshot.column_by_name("quantity_on_hand").unwrap().as_primitive::<Int32Type>();
    for row in 0..snapshot.num_rows() {
        assert_eq!(Some(&on_hand.value(row)), counted.get(snapshot_ids.value(row)), "count {}", snapshot_ids.value(row));
    }
    let members: BTreeSet<String> = read_table(&lake.table("gold/dim_location"))
        .column_by_name("location_id")
        .unwrap()
        .as_string::<i32>()
        .iter()
        .flatten()
        .map(str::to_owned)
        .collect();
    assert!(locations.iter().flatten().all(|l| members.contains(l)), "every location is a dim_location member");
}
