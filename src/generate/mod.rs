//! The purchase-order generator: a pure, seeded state machine that emits line-item events.
//! Its products, vendors, customers and warehouses are the retail master data's ([`master`]):
//! an order holds as many distinct products as its customer's segment's basket.
//!
//! Every order is placed with several lines (NEW events, sent one after the other); each line then
//! moves through PROCESSING and SHIPPED to DELIVERED, or is CANCELLED, in later events with the
//! same `order_id` and `line_number`, a fresh `event_id` and a later `event_time`. Follow-ups are
//! scheduled a random number of events ahead, so a stream interleaves new orders with the progress
//! of earlier ones. A configurable share of events carries one [`DefectKind`].

mod clock;
mod defects;
mod follow_ups;
mod lifecycle;
pub mod master;
pub mod payments;
mod purchasing;
pub mod retail;
mod record;

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use clock::{EventClock, fiscal_quarter};
pub use defects::DefectKind;
pub(crate) use follow_ups::FollowUps;
pub use lifecycle::{LineItem, OrderStatus, PaymentStatus};
use purchasing::Purchasing;
pub use record::{Cents, PurchaseOrderItem};

/// What shapes a generated stream.
#[derive(Debug, Clone)]
pub struct GeneratorSettings {
    /// Seed of every random choice, master data included.
    pub seed: u64,
    /// Share of events (0–1) given one defect.
    pub invalid_ratio: f64,
    /// Simulated calendar start; `None` stamps events with the wall clock.
    pub start_time: Option<DateTime<Utc>>,
    /// Target events per second (paces the simulated calendar; 0 = unlimited).
    pub rate: u32,
    /// Simulated seconds per real second.
    pub time_scale: f64,
}

/// One generated event and the defect it carries, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedEvent {
    pub item: PurchaseOrderItem,
    pub defect: Option<DefectKind>,
}

impl GeneratedEvent {
    /// The Kafka message key: see [`PurchaseOrderItem::key`].
    pub fn key(&self) -> Option<&[u8]> {
        self.item.key()
    }
}

/// A random (v4-shaped) UUID from `rng`, lowercase and hyphenated: event and transaction ids.
pub(crate) fn random_uuid(rng: &mut impl Rng) -> String {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid().to_string()
}

/// The generator's state.
pub struct Generator {
    rng: ChaCha8Rng,
    purchasing: Purchasing,
    clock: EventClock,
    invalid_ratio: f64,
    /// Events emitted so far.
    emitted: u64,
    /// Number of the next order (ORD-NNNNNN).
    next_order_number: u32,
    /// NEW lines of the order being placed, emitted before anything else.
    placing: VecDeque<LineItem>,
    /// Follow-ups of earlier lines, earliest due first.
    scheduled: FollowUps<LineItem>,
}

impl Generator {
    pub fn new(settings: &GeneratorSettings) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        let purchasing = Purchasing::new(&mut rng);
        let next_order_number = rng.random_range(100_000..200_000);
        Self {
            rng,
            purchasing,
            clock: EventClock::new(settings.start_time, settings.rate, settings.time_scale),
            invalid_ratio: settings.invalid_ratio,
            emitted: 0,
            next_order_number,
            placing: VecDeque::new(),
            scheduled: FollowUps::default(),
        }
    }

    /// The next event of the stream.
    pub fn next_event(&mut self) -> GeneratedEvent {
        let now = self.clock.next_event_time(&mut self.rng);
        let line = match self.take_due_follow_up() {
            Some(line) => line,
            None => self.next_new_line(now),
        };
        let mut item = line.to_item(&self.purchasing, &mut self.rng, now);
        if let Some(delay) = line.status.next_delay(&mut self.rng) {
            let sequence = self.emitted;
            self.scheduled.push(self.emitted + delay, sequence, line);
        }
        self.emitted += 1;
        let defect = (self.invalid_ratio > 0.0 && self.rng.random_bool(self.invalid_ratio)).then(|| {
            let kind = DefectKind::pick(&mut self.rng);
            kind.apply(&mut item, &mut self.rng);
            kind
        });
        GeneratedEvent { item, defect }
    }

    /// The earliest follow-up, advanced to its next status, if one is due.
    fn take_due_follow_up(&mut self) -> Option<LineItem> {
        self.scheduled.pop_due(self.emitted).map(|mut line| {
            line.advance(&mut self.rng);
            line
        })
    }

    /// The next NEW line, placing a fresh order when the current one is fully sent.
    fn next_new_line(&mut self, now: i64) -> LineItem {
        loop {
            if let Some(mut line) = self.placing.pop_front() {
                line.created_at = now;
                return line;
            }
            self.place_order(now);
        }
    }

    /// Queues the NEW lines of a fresh order placed at `now`.
    fn place_order(&mut self, now: i64) {
        let order_number = self.next_order_number;
        // Order ids stay six digits: wrap within 100000..=999999.
        self.next_order_number = if order_number >= 999_999 { 100_000 } else { order_number + 1 };
        let lines = LineItem::place_order(&self.purchasing, &mut self.rng, order_number, now);
        self.placing.extend(lines);
    }
}

/// A fixed, valid v2 item for tests and examples.
pub fn sample_item() -> PurchaseOrderItem {
    PurchaseOrderItem {
        event_id: "6f1c2a3e-4b5d-4c6e-8f70-81a2b3c4d5e6".to_owned(),
        order_id: Some("ORD-000042".to_owned()),
        line_number: 1,
        product_id: Some("PRD007".to_owned()),
        product_name: Some("Pro Cordless Drill".to_owned()),
        quantity: Some(3),
        unit_price: Some(Cents(12_999)),
        total_amount: Some(Cents(38_997)),
        currency: Some("USD".to_owned()),
        customer_id: Some("CUST-000123".to_owned()),
        vendor_id: Some("VEND-004".to_owned()),
        warehouse_location: Some("WH-01".to_owned()),
        order_status: Some("NEW".to_owned()),
        payment_status: Some("PENDING".to_owned()),
        payment_method: Some("CREDIT_CARD".to_owned()),
        event_time: 1_767_225_600_000_000,
        created_at: 1_767_225_600_000_000,
        order_date: 20_454,
        fiscal_quarter: Some("FY2026-Q3".to_owned()),
        discount_amount: Some(Cents(500)),
        sales_channel: Some("WEB".to_owned()),
    }
}

#[cfg(test)]
mod tests;
