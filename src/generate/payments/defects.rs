//! Named kinds of bad payment records, each one a fault a rule of `rules/payments.yml` catches.

use rand::Rng;
use serde::Serialize;

use super::record::PaymentTransaction;
use crate::generate::Cents;

/// One kind of injected defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentDefect {
    /// `transaction_id` is null.
    NullId,
    /// `transaction_id` or `customer_id` is not well formed (UUID / CUS-NNNNNN).
    MalformedId,
    /// `amount` of zero or below.
    NonPositiveAmount,
    /// `amount` above the payment limit (1,000,000).
    OverLimit,
    /// `currency` is not an ISO 4217 code.
    InvalidCurrency,
    /// `country` is not an ISO 3166-1 alpha-2 code.
    InvalidCountry,
    /// `status` outside its list.
    UnknownStatus,
    /// `payment_method` outside its list.
    UnknownMethod,
    /// A DECLINED payment with a capture time.
    DeclinedWithCapture,
}

impl PaymentDefect {
    pub const ALL: [PaymentDefect; 9] = [
        Self::NullId,
        Self::MalformedId,
        Self::NonPositiveAmount,
        Self::OverLimit,
        Self::InvalidCurrency,
        Self::InvalidCountry,
        Self::UnknownStatus,
        Self::UnknownMethod,
        Self::DeclinedWithCapture,
    ];

    /// The snake_case name used in summaries.
    pub fn name(self) -> &'static str {
        match self {
            Self::NullId => "null_id",
            Self::MalformedId => "malformed_id",
            Self::NonPositiveAmount => "non_positive_amount",
            Self::OverLimit => "over_limit",
            Self::InvalidCurrency => "invalid_currency",
            Self::InvalidCountry => "invalid_country",
            Self::UnknownStatus => "unknown_status",
            Self::UnknownMethod => "unknown_method",
            Self::DeclinedWithCapture => "declined_with_capture",
        }
    }

    /// A kind drawn uniformly.
    pub fn pick(rng: &mut impl Rng) -> Self {
        Self::ALL[rng.random_range(0..Self::ALL.len())]
    }

    /// Corrupts `payment` the way this kind says.
    pub fn apply(self, payment: &mut PaymentTransaction, rng: &mut impl Rng) {
        match self {
            Self::NullId => payment.transaction_id = None,
            Self::MalformedId if rng.random_bool(0.5) => payment.transaction_id = Some(format!("TX{}", rng.random_range(1_000..9_999))),
            Self::MalformedId => payment.customer_id = Some(format!("CUST{}", rng.random_range(1..99))),
            Self::NonPositiveAmount => payment.amount = Some(Cents(-rng.random_range(0..10_000))),
            Self::OverLimit => payment.amount = Some(Cents(rng.random_range(100_000_001..1_000_000_000))),
            Self::InvalidCurrency => payment.currency = Some(["XXY", "usd", "EURO", ""][rng.random_range(0..4)].to_owned()),
            Self::InvalidCountry => payment.country = Some(["ZZ", "USA", "uk", "D"][rng.random_range(0..4)].to_owned()),
            Self::UnknownStatus => payment.status = Some(["PENDING", "SETTLED_X", "authorised"][rng.random_range(0..3)].to_owned()),
            Self::UnknownMethod => payment.payment_method = Some(["CHEQUE", "CASH", "credit"][rng.random_range(0..3)].to_owned()),
            Self::DeclinedWithCapture => {
                payment.status = Some("DECLINED".to_owned());
                payment.captured_at = Some(payment.event_time);
            }
        }
    }
}
