//! The payment-transaction event as the generator builds it, before encoding.

use crate::generate::Cents;

/// One event in the life of a payment: the union of all schema versions' fields. Fields that bad
/// records may corrupt are `Option`s, as they are nullable on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentTransaction {
    pub event_id: String,
    /// The same on every event of one payment; also the Kafka key.
    pub transaction_id: Option<String>,
    pub merchant_id: Option<String>,
    pub merchant_name: Option<String>,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    /// `CREDIT_CARD`, `DEBIT_CARD`, `BANK_TRANSFER`, `DIGITAL_WALLET` or `CRYPTO`.
    pub payment_method: Option<String>,
    pub amount: Option<Cents>,
    pub currency: Option<String>,
    pub country: Option<String>,
    /// `AUTHORIZED`, `CAPTURED`, `DECLINED` or `REFUNDED`.
    pub status: Option<String>,
    /// Microseconds since the Unix epoch, UTC.
    pub event_time: i64,
    pub authorized_at: Option<i64>,
    pub captured_at: Option<i64>,
    pub channel: Option<String>,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    /// Since schema v2.
    pub decline_reason: Option<String>,
    /// Since schema v2.
    pub risk_score: Option<f64>,
}

impl PaymentTransaction {
    /// The Kafka message key: the transaction id's UTF-8 bytes, or none when it is null.
    pub fn key(&self) -> Option<&[u8]> {
        self.transaction_id.as_deref().map(str::as_bytes)
    }
}
