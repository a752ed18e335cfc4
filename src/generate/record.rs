//! The purchase-order line-item event as the generator builds it, before encoding.

use std::fmt;

/// An amount of money in hundredths of its currency unit (Avro `decimal(12, 2)` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Cents(pub i64);

/// Bytes of a `decimal(12, 2)` on the wire: the fewest that hold 12 digits in two's complement.
pub const DECIMAL_BYTES: usize = 6;

impl Cents {
    /// Big-endian two's-complement bytes of the unscaled value (the Avro `decimal` encoding),
    /// sign-extended to [`DECIMAL_BYTES`]. The spec allows any length, and Java writes the minimum,
    /// but apache-avro's resolver rejects fewer bytes than the precision needs; fixed-width bytes
    /// are read by every implementation. Values too wide for 6 bytes keep their minimal form.
    pub fn to_avro_bytes(self) -> Vec<u8> {
        let bytes = self.0.to_be_bytes();
        let mut start = 0;
        while start < bytes.len() - DECIMAL_BYTES {
            let (byte, next_top_bit) = (bytes[start], bytes[start + 1] & 0x80);
            if (byte == 0x00 && next_top_bit == 0) || (byte == 0xFF && next_top_bit != 0) {
                start += 1;
            } else {
                break;
            }
        }
        bytes[start..].to_vec()
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// One event in the life of a purchase-order line item: the union of all schema versions' fields.
/// Fields that bad records may corrupt are `Option`s, as they are nullable on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct PurchaseOrderItem {
    pub event_id: String,
    pub order_id: Option<String>,
    pub line_number: i32,
    pub product_id: Option<String>,
    pub product_name: Option<String>,
    pub quantity: Option<i32>,
    pub unit_price: Option<Cents>,
    pub total_amount: Option<Cents>,
    pub currency: Option<String>,
    pub customer_id: Option<String>,
    pub vendor_id: Option<String>,
    pub warehouse_location: Option<String>,
    pub order_status: Option<String>,
    pub payment_status: Option<String>,
    pub payment_method: Option<String>,
    /// Microseconds since the Unix epoch, UTC.
    pub event_time: i64,
    /// Microseconds since the Unix epoch, UTC: when the line item was first created.
    pub created_at: i64,
    /// Days since the Unix epoch.
    pub order_date: i32,
    pub fiscal_quarter: Option<String>,
    /// Since schema v2.
    pub discount_amount: Option<Cents>,
    /// Since schema v2.
    pub sales_channel: Option<String>,
}

impl PurchaseOrderItem {
    /// The Kafka message key: the order id's UTF-8 bytes, or none when the order id is null.
    pub fn key(&self) -> Option<&[u8]> {
        self.order_id.as_deref().map(str::as_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_bytes_are_sign_extended_twos_complement() {
        assert_eq!(Cents(0).to_avro_bytes(), [0, 0, 0, 0, 0, 0]);
        assert_eq!(Cents(128).to_avro_bytes(), [0, 0, 0, 0, 0, 0x80]);
        assert_eq!(Cents(-1).to_avro_bytes(), [0xFF; 6]);
        assert_eq!(Cents(-129).to_avro_bytes(), [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]);
        assert_eq!(Cents(1_234_567).to_avro_bytes(), [0, 0, 0, 0x12, 0xD6, 0x87]);
        // 999,999,999,999 (precision 12) fits; a wider value keeps its minimal form.
        assert_eq!(Cents(999_999_999_999).to_avro_bytes().len(), 6);
        assert_eq!(Cents(1 << 50).to_avro_bytes(), [0x04, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn cents_print_as_decimals() {
        assert_eq!(Cents(123_456).to_string(), "1234.56");
        assert_eq!(Cents(-5).to_string(), "-0.05");
    }
}
