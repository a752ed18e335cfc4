//! The payment transaction as the records of `schemas/payment_transaction.v<N>.avsc`.

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

use super::{AvroDecimal, WireRecord};
use crate::generate::payments::PaymentTransaction;

impl WireRecord for PaymentTransaction {
    fn event_id(&self) -> &str {
        &self.event_id
    }

    fn avro_view(&self, version: u32) -> impl Serialize + '_ {
        PaymentView { payment: self, version }
    }
}

/// A payment as the record of one schema version: the v2 fields only from v2 on.
struct PaymentView<'a> {
    payment: &'a PaymentTransaction,
    version: u32,
}

impl Serialize for PaymentView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let p = self.payment;
        let mut record = serializer.serialize_struct("PaymentTransaction", 19)?;
        record.serialize_field("event_id", &p.event_id)?;
        record.serialize_field("transaction_id", &p.transaction_id)?;
        record.serialize_field("merchant_id", &p.merchant_id)?;
        record.serialize_field("merchant_name", &p.merchant_name)?;
        record.serialize_field("customer_id", &p.customer_id)?;
        record.serialize_field("customer_name", &p.customer_name)?;
        record.serialize_field("payment_method", &p.payment_method)?;
        record.serialize_field("amount", &p.amount.map(AvroDecimal))?;
        record.serialize_field("currency", &p.currency)?;
        record.serialize_field("country", &p.country)?;
        record.serialize_field("status", &p.status)?;
        record.serialize_field("event_time", &p.event_time)?;
        record.serialize_field("authorized_at", &p.authorized_at)?;
        record.serialize_field("captured_at", &p.captured_at)?;
        record.serialize_field("channel", &p.channel)?;
        record.serialize_field("card_brand", &p.card_brand)?;
        record.serialize_field("card_last4", &p.card_last4)?;
        if self.version >= 2 {
            record.serialize_field("decline_reason", &p.decline_reason)?;
            record.serialize_field("risk_score", &p.risk_score)?;
        }
        record.end()
    }
}

/// A payment as one JSON object for `--output stdout`: money as a decimal string, times in RFC 3339.
pub fn payment_to_json(p: &PaymentTransaction, version: u32) -> serde_json::Value {
    let time = |micros: Option<i64>| micros.and_then(chrono::DateTime::from_timestamp_micros).map(|t| t.to_rfc3339());
    let mut json = serde_json::json!({
        "event_id": p.event_id,
        "transaction_id": p.transaction_id,
        "merchant_id": p.merchant_id,
        "merchant_name": p.merchant_name,
        "customer_id": p.customer_id,
        "customer_name": p.customer_name,
        "payment_method": p.payment_method,
        "amount": p.amount.map(|a| a.to_string()),
        "currency": p.currency,
        "country": p.country,
        "status": p.status,
        "event_time": time(Some(p.event_time)),
        "authorized_at": time(p.authorized_at),
        "captured_at": time(p.captured_at),
        "channel": p.channel,
        "card_brand": p.card_brand,
        "card_last4": p.card_last4,
    });
    if version >= 2 {
        json["decline_reason"] = serde_json::json!(p.decline_reason);
        json["risk_score"] = serde_json::json!(p.risk_score);
    }
    json
}

#[cfg(test)]
mod tests {
    use apache_avro::reader::datum::GenericDatumReader;
    use apache_avro::types::Value;

    use crate::config::PaymentsGeneratorConfig;
    use crate::generate::GeneratorSettings;
    use crate::generate::payments::PaymentGenerator;
    use crate::wire::encode::RecordEncoder;
    use crate::wire::schema::SchemaCatalog;

    fn field<'a>(value: &'a Value, name: &str) -> &'a Value {
        let Value::Record(fields) = value else { panic!("not a record: {value:?}") };
        &fields.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no field {name}")).1
    }

    #[test]
    fn a_seed_reproduces_the_stream_byte_for_byte() {
        let encoder = RecordEncoder::datum_only(SchemaCatalog::payments().latest().expect("v2")).expect("encoder");
        let start = chrono::DateTime::parse_from_rfc3339("2026-03-02T00:00:00Z").map(|t| t.to_utc()).ok();
        let encoded = |seed| {
            let settings = GeneratorSettings { seed, invalid_ratio: 0.0, start_time: start, rate: 1_000, time_scale: 60.0 };
            let mut generator = PaymentGenerator::new(&settings, &PaymentsGeneratorConfig::default()).expect("valid");
            (0..5_000).flat_map(|_| encoder.encode_datum(&generator.next_event().payment).expect("encodes")).collect::<Vec<u8>>()
        };
        assert_eq!(encoded(11), encoded(11));
        assert_ne!(encoded(11), encoded(12));
    }

    #[test]
    fn every_version_encodes_and_reads_with_every_other() {
        let settings = GeneratorSettings { seed: 1, invalid_ratio: 0.0, start_time: None, rate: 0, time_scale: 1.0 };
        let mut generator = PaymentGenerator::new(&settings, &PaymentsGeneratorConfig::default()).expect("valid");
        let payment = generator.next_event().payment;
        let versions = SchemaCatalog::payments();
        for writer in versions.entries() {
            let datum = RecordEncoder::datum_only(writer).expect("encoder").encode_datum(&payment).expect("encodes");
            for reader in versions.entries() {
                let read = GenericDatumReader::builder(&writer.schema).reader_schema(&reader.schema).build().expect("reader");
                let value = read
                    .read_value(&mut datum.as_slice())
                    .unwrap_or_else(|e| panic!("v{} → v{}: {e}", writer.embedded.version, reader.embedded.version));
                let id = payment.transaction_id.clone().expect("id");
                assert_eq!(field(&value, "transaction_id"), &Value::Union(1, Box::new(Value::String(id))));
                let expected_risk = match (writer.embedded.version, reader.embedded.version) {
                    (2, 2) => Value::Union(1, Box::new(Value::Double(payment.risk_score.expect("risk")))),
                    (_, 2) => Value::Union(0, Box::new(Value::Null)),
                    _ => continue,
                };
                assert_eq!(field(&value, "risk_score"), &expected_risk);
            }
        }
    }
}
