//! A line item's life: placed as NEW, then PROCESSING, SHIPPED and DELIVERED, or CANCELLED on the
//! way; payment follows (DELIVERED ⇒ PAID; CANCELLED ⇒ REFUNDED, FAILED or PENDING).

use chrono::DateTime;
use rand::Rng;
use rand::prelude::Distribution;

use super::clock::fiscal_quarter;
use super::purchasing::{self, Purchasing, SALES_CHANNELS};
use super::record::{Cents, PurchaseOrderItem};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    New,
    Processing,
    Shipped,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "NEW",
            Self::Processing => "PROCESSING",
            Self::Shipped => "SHIPPED",
            Self::Delivered => "DELIVERED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// Events until the next status change, or `None` when this status is final. Means are in
    /// events so a live stream completes orders; the simulated calendar turns them into hours/days.
    pub fn next_delay(self, rng: &mut impl Rng) -> Option<u64> {
        let mean = match self {
            Self::New => 300.0,
            Self::Processing => 1_500.0,
            Self::Shipped => 4_000.0,
            Self::Delivered | Self::Cancelled => return None,
        };
        let exponential = -(1.0 - rng.random::<f64>()).ln();
        Some((mean * exponential).ceil().max(1.0) as u64)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    Pending,
    Paid,
    Refunded,
    Failed,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Paid => "PAID",
            Self::Refunded => "REFUNDED",
            Self::Failed => "FAILED",
        }
    }
}

/// Everything that stays fixed across a line item's events, plus its current status.
#[derive(Debug, Clone)]
pub struct LineItem {
    pub order_number: u32,
    pub line_number: i32,
    /// Index into the master data's products.
    pub product: usize,
    /// Index into the buyers (the master data's customers).
    pub customer: usize,
    pub quantity: i32,
    pub unit_price: Cents,
    pub discount: Option<Cents>,
    pub warehouse: &'static str,
    pub payment_method: &'static str,
    pub sales_channel: &'static str,
    /// When the order was placed (µs); fixes `order_date` and `fiscal_quarter`.
    pub order_placed_at: i64,
    /// When this line's NEW event happened (µs).
    pub created_at: i64,
    pub status: OrderStatus,
    pub payment: PaymentStatus,
}

impl LineItem {
    /// The lines of a new order by a customer drawn from the master data: as many distinct
    /// products as their segment's basket holds, each line discounted with the chance of their
    /// segment's discount sensitivity.
    pub fn place_order(purchasing: &Purchasing, rng: &mut impl Rng, order_number: u32, now: i64) -> Vec<LineItem> {
        let customer = purchasing.pick_buyer(rng);
        let buyer = &purchasing.buyers[customer];
        let (segment, habits) = (buyer.segment(), buyer.habits());
        let payment_method = purchasing.pick_payment_method(rng, buyer);
        let sales_channel = SALES_CHANNELS[purchasing.channel_picker.sample(rng)].0;
        let line_count = rng.random_range(segment.basket.0..=segment.basket.1) as usize;
        let products = purchasing.pick_products(rng, line_count);
        (1..)
            .zip(products)
            .map(|(line_number, product)| {
                let list_price = Cents(purchasing.master.products[product].list_price_cents);
                let unit_price = purchasing::convert(list_price, buyer.currency);
                let mut quantity = rng.random_range(habits.units_per_line.0..=habits.units_per_line.1);
                if unit_price.0 > 100_000 {
                    quantity = (quantity / 5).max(1); // nobody buys 40 laptops on one line
                }
                let total = unit_price.0 * i64::from(quantity);
                let discount = rng.random_bool(segment.discount_sensitivity).then(|| Cents(total * rng.random_range(5..=15) / 100));
                LineItem {
                    order_number,
                    line_number,
                    product,
                    customer,
                    quantity,
                    unit_price,
                    discount,
                    warehouse: buyer.warehouse,
                    payment_method,
                    sales_channel,
                    order_placed_at: now,
                    created_at: now,
                    status: OrderStatus::New,
                    payment: PaymentStatus::Pending,
                }
            })
            .collect()
    }

    /// Moves to the next status, with a payment status consistent with it.
    pub fn advance(&mut self, rng: &mut impl Rng) {
        let paid_upfront = self.payment_method != "BANK_TRANSFER";
        (self.status, self.payment) = match self.status {
            OrderStatus::New if rng.random_bool(0.04) => {
                (OrderStatus::Cancelled, if rng.random_bool(0.5) { PaymentStatus::Failed } else { PaymentStatus::Pending })
            }
            OrderStatus::New => {
                let paid = paid_upfront || rng.random_bool(0.4);
                (OrderStatus::Processing, if paid { PaymentStatus::Paid } else { PaymentStatus::Pending })
            }
            OrderStatus::Processing if rng.random_bool(0.03) => {
                let payment = match self.payment {
                    PaymentStatus::Paid => PaymentStatus::Refunded,
                    _ if rng.random_bool(0.5) => PaymentStatus::Failed,
                    _ => PaymentStatus::Pending,
                };
                (OrderStatus::Cancelled, payment)
            }
            OrderStatus::Processing => {
                let paid = self.payment == PaymentStatus::Paid || rng.random_bool(0.9);
                (OrderStatus::Shipped, if paid { PaymentStatus::Paid } else { PaymentStatus::Pending })
            }
            OrderStatus::Shipped => (OrderStatus::Delivered, PaymentStatus::Paid),
            final_status => (final_status, self.payment),
        };
    }

    /// This line's event at time `now`.
    pub fn to_item(&self, purchasing: &Purchasing, rng: &mut impl Rng, now: i64) -> PurchaseOrderItem {
        let product = &purchasing.master.products[self.product];
        let buyer = &purchasing.buyers[self.customer];
        let placed = DateTime::from_timestamp_micros(self.order_placed_at).unwrap_or_default().date_naive();
        PurchaseOrderItem {
            event_id: super::random_uuid(rng),
            order_id: Some(format!("ORD-{:06}", self.order_number)),
            line_number: self.line_number,
            product_id: Some(product.product_id.clone()),
            product_name: Some(product.name.clone()),
            quantity: Some(self.quantity),
            unit_price: Some(self.unit_price),
            total_amount: Some(Cents(self.unit_price.0 * i64::from(self.quantity))),
            currency: Some(buyer.currency.code.to_owned()),
            customer_id: Some(buyer.customer.customer_id.clone()),
            vendor_id: Some(product.vendor_id.to_owned()),
            warehouse_location: Some(self.warehouse.to_owned()),
            order_status: Some(self.status.as_str().to_owned()),
            payment_status: Some(self.payment.as_str().to_owned()),
            payment_method: Some(self.payment_method.to_owned()),
            event_time: now,
            created_at: self.created_at,
            order_date: placed.to_epoch_days(),
            fiscal_quarter: Some(fiscal_quarter(placed)),
            discount_amount: self.discount,
            sales_channel: Some(self.sales_channel.to_owned()),
        }
    }
}
