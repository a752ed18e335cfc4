//! Point-of-sale sales in the stores: one event per sale line. A sale is rung up at a store's
//! till (or self-service kiosk) by a master-data customer, whose segment sets how many distinct
//! products the basket holds and the chance each line takes a discount; store hours, weekdays and
//! the months' seasonality pace the calendar. A share of lines carries one [`PosDefect`].

use rand::distr::weighted::WeightedIndex;
use rand::prelude::Distribution;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{Days, Micros, Money, RetailClock, RetailRecord};
use crate::generate::master::{CHANNELS, Channel, MasterData};
use crate::generate::purchasing::weighted;
use crate::generate::{Cents, GeneratorSettings, random_uuid};

/// One sale line, in the field order of `schemas/pos_sale_line.v1.avsc`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PosSaleLine {
    pub event_id: String,
    /// `POS-<store number>-NNNNNNNN`, the same on every line of a sale; the Kafka key.
    pub transaction_id: Option<String>,
    pub line_number: i32,
    pub location_id: Option<String>,
    pub channel_id: Option<String>,
    pub register_id: Option<String>,
    pub sku: Option<String>,
    pub customer_id: Option<String>,
    pub quantity: Option<i32>,
    pub unit_price: Option<Money>,
    pub discount_amount: Option<Money>,
    pub line_total: Option<Money>,
    pub currency: Option<String>,
    pub tender_type: Option<String>,
    pub event_time: Micros,
    pub business_date: Days,
}

impl RetailRecord for PosSaleLine {
    fn event_id(&self) -> &str {
        &self.event_id
    }

    fn key(&self) -> Option<&[u8]> {
        self.transaction_id.as_deref().map(str::as_bytes)
    }
}

pub const TENDER_TYPES: [(&str, f64); 5] =
    [("CREDIT_CARD", 0.42), ("DEBIT_CARD", 0.26), ("CASH", 0.16), ("MOBILE_WALLET", 0.13), ("GIFT_CARD", 0.03)];
/// Units on a line: mostly one.
const QUANTITIES: [(i32, f64); 4] = [(1, 0.78), (2, 0.15), (3, 0.05), (4, 0.02)];
/// Share of sales rung up at a self-service kiosk rather than a till.
const KIOSK_SHARE: f64 = 0.15;

/// What is wrong with a bad line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PosDefect {
    /// `transaction_id` or `sku` is null.
    MissingKey,
    /// A SKU the master data does not have.
    UnknownSku,
    /// A store the master data does not have.
    UnknownStore,
    /// Zero or negative units.
    NegativeQuantity,
    /// `line_total` is not quantity × price − discount.
    WrongTotal,
    /// A tender type outside the list.
    UnknownTender,
}

impl PosDefect {
    pub const ALL: [PosDefect; 6] =
        [Self::MissingKey, Self::UnknownSku, Self::UnknownStore, Self::NegativeQuantity, Self::WrongTotal, Self::UnknownTender];

    pub fn name(self) -> &'static str {
        match self {
            Self::MissingKey => "missing_key",
            Self::UnknownSku => "unknown_sku",
            Self::UnknownStore => "unknown_store",
            Self::NegativeQuantity => "negative_quantity",
            Self::WrongTotal => "wrong_total",
            Self::UnknownTender => "unknown_tender",
        }
    }

    fn apply(self, line: &mut PosSaleLine, rng: &mut impl Rng) {
        match self {
            Self::MissingKey if rng.random_bool(0.5) => line.transaction_id = None,
            Self::MissingKey => line.sku = None,
            Self::UnknownSku => line.sku = Some(format!("SKU-{}", rng.random_range(90_000..100_000))),
            Self::UnknownStore => line.location_id = Some("STORE-99".to_owned()),
            Self::NegativeQuantity => line.quantity = Some(-line.quantity.unwrap_or(1)),
            Self::WrongTotal => line.line_total = line.line_total.map(|Money(total)| Money(Cents(total.0 + rng.random_range(100..5_000)))),
            Self::UnknownTender => line.tender_type = Some("IOU".to_owned()),
        }
    }
}

/// One generated line and the defect it carries, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedSale {
    pub line: PosSaleLine,
    pub defect: Option<PosDefect>,
}

