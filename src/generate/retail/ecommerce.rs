//! Web and app orders: one event per order line and status. An order is PLACED by a master-data
//! customer with as many distinct products as their segment's basket holds, each line discounted
//! with their segment's chance; then, every line together and a number of events later, it is
//! PAID, SHIPPED and DELIVERED (some orders are CANCELLED before shipping, some delivered ones
//! RETURNED). A share of events carries one [`EcommerceDefect`].

use rand::distr::weighted::WeightedIndex;
use rand::prelude::Distribution;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{Days, Micros, Money, RetailClock, RetailRecord};
use crate::generate::master::{CHANNELS, Channel, MasterData};
use crate::generate::purchasing::weighted;
use crate::generate::{Cents, FollowUps, GeneratorSettings, random_uuid};

/// One order line at one status, in the field order of `schemas/ecommerce_order_line.v1.avsc`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EcommerceOrderLine {
    pub event_id: String,
    /// `WEB-NNNNNNNN`; the Kafka key.
    pub order_id: Option<String>,
    pub line_number: i32,
    pub order_status: Option<String>,
    pub channel_id: Option<String>,
    pub customer_id: Option<String>,
    pub sku: Option<String>,
    pub quantity: Option<i32>,
    pub unit_price: Option<Money>,
    pub discount_amount: Option<Money>,
    pub line_total: Option<Money>,
    pub currency: Option<String>,
    pub shipping_method: Option<String>,
    pub shipping_amount: Option<Money>,
    pub fulfilment_location_id: Option<String>,
    pub event_time: Micros,
    pub order_date: Days,
}

impl RetailRecord for EcommerceOrderLine {
    fn event_id(&self) -> &str {
        &self.event_id
    }

    fn key(&self) -> Option<&[u8]> {
        self.order_id.as_deref().map(str::as_bytes)
    }
}

/// The online channels and their shares of orders.
const ONLINE_CHANNELS: [(&str, f64); 4] = [("WEB", 0.5), ("MOBILE_APP", 0.32), ("MARKETPLACE", 0.12), ("SOCIAL", 0.06)];
/// Shipping methods, their shares and charges (cents; standard is free from $50).
const SHIPPING: [(&str, f64, i64); 4] = [("STANDARD", 0.55, 599), ("EXPRESS", 0.25, 1_299), ("NEXT_DAY", 0.1, 2_499), ("STORE_PICKUP", 0.1, 0)];
/// Events until an order's next status, on average, after each status.
const MEAN_DELAY: [(&str, f64); 3] = [("PLACED", 150.0), ("PAID", 600.0), ("SHIPPED", 2_000.0)];

/// What is wrong with a bad event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EcommerceDefect {
    /// `order_id` or `sku` is null.
    MissingKey,
    /// A SKU the master data does not have.
    UnknownSku,
    /// Zero or negative units.
    NegativeQuantity,
    /// `line_total` is not quantity × price − discount.
    WrongTotal,
    /// A status outside the lifecycle.
    UnknownStatus,
}

impl EcommerceDefect {
    pub const ALL: [EcommerceDefect; 5] = [Self::MissingKey, Self::UnknownSku, Self::NegativeQuantity, Self::WrongTotal, Self::UnknownStatus];

    pub fn name(self) -> &'static str {
        match self {
            Self::MissingKey => "missing_key",
            Self::UnknownSku => "unknown_sku",
            Self::NegativeQuantity => "negative_quantity",
            Self::WrongTotal => "wrong_total",
            Self::UnknownStatus => "unknown_status",
        }
    }

    fn apply(self, line: &mut EcommerceOrderLine, rng: &mut impl Rng) {
        match self {
            Self::MissingKey if rng.random_bool(0.5) => line.order_id = None,
            Self::MissingKey => line.sku = None,
            Self::UnknownSku => line.sku = Some(format!("SKU-{}", rng.random_range(90_000..100_000))),
            Self::NegativeQuantity => line.quantity = Some(-line.quantity.unwrap_or(1)),
            Self::WrongTotal => line.line_total = line.line_total.map(|Money(total)| Money(Cents(total.0 + rng.random_range(100..5_000)))),
            Self::UnknownStatus => line.order_status = Some("LOST_IN_TRANSIT".to_owned()),
        }
    }
}

/// One generated event and the defect it carries, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedOrderLine {
    pub line: EcommerceOrderLine,
    pub defect: Option<EcommerceDefect>,
}

/// An order between its events: its lines as placed and its current status.
struct Order {
    lines: Vec<EcommerceOrderLine>,
    status: &'static str,
    last_time: i64,
}

/// The e-commerce generator's state.
pub struct EcommerceGenerator {
    rng: ChaCha8Rng,
    master: &'static MasterData,
    clock: RetailClock,
    invalid_ratio: f64,
    emitted: u64,
    next_order: u64,
    pending: std::collections::VecDeque<EcommerceOrderLine>,
    scheduled: FollowUps<Order>,
    /// Draws of [`ONLINE_CHANNELS`] and [`SHIPPING`] indexes.
    channel_picker: WeightedIndex<f64>,
    shipping_picker: WeightedIndex<f64>,
}

