//! The retail records: one schema version each, written as they serialise (see
//! [`crate::generate::retail`]).

use serde::Serialize;

use super::WireRecord;
use crate::generate::retail::RetailRecord;
use crate::generate::retail::clickstream::ClickEvent;
use crate::generate::retail::ecommerce::EcommerceOrderLine;
use crate::generate::retail::inventory::InventoryMovement;
use crate::generate::retail::pos::PosSaleLine;

/// A retail record is written as it serialises: each has one schema version so far.
macro_rules! retail_wire_record {
    ($($record:ty),*) => {$(
        impl WireRecord for $record {
            fn event_id(&self) -> &str {
                RetailRecord::event_id(self)
            }

            fn avro_view(&self, _version: u32) -> impl Serialize + '_ {
                self
            }
        }
    )*};
}

retail_wire_record!(PosSaleLine, ClickEvent, EcommerceOrderLine, InventoryMovement);

/// A retail record as one JSON object for `--output stdout`.
pub fn retail_to_json(record: &impl RetailRecord) -> serde_json::Value {
    serde_json::to_value(record).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use apache_avro::reader::datum::GenericDatumReader;
    use apache_avro::types::Value;

    use crate::generate::GeneratorSettings;
    use crate::generate::retail::pos::PosGenerator;
    use crate::wire::encode::RecordEncoder;
    use crate::wire::schema::SchemaCatalog;

    #[test]
    fn a_sale_line_round_trips_through_its_schema() {
        let settings = GeneratorSettings { seed: 3, invalid_ratio: 0.0, start_time: None, rate: 0, time_scale: 1.0 };
        let line = PosGenerator::new(&settings).next_event().line;
        let entry = SchemaCatalog::embedded().record(crate::config::POS_SALE_LINE).latest().expect("pos v1");
        let datum = RecordEncoder::datum_only(entry).expect("encoder").encode_datum(&line).expect("encodes");
        let value = GenericDatumReader::builder(&entry.schema).build().expect("reader").read_value(&mut datum.as_slice()).expect("reads");
        let Value::Record(fields) = value else { panic!("a record") };
        let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).expect("field");
        assert_eq!(field("sku"), Value::Union(1, Box::new(Value::String(line.sku.clone().expect("sku")))));
        assert_eq!(field("event_time"), Value::TimestampMicros(line.event_time.0));
        let json = super::retail_to_json(&line);
        assert_eq!(json["unit_price"], serde_json::json!(line.unit_price.expect("price").0.to_string()));
        assert!(json["event_time"].as_str().is_some_and(|t| t.contains('T')), "{json}");
    }
}