/// The point-of-sale generator's state.
pub struct PosGenerator {
    rng: ChaCha8Rng,
    master: &'static MasterData,
    clock: RetailClock,
    invalid_ratio: f64,
    /// Number of the next sale, per store.
    next_sale: [u32; 10],
    /// The lines of the sale being sent.
    pending: std::collections::VecDeque<PosSaleLine>,
    /// The stores' ids, and draws of [`TENDER_TYPES`] and [`QUANTITIES`] indexes.
    stores: Vec<&'static str>,
    tender_picker: WeightedIndex<f64>,
    quantity_picker: WeightedIndex<f64>,
}

impl PosGenerator {
    pub fn new(settings: &GeneratorSettings) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        // Each store's numbering starts somewhere of the seed's choosing, so two producer runs
        // with different seeds do not ring up the same sale ids.
        let next_sale = std::array::from_fn(|_| rng.random_range(1..90_000_000));
        Self {
            rng,
            master: MasterData::shared(),
            clock: RetailClock::new(settings.start_time, settings.rate, settings.time_scale),
            invalid_ratio: settings.invalid_ratio,
            next_sale,
            pending: std::collections::VecDeque::new(),
            stores: MasterData::shared().stores().map(|s| s.location_id).collect(),
            tender_picker: weighted(TENDER_TYPES.iter().map(|t| t.1)),
            quantity_picker: weighted(QUANTITIES.iter().map(|q| q.1)),
        }
    }

    pub fn next_event(&mut self) -> GeneratedSale {
        let mut line = loop {
            match self.pending.pop_front() {
                Some(line) => break line,
                None => self.ring_up_sale(),
            }
        };
        let defect = super::pick_defect(&mut self.rng, self.invalid_ratio, &PosDefect::ALL);
        if let Some(kind) = defect {
            kind.apply(&mut line, &mut self.rng);
        }
        GeneratedSale { line, defect }
    }

    /// Queues the lines of the next sale: a customer at their home store most of the time.
    fn ring_up_sale(&mut self) {
        let rng = &mut self.rng;
        let customer = &self.master.customers[rng.random_range(0..self.master.customers.len())];
        let segment = customer.segment();
        let lines = rng.random_range(segment.basket.0..=segment.basket.1);
        let channel: &Channel = if rng.random_bool(KIOSK_SHARE) { &CHANNELS[6] } else { &CHANNELS[0] };
        let time = self.clock.next_time(rng, &CHANNELS[0], lines);
        let stores = &self.stores;
        let store = if rng.random_bool(0.8) { customer.home_store } else { stores[rng.random_range(0..stores.len())] };
        let store_number: usize = store.trim_start_matches("STORE-").parse().unwrap_or(1);
        let sale = self.next_sale[(store_number - 1) % 10];
        self.next_sale[(store_number - 1) % 10] += 1;
        let transaction_id = format!("POS-{store_number:02}-{sale:08}");
        let register = format!("{store}-{}{}", if channel.channel_id == "KIOSK" { "K" } else { "R" }, rng.random_range(1..=6));
        let tender = TENDER_TYPES[self.tender_picker.sample(rng)].0;
        let products = rand::seq::index::sample(rng, self.master.products.len(), lines as usize).into_vec();
        for (line_number, product) in (1..).zip(products) {
            let product = &self.master.products[product];
            let quantity = QUANTITIES[self.quantity_picker.sample(rng)].0;
            let unit_price = Cents(product.list_price_cents);
            let gross = unit_price.0 * i64::from(quantity);
            let discount = rng.random_bool(segment.discount_sensitivity).then(|| Cents(gross * rng.random_range(10..=30) / 100));
            self.pending.push_back(PosSaleLine {
                event_id: random_uuid(rng),
                transaction_id: Some(transaction_id.clone()),
                line_number,
                location_id: Some(store.to_owned()),
                channel_id: Some(channel.channel_id.to_owned()),
                register_id: Some(register.clone()),
                sku: Some(product.sku.clone()),
                customer_id: Some(customer.customer_id.clone()),
                quantity: Some(quantity),
                unit_price: Some(Money(unit_price)),
                discount_amount: discount.map(Money),
                line_total: Some(Money(Cents(gross - discount.map_or(0, |d| d.0)))),
                currency: Some("USD".to_owned()),
                tender_type: Some(tender.to_owned()),
                event_time: Micros(time),
                business_date: Days::of(time),
            });
        }
    }
}
