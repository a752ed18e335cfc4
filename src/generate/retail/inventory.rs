//! Stock movements at the stores and warehouses: sales deplete a store's stock; a store short of
//! a product is replenished by a transfer from its region's warehouse (two events, out and in),
//! a warehouse short of it by a receipt from the product's vendor; adjustments record damage,
//! shrinkage and count corrections. Every location starts empty and every event carries the
//! quantity on hand after it, so the stream is consistent: a product's on-hand at a location is
//! the sum of its movements there, never negative. At the end of each day a STOCK_COUNT event
//! gives the position of every product that moved that day. A share of events carries one
//! [`InventoryDefect`] (on the event only; the stock it reports stays true).

use std::collections::BTreeSet;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{Days, Micros, Money, RetailClock, RetailRecord};
use crate::generate::master::{CHANNELS, MasterData};
use crate::generate::{Cents, GeneratorSettings, random_uuid};

/// One stock movement, in the field order of `schemas/inventory_movement.v1.avsc`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InventoryMovement {
    pub event_id: String,
    /// `INV-NNNNNNNNNN`; the Kafka key.
    pub movement_id: Option<String>,
    pub movement_type: Option<String>,
    pub location_id: Option<String>,
    pub sku: Option<String>,
    pub quantity: Option<i32>,
    pub quantity_on_hand: Option<i32>,
    pub reference_id: Option<String>,
    pub unit_cost: Option<Money>,
    pub event_time: Micros,
    pub business_date: Days,
}

impl RetailRecord for InventoryMovement {
    fn event_id(&self) -> &str {
        &self.event_id
    }

    fn key(&self) -> Option<&[u8]> {
        self.movement_id.as_deref().map(str::as_bytes)
    }
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// What is wrong with a bad event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InventoryDefect {
    /// `sku` or `location_id` is null.
    MissingKey,
    /// A SKU the master data does not have.
    UnknownSku,
    /// A location the master data does not have.
    UnknownLocation,
    /// A negative quantity on hand.
    NegativeOnHand,
    /// A receipt that takes stock away.
    WrongSign,
    /// A movement type outside the list.
    UnknownType,
}

impl InventoryDefect {
    pub const ALL: [InventoryDefect; 6] =
        [Self::MissingKey, Self::UnknownSku, Self::UnknownLocation, Self::NegativeOnHand, Self::WrongSign, Self::UnknownType];

    pub fn name(self) -> &'static str {
        match self {
            Self::MissingKey => "missing_key",
            Self::UnknownSku => "unknown_sku",
            Self::UnknownLocation => "unknown_location",
            Self::NegativeOnHand => "negative_on_hand",
            Self::WrongSign => "wrong_sign",
            Self::UnknownType => "unknown_type",
        }
    }

    fn apply(self, movement: &mut InventoryMovement, rng: &mut impl Rng) {
        match self {
            Self::MissingKey if rng.random_bool(0.5) => movement.sku = None,
            Self::MissingKey => movement.location_id = None,
            Self::UnknownSku => movement.sku = Some(format!("SKU-{}", rng.random_range(90_000..100_000))),
            Self::UnknownLocation => movement.location_id = Some("WH-99".to_owned()),
            Self::NegativeOnHand => movement.quantity_on_hand = Some(-rng.random_range(1..50)),
            Self::WrongSign => {
                movement.movement_type = Some("RECEIPT".to_owned());
                movement.quantity = Some(-movement.quantity.unwrap_or(0).abs() - 1);
            }
            Self::UnknownType => movement.movement_type = Some("THEFT".to_owned()),
        }
    }
}

/// One generated event and the defect it carries, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedMovement {
    pub movement: InventoryMovement,
    pub defect: Option<InventoryDefect>,
}

/// The inventory generator's state: the stock of every product at every location.
pub struct InventoryGenerator {
    rng: ChaCha8Rng,
    master: &'static MasterData,
    clock: RetailClock,
    invalid_ratio: f64,
    /// Units on hand, per location (master-data order) × product.
    on_hand: Vec<Vec<i32>>,
    /// The day being traded and the (location, product) cells that moved in it.
    day: Option<i64>,
    moved_today: BTreeSet<(usize, usize)>,
    next_movement: u64,
    next_transfer: u64,
    pending: std::collections::VecDeque<InventoryMovement>,
}

impl InventoryGenerator {
    pub fn new(settings: &GeneratorSettings) -> Self {
        let master = MasterData::shared();
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        let next_movement = rng.random_range(1_000_000_000..2_000_000_000);
        Self {
            rng,
            master,
            clock: RetailClock::new(settings.start_time, settings.rate, settings.time_scale),
            invalid_ratio: settings.invalid_ratio,
            on_hand: vec![vec![0; master.products.len()]; master.locations.len()],
            day: None,
            moved_today: BTreeSet::new(),
            next_movement,
            next_transfer: 1,
            pending: std::collections::VecDeque::new(),
        }
    }

