//! Named kinds of bad records the generator injects, each one a fault a quality rule should catch.

use rand::Rng;
use serde::Serialize;

use super::record::{Cents, PurchaseOrderItem};

/// One kind of injected defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DefectKind {
    /// `order_id`, `product_id` or `customer_id` is null.
    NullId,
    /// One of those ids is empty or blank.
    BlankId,
    /// `order_id` or `product_id` does not match ORD-NNNNNN / PRDNNN.
    MalformedId,
    /// `total_amount` differs from `quantity × unit_price` by more than 0.01.
    WrongTotal,
    /// `quantity` below zero.
    NegativeQuantity,
    /// `unit_price` of zero.
    ZeroPrice,
    /// `order_status` or `payment_status` outside its allowed list.
    UnknownStatus,
    /// DELIVERED while payment is not PAID.
    DeliveredNotPaid,
    /// `quantity` above 1000 or `unit_price` above 50,000.
    OutOfRange,
    /// `currency` is not an ISO 4217 code.
    InvalidCurrency,
}

impl DefectKind {
    pub const ALL: [DefectKind; 10] = [
        Self::NullId,
        Self::BlankId,
        Self::MalformedId,
        Self::WrongTotal,
        Self::NegativeQuantity,
        Self::ZeroPrice,
        Self::UnknownStatus,
        Self::DeliveredNotPaid,
        Self::OutOfRange,
        Self::InvalidCurrency,
    ];

    /// The snake_case name used in summaries.
    pub fn name(self) -> &'static str {
        match self {
            Self::NullId => "null_id",
            Self::BlankId => "blank_id",
            Self::MalformedId => "malformed_id",
            Self::WrongTotal => "wrong_total",
            Self::NegativeQuantity => "negative_quantity",
            Self::ZeroPrice => "zero_price",
            Self::UnknownStatus => "unknown_status",
            Self::DeliveredNotPaid => "delivered_not_paid",
            Self::OutOfRange => "out_of_range",
            Self::InvalidCurrency => "invalid_currency",
        }
    }

    /// Picks a kind uniformly.
    pub fn pick(rng: &mut impl Rng) -> Self {
        Self::ALL[rng.random_range(0..Self::ALL.len())]
    }

    /// Corrupts `item` in this way; other fields stay consistent (totals follow changed
    /// quantities and prices) so that each defect trips its own rules.
    pub fn apply(self, item: &mut PurchaseOrderItem, rng: &mut impl Rng) {
        match self {
            Self::NullId => *pick_id(item, rng) = None,
            Self::BlankId => *pick_id(item, rng) = Some(pick(rng, &["", " ", "   "]).to_owned()),
            Self::MalformedId => malform_id(item, rng),
            Self::WrongTotal => {
                let total = item.total_amount.unwrap_or_default().0;
                let delta = rng.random_range(2..=(total / 4).max(3));
                item.total_amount = Some(Cents(if rng.random_bool(0.5) { total + delta } else { (total - delta).max(0) }));
                if item.total_amount == Some(Cents(total)) {
                    item.total_amount = Some(Cents(total + delta));
                }
            }
            Self::NegativeQuantity => set_quantity(item, -rng.random_range(1..=10)),
            Self::ZeroPrice => {
                item.unit_price = Some(Cents(0));
                item.total_amount = Some(Cents(0));
            }
            Self::UnknownStatus => {
                if rng.random_bool(0.5) {
                    item.order_status = Some(pick(rng, &["UNKNOWN", "ON_HOLD", "shipped", "RETURNED"]).to_owned());
                } else {
                    item.payment_status = Some(pick(rng, &["UNKNOWN", "CHARGEBACK", "paid", "AUTHORIZED"]).to_owned());
                }
            }
            Self::DeliveredNotPaid => {
                item.order_status = Some("DELIVERED".to_owned());
                item.payment_status = Some(pick(rng, &["PENDING", "FAILED"]).to_owned());
            }
            Self::OutOfRange => {
                if rng.random_bool(0.5) {
                    set_quantity(item, rng.random_range(1_001..=5_000));
                } else {
                    item.unit_price = Some(Cents(rng.random_range(5_000_001..=9_999_999)));
                    set_quantity(item, item.quantity.unwrap_or(1).clamp(1, 3));
                }
            }
            Self::InvalidCurrency => item.currency = Some(pick(rng, &["US$", "EURO", "ABC", "usd", "12X"]).to_owned()),
        }
    }
}

fn pick<'a>(rng: &mut impl Rng, choices: &[&'a str]) -> &'a str {
    choices[rng.random_range(0..choices.len())]
}

fn pick_id<'a>(item: &'a mut PurchaseOrderItem, rng: &mut impl Rng) -> &'a mut Option<String> {
    match rng.random_range(0..3) {
        0 => &mut item.order_id,
        1 => &mut item.product_id,
        _ => &mut item.customer_id,
    }
}

fn malform_id(item: &mut PurchaseOrderItem, rng: &mut impl Rng) {
    let digits = rng.random_range(0..1_000_000);
    if rng.random_bool(0.5) {
        let forms = [format!("ORD-{:05}", digits % 100_000), format!("ORD_{digits:06}"), format!("ord-{digits:06}"), format!("ORD-{digits:06}7")];
        item.order_id = Some(forms[rng.random_range(0..forms.len())].clone());
    } else {
        let number = digits % 1_000;
        let forms = [format!("PRD-{number:03}"), format!("PRD{number:04}"), format!("prd{number:03}"), format!("P{number:03}")];
        item.product_id = Some(forms[rng.random_range(0..forms.len())].clone());
    }
}

fn set_quantity(item: &mut PurchaseOrderItem, quantity: i32) {
    item.quantity = Some(quantity);
    item.total_amount = item.unit_price.map(|price| Cents(price.0 * i64::from(quantity)));
}