impl EcommerceGenerator {
    pub fn new(settings: &GeneratorSettings) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        let next_order = rng.random_range(10_000_000..20_000_000);
        Self {
            rng,
            master: MasterData::shared(),
            clock: RetailClock::new(settings.start_time, settings.rate, settings.time_scale),
            invalid_ratio: settings.invalid_ratio,
            emitted: 0,
            next_order,
            pending: std::collections::VecDeque::new(),
            scheduled: FollowUps::default(),
            channel_picker: weighted(ONLINE_CHANNELS.iter().map(|c| c.1)),
            shipping_picker: weighted(SHIPPING.iter().map(|s| s.1)),
        }
    }

    pub fn next_event(&mut self) -> GeneratedOrderLine {
        let mut line = loop {
            if let Some(line) = self.pending.pop_front() {
                break line;
            }
            match self.scheduled.pop_due(self.emitted) {
                Some(order) => self.advance(order),
                None => self.place_order(),
            }
        };
        self.emitted += 1;
        let defect = super::pick_defect(&mut self.rng, self.invalid_ratio, &EcommerceDefect::ALL);
        if let Some(kind) = defect {
            kind.apply(&mut line, &mut self.rng);
        }
        GeneratedOrderLine { line, defect }
    }

    /// Queues an order's lines at its status, and schedules its next status unless it is final.
    fn queue(&mut self, mut order: Order) {
        for line in &mut order.lines {
            line.event_id = random_uuid(&mut self.rng);
            line.order_status = Some(order.status.to_owned());
            line.event_time = Micros(order.last_time);
        }
        self.pending.extend(order.lines.iter().cloned());
        let mean = match MEAN_DELAY.iter().find(|(status, _)| *status == order.status) {
            Some((_, mean)) => *mean,
            // A delivered order may come back; cancelled and returned ones are done.
            None if order.status == "DELIVERED" && self.rng.random_bool(0.06) => 8_000.0,
            None => return,
        };
        let delay = (mean * -(1.0 - self.rng.random::<f64>()).ln()).ceil().max(1.0) as u64;
        let due = self.emitted + order.lines.len() as u64 + delay;
        // One order is queued per event index at most: the index orders ties.
        self.scheduled.push(due, self.emitted, order);
    }

    /// The next status of `order`, now.
    fn advance(&mut self, mut order: Order) {
        order.status = match order.status {
            "PLACED" if self.rng.random_bool(0.03) => "CANCELLED",
            "PLACED" => "PAID",
            "PAID" if self.rng.random_bool(0.02) => "CANCELLED",
            "PAID" => "SHIPPED",
            "SHIPPED" => "DELIVERED",
            _ => "RETURNED",
        };
        order.last_time = self.clock.now().max(order.last_time + 1_000_000);
        self.queue(order);
    }

    fn place_order(&mut self) {
        let rng = &mut self.rng;
        let customer = &self.master.customers[rng.random_range(0..self.master.customers.len())];
        let segment = customer.segment();
        let channel_id = ONLINE_CHANNELS[self.channel_picker.sample(rng)].0;
        let channel: &Channel = CHANNELS.iter().find(|c| c.channel_id == channel_id).unwrap_or(&CHANNELS[1]);
        let basket = rng.random_range(segment.basket.0..=segment.basket.1);
        let time = self.clock.next_time(rng, channel, basket);
        let (method, _, charge) = SHIPPING[self.shipping_picker.sample(rng)];
        let location = match method {
            "STORE_PICKUP" => customer.home_store,
            _ => self.master.warehouse_for(customer.home_store).map_or("WH-01", |w| w.location_id),
        };
        let products = rand::seq::index::sample(rng, self.master.products.len(), basket as usize).into_vec();
        let mut lines: Vec<EcommerceOrderLine> = Vec::with_capacity(products.len());
        for (line_number, product) in (1..).zip(products) {
            let product = &self.master.products[product];
            let quantity = rng.random_range(1..=3);
            let gross = product.list_price_cents * i64::from(quantity);
            let discount = rng.random_bool(segment.discount_sensitivity).then(|| Cents(gross * rng.random_range(5..=25) / 100));
            lines.push(EcommerceOrderLine {
                event_id: String::new(),
                order_id: Some(format!("WEB-{:08}", self.next_order)),
                line_number,
                order_status: None,
                channel_id: Some(channel_id.to_owned()),
                customer_id: Some(customer.customer_id.clone()),
                sku: Some(product.sku.clone()),
                quantity: Some(quantity),
                unit_price: Some(Money(Cents(product.list_price_cents))),
                discount_amount: discount.map(Money),
                line_total: Some(Money(Cents(gross - discount.map_or(0, |d| d.0)))),
                currency: Some("USD".to_owned()),
                shipping_method: Some(method.to_owned()),
                shipping_amount: None,
                fulfilment_location_id: Some(location.to_owned()),
                event_time: Micros(time),
                order_date: Days::of(time),
            });
        }
        let total: i64 = lines.iter().filter_map(|l| l.line_total).map(|Money(c)| c.0).sum();
        let charge = if method == "STANDARD" && total >= 5_000 { 0 } else { charge };
        for line in &mut lines {
            line.shipping_amount = Some(Money(Cents(if line.line_number == 1 { charge } else { 0 })));
        }
        self.next_order += 1;
        self.queue(Order { lines, status: "PLACED", last_time: time });
    }
}
