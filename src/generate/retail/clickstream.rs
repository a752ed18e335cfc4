//! Clickstream of the web shop and app: one event per page view, product view, cart change,
//! checkout or purchase. A visit lands on a page, views products, and in a share of visits adds
//! as many distinct products to the cart as the visitor's segment's basket holds; some carts are
//! bought, the others abandoned (sometimes after a checkout that is never completed). A share of
//! events carries one [`ClickDefect`].

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{Micros, Money, RetailClock, RetailRecord};
use crate::generate::master::{CHANNELS, MasterData};
use crate::generate::{Cents, GeneratorSettings, random_uuid};

/// One click event, in the field order of `schemas/click_event.v1.avsc`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClickEvent {
    pub event_id: String,
    /// `SES-NNNNNNNNNN`, the same on every event of a visit; the Kafka key.
    pub session_id: Option<String>,
    pub event_sequence: i32,
    pub event_type: Option<String>,
    pub channel_id: Option<String>,
    pub customer_id: Option<String>,
    pub device: Option<String>,
    pub page: Option<String>,
    pub sku: Option<String>,
    pub quantity: Option<i32>,
    pub unit_price: Option<Money>,
    pub event_time: Micros,
}

impl RetailRecord for ClickEvent {
    fn event_id(&self) -> &str {
        &self.event_id
    }

    fn key(&self) -> Option<&[u8]> {
        self.session_id.as_deref().map(str::as_bytes)
    }
}

/// Share of visits that put something in the cart.
const CART_SHARE: f64 = 0.45;
/// Chance a cart is bought, per segment (in the order of the master data's segments).
const PURCHASE_CHANCE: [f64; 5] = [0.75, 0.65, 0.6, 0.45, 0.3];
/// Share of visitors who are signed in (the others are guests).
const SIGNED_IN: f64 = 0.8;

/// What is wrong with a bad event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClickDefect {
    /// `session_id` or `event_type` is null.
    MissingKey,
    /// An event type outside the list.
    UnknownEventType,
    /// A SKU the master data does not have.
    UnknownSku,
    /// A cart event with zero or negative units.
    NegativeQuantity,
}

impl ClickDefect {
    pub const ALL: [ClickDefect; 4] = [Self::MissingKey, Self::UnknownEventType, Self::UnknownSku, Self::NegativeQuantity];

    pub fn name(self) -> &'static str {
        match self {
            Self::MissingKey => "missing_key",
            Self::UnknownEventType => "unknown_event_type",
            Self::UnknownSku => "unknown_sku",
            Self::NegativeQuantity => "negative_quantity",
        }
    }

    fn apply(self, event: &mut ClickEvent, rng: &mut impl Rng) {
        match self {
            Self::MissingKey if rng.random_bool(0.5) => event.session_id = None,
            Self::MissingKey => event.event_type = None,
            Self::UnknownEventType => event.event_type = Some("HOVER".to_owned()),
            Self::UnknownSku => event.sku = Some(format!("SKU-{}", rng.random_range(90_000..100_000))),
            // On a cart event (where units count); elsewhere the event carries units it must not.
            Self::NegativeQuantity => event.quantity = Some(-event.quantity.unwrap_or(1).abs()),
        }
    }
}

/// One generated event and the defect it carries, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedClick {
    pub event: ClickEvent,
    pub defect: Option<ClickDefect>,
}

/// The clickstream generator's state.
pub struct ClickstreamGenerator {
    rng: ChaCha8Rng,
    master: &'static MasterData,
    clock: RetailClock,
    invalid_ratio: f64,
    next_session: u64,
    pending: std::collections::VecDeque<ClickEvent>,
}

/// A visit being written: who, where, and the events so far.
struct Visit {
    session_id: String,
    channel_id: &'static str,
    customer_id: Option<String>,
    device: &'static str,
    time: i64,
    events: Vec<ClickEvent>,
}