    pub fn next_event(&mut self) -> GeneratedMovement {
        let mut movement = loop {
            match self.pending.pop_front() {
                Some(movement) => break movement,
                None => self.next_movements(),
            }
        };
        let defect = super::pick_defect(&mut self.rng, self.invalid_ratio, &InventoryDefect::ALL);
        if let Some(kind) = defect {
            kind.apply(&mut movement, &mut self.rng);
        }
        GeneratedMovement { movement, defect }
    }

    /// Queues what happens next: the end-of-day counts when a day is over, then a movement.
    fn next_movements(&mut self) {
        let time = self.clock.next_time(&mut self.rng, &CHANNELS[0], 1);
        let day = time.div_euclid(MICROS_PER_DAY);
        if let Some(previous) = self.day.filter(|d| *d != day) {
            let end_of_day = (previous + 1) * MICROS_PER_DAY - 1;
            for (location, product) in std::mem::take(&mut self.moved_today) {
                self.record(end_of_day, "STOCK_COUNT", location, product, 0, None);
            }
        }
        self.day = Some(day);
        let draw = self.rng.random::<f64>();
        let products = self.master.products.len();
        let product = self.rng.random_range(0..products);
        if draw < 0.06 {
            let warehouse = 10 + self.rng.random_range(0..3);
            self.receive(time, warehouse, product);
        } else if draw < 0.11 {
            self.adjust(time, product);
        } else {
            let store = self.rng.random_range(0..10);
            let units = if self.rng.random_bool(0.8) { 1 } else { self.rng.random_range(2..=4) };
            if self.on_hand[store][product] >= units {
                self.record(time, "SALE", store, product, -units, None);
            } else {
                self.replenish(time, store, product);
            }
        }
    }

    /// Stocks `store` with `product` from its region's warehouse, or the warehouse from the vendor.
    fn replenish(&mut self, time: i64, store: usize, product: usize) {
        let master = self.master;
        let warehouse_id = master.warehouse_for(master.locations[store].location_id).map_or("WH-01", |w| w.location_id);
        let warehouse = master.locations.iter().position(|l| l.location_id == warehouse_id).unwrap_or(10);
        let available = self.on_hand[warehouse][product];
        if available < 10 {
            return self.receive(time, warehouse, product);
        }
        let units = self.rng.random_range(10..=40).min(available);
        let transfer = format!("TRF-{:010}", self.next_transfer);
        self.next_transfer += 1;
        self.record(time, "TRANSFER_OUT", warehouse, product, -units, Some(transfer.clone()));
        self.record(time + 1, "TRANSFER_IN", store, product, units, Some(transfer));
    }

    fn receive(&mut self, time: i64, warehouse: usize, product: usize) {
        let units = self.rng.random_range(100..=400);
        let vendor = self.master.products[product].vendor_id.to_owned();
        self.record(time, "RECEIPT", warehouse, product, units, Some(vendor));
    }

    /// Damage or shrinkage (never below zero) or a count correction upwards, somewhere.
    fn adjust(&mut self, time: i64, product: usize) {
        let location = self.rng.random_range(0..self.master.locations.len());
        let held = self.on_hand[location][product];
        let (units, reason) = match self.rng.random_range(0..3) {
            0 | 1 if held > 0 => (-self.rng.random_range(1..=held.min(3)), if self.rng.random_bool(0.5) { "DAMAGE" } else { "SHRINKAGE" }),
            _ => (self.rng.random_range(1..=3), "COUNT_CORRECTION"),
        };
        self.record(time, "ADJUSTMENT", location, product, units, Some(reason.to_owned()));
    }

    /// Applies a movement of `units` to the stock and queues its event.
    fn record(&mut self, time: i64, kind: &str, location: usize, product: usize, units: i32, reference: Option<String>) {
        self.on_hand[location][product] += units;
        if kind != "STOCK_COUNT" {
            self.moved_today.insert((location, product));
        }
        let item = &self.master.products[product];
        self.pending.push_back(InventoryMovement {
            event_id: random_uuid(&mut self.rng),
            movement_id: Some(format!("INV-{:010}", self.next_movement)),
            movement_type: Some(kind.to_owned()),
            location_id: Some(self.master.locations[location].location_id.to_owned()),
            sku: Some(item.sku.clone()),
            quantity: Some(units),
            quantity_on_hand: Some(self.on_hand[location][product]),
            reference_id: reference,
            unit_cost: Some(Money(Cents(item.cost_cents))),
            event_time: Micros(time),
            business_date: Days::of(time),
        });
        self.next_movement += 1;
    }
}