impl Visit {
    /// Appends an event a few seconds to minutes after the previous one.
    fn push(&mut self, rng: &mut impl Rng, event_type: &str, page: String, item: Option<(&str, i32, Cents)>) {
        self.time += rng.random_range(3_000_000..180_000_000);
        self.events.push(ClickEvent {
            event_id: random_uuid(rng),
            session_id: Some(self.session_id.clone()),
            event_sequence: self.events.len() as i32 + 1,
            event_type: Some(event_type.to_owned()),
            channel_id: Some(self.channel_id.to_owned()),
            customer_id: self.customer_id.clone(),
            device: Some(self.device.to_owned()),
            page: Some(page),
            sku: item.map(|(sku, _, _)| sku.to_owned()),
            quantity: item.map(|(_, quantity, _)| quantity).filter(|_| event_type.ends_with("CART")),
            unit_price: item.map(|(_, _, price)| Money(price)).filter(|_| event_type.ends_with("CART")),
            event_time: Micros(self.time),
        });
    }
}

impl ClickstreamGenerator {
    pub fn new(settings: &GeneratorSettings) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        let next_session = rng.random_range(1_000_000_000..2_000_000_000);
        Self {
            rng,
            master: MasterData::shared(),
            clock: RetailClock::new(settings.start_time, settings.rate, settings.time_scale),
            invalid_ratio: settings.invalid_ratio,
            next_session,
            pending: std::collections::VecDeque::new(),
        }
    }

    pub fn next_event(&mut self) -> GeneratedClick {
        let mut event = loop {
            match self.pending.pop_front() {
                Some(event) => break event,
                None => self.visit(),
            }
        };
        let defect = super::pick_defect(&mut self.rng, self.invalid_ratio, &ClickDefect::ALL);
        if let Some(kind) = defect {
            kind.apply(&mut event, &mut self.rng);
        }
        GeneratedClick { event, defect }
    }

    /// Queues the events of one visit.
    fn visit(&mut self) {
        let rng = &mut self.rng;
        let customer = &self.master.customers[rng.random_range(0..self.master.customers.len())];
        let segment = customer.segment();
        let channel = if rng.random_bool(0.6) { &CHANNELS[1] } else { &CHANNELS[2] };
        let device = match (channel.channel_id, rng.random_range(0..10)) {
            ("MOBILE_APP", 0..=7) | ("WEB", 0..=3) => "mobile",
            ("WEB", 4..=8) => "desktop",
            _ => "tablet",
        };
        let views = rng.random_range(2..=8);
        let time = self.clock.next_time(rng, channel, views + 2);
        let mut visit = Visit {
            session_id: format!("SES-{:010}", self.next_session),
            channel_id: channel.channel_id,
            customer_id: rng.random_bool(SIGNED_IN).then(|| customer.customer_id.clone()),
            device,
            time,
            events: Vec::new(),
        };
        self.next_session += 1;
        visit.push(rng, "PAGE_VIEW", "/".to_owned(), None);
        let products = &self.master.products;
        let viewed: Vec<usize> = (0..views).map(|_| rng.random_range(0..products.len())).collect();
        for &index in &viewed {
            visit.push(rng, "PRODUCT_VIEW", format!("/product/{}", products[index].sku), Some((&products[index].sku, 0, Cents(0))));
        }
        if rng.random_bool(CART_SHARE) {
            let basket = rng.random_range(segment.basket.0..=segment.basket.1) as usize;
            let carted = rand::seq::index::sample(rng, products.len(), basket).into_vec();
            for &index in &carted {
                let product = &products[index];
                let units = rng.random_range(1..=2);
                visit.push(rng, "ADD_TO_CART", "/cart".to_owned(), Some((&product.sku, units, Cents(product.list_price_cents))));
            }
            if carted.len() > 1 && rng.random_bool(0.2) {
                let product = &products[carted[0]];
                visit.push(rng, "REMOVE_FROM_CART", "/cart".to_owned(), Some((&product.sku, 1, Cents(product.list_price_cents))));
            }
            let buys = rng.random_bool(PURCHASE_CHANCE[customer.segment]);
            if buys || rng.random_bool(0.3) {
                visit.push(rng, "CHECKOUT", "/checkout".to_owned(), None);
            }
            if buys {
                visit.push(rng, "PURCHASE", "/checkout/confirmation".to_owned(), None);
            }
        }
        self.pending.extend(visit.events);
    }
}
