use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use arrow::array::{Array, AsArray};
use arrow::datatypes::{Date32Type, Decimal128Type, Int32Type, TimestampMicrosecondType};

use super::*;
use crate::generate::sample_item;
use crate::wire::encode::RecordEncoder;
use crate::wire::schema::SchemaCatalog;

fn decoder() -> Decoder {
    let writers = WriterSchemas::embedded(&crate::config::SchemaConfig::default().static_ids);
    let reader = &SchemaCatalog::purchase_orders().latest().unwrap().schema;
    Decoder::new(reader, writers, &[Framing::Confluent, Framing::SingleObject], 16).unwrap()
}

fn framed(version: u32, schema_ref: impl Fn(&crate::wire::schema::CatalogEntry) -> SchemaRef) -> Vec<u8> {
    let entry = SchemaCatalog::purchase_orders().by_version(version).unwrap();
    let mut out = Vec::new();
    RecordEncoder::new(entry, schema_ref(entry)).unwrap().encode(&sample_item(), &mut out).unwrap();
    out
}

fn column<'a>(columns: &'a [ArrayRef], decoder: &Decoder, name: &str) -> &'a ArrayRef {
    let index = decoder.arrow_fields().iter().position(|f| f.name() == name).unwrap();
    &columns[index]
}

#[test]
fn v2_confluent_decodes_every_column() {
    let mut decoder = decoder();
    let decoded = decoder.push(&framed(2, |_| SchemaRef::RegistryId(2)));
    assert_eq!(decoded, Decoded { schema_ref: Some(SchemaRef::RegistryId(2)), error: None });
    let columns = decoder.finish().unwrap();
    let item = sample_item();
    assert_eq!(column(&columns, &decoder, "order_id").as_string::<i32>().value(0), "ORD-000042");
    assert_eq!(column(&columns, &decoder, "quantity").as_primitive::<Int32Type>().value(0), 3);
    let price = column(&columns, &decoder, "unit_price").as_primitive::<Decimal128Type>();
    assert_eq!((price.value(0), price.precision(), price.scale()), (12_999, 12, 2));
    let time = column(&columns, &decoder, "event_time").as_primitive::<TimestampMicrosecondType>();
    assert_eq!(time.value(0), item.event_time);
    assert_eq!(time.timezone(), Some("UTC"));
    assert_eq!(column(&columns, &decoder, "order_date").as_primitive::<Date32Type>().value(0), item.order_date);
    assert_eq!(column(&columns, &decoder, "discount_amount").as_primitive::<Decimal128Type>().value(0), 500);
    assert_eq!(column(&columns, &decoder, "sales_channel").as_string::<i32>().value(0), "WEB");
}

#[test]
fn v1_single_object_resolves_with_v2_defaults() {
    let mut decoder = decoder();
    let decoded = decoder.push(&framed(1, |e| SchemaRef::Fingerprint(e.fingerprint)));
    assert_eq!(decoded.error, None);
    let columns = decoder.finish().unwrap();
    assert_eq!(column(&columns, &decoder, "total_amount").as_primitive::<Decimal128Type>().value(0), 38_997);
    assert!(column(&columns, &decoder, "sales_channel").is_null(0), "v2-only field takes its null default");
    assert!(column(&columns, &decoder, "discount_amount").is_null(0));
}

fn datum(schema: &apache_avro::Schema, record: apache_avro::types::Record<'_>) -> Vec<u8> {
    GenericDatumWriter::builder(schema).build().unwrap().write_value_to_vec(record).unwrap()
}

#[test]
fn minimal_decimal_bytes_as_java_writes_them_decode() {
    // Java writes decimals in as few bytes as they need; apache-avro's own resolver rejects
    // that, medallion must not. The datum is written with unit_price as plain bytes [0x7F].
    let v2 = SchemaCatalog::purchase_orders().by_version(2).unwrap().embedded.json;
    let plain = apache_avro::Schema::parse_str(&v2.replace("\"logicalType\": \"decimal\",", "")).unwrap();
    let mut record = apache_avro::types::Record::new(&plain).unwrap();
    let null = || Value::Union(0, Box::new(Value::Null));
    for (name, value) in plain_record_fields() {
        record.put(name, value);
    }
    record.put("unit_price", Value::Union(1, Box::new(Value::Bytes(vec![0x7F]))));
    for name in ["quantity", "total_amount", "discount_amount"] {
        record.put(name, null());
    }
    let mut message = vec![0, 0, 0, 0, 2];
    message.extend_from_slice(&datum(&plain, record));
    let mut decoder = decoder();
    assert_eq!(decoder.push(&message).error, None);
    let columns = decoder.finish().unwrap();
    assert_eq!(column(&columns, &decoder, "unit_price").as_primitive::<Decimal128Type>().value(0), 127);
}

/// Values for every v2 field except the money and quantity ones.
fn plain_record_fields() -> Vec<(&'static str, Value)> {
    let text = |s: &str| Value::Union(1, Box::new(Value::String(s.to_owned())));
    let mut fields = vec![
        ("event_id", Value::String("e".into())),
        ("line_number", Value::Int(1)),
        ("event_time", Value::Long(1)),
        ("created_at", Value::Long(1)),
        ("order_date", Value::Int(1)),
        ("order_id", text("ORD-000001")),
    ];
    for name in [
        "product_id",
        "product_name",
        "currency",
        "customer_id",
        "vendor_id",
        "warehouse_location",
        "order_status",
        "payment_status",
        "payment_method",
        "fiscal_quarter",
        "sales_channel",
    ] {
        fields.push((name, text("x")));
    }
    fields
}

#[test]
fn undecodable_messages_get_a_null_row_and_a_reason() {
    let mut decoder = decoder();
    let good = framed(2, |_| SchemaRef::RegistryId(2));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not avro at all".to_vec(), "unknown magic byte 0x6e"),
        (vec![], "empty message value"),
        (vec![0, 0, 0], "confluent header truncated"),
        (vec![0, 0, 0, 0, 99, 1, 2], "unknown writer schema id:99"),
        (vec![0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0], "unknown writer schema fp:0102030405060708"),
        (good[..good.len() - 7].to_vec(), "datum truncated"),
        ([&good[..], &[0, 0]].concat(), "2 bytes left after the record"),
    ];
    for (message, expected) in &cases {
        let decoded = decoder.push(message);
        let error = decoded.error.map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains(expected), "{expected:?} not in {error:?}");
    }
    assert_eq!(decoder.push(&good).error, None, "a good message after bad ones still decodes");
    let columns = decoder.finish().unwrap();
    assert_eq!(columns[0].len(), cases.len() + 1, "one row per message");
    let order_ids = column(&columns, &decoder, "order_id").as_string::<i32>();
    assert_eq!(order_ids.null_count(), cases.len());
    assert_eq!(order_ids.value(cases.len()), "ORD-000042");
}

#[test]
fn truncation_names_the_field() {
    let mut decoder = decoder();
    let good = framed(2, |_| SchemaRef::RegistryId(2));
    let error = decoder.push(&good[..12]).error.unwrap().to_string();
    assert!(error.starts_with("field `"), "{error}");
}

#[test]
fn framings_can_be_refused() {
    let catalog = SchemaCatalog::purchase_orders();
    let mut writers = WriterSchemas::default();
    writers.insert_id(2, catalog.by_version(2).unwrap().schema.clone());
    let mut decoder = Decoder::new(&catalog.by_version(2).unwrap().schema, writers, &[Framing::Confluent], 4).unwrap();
    let error = decoder.push(&framed(2, |e| SchemaRef::Fingerprint(e.fingerprint))).error.unwrap();
    assert_eq!(error, MessageError::FramingNotAccepted { framing: Framing::SingleObject });
}

#[test]
fn writer_only_fields_are_skipped_whatever_their_type() {
    let writer = apache_avro::Schema::parse_str(r#"{"type":"record","name":"io.medallion.purchasing.PurchaseOrderItem","fields":[
        {"name":"extra_map","type":{"type":"map","values":"long"}},
        {"name":"line_number","type":"int"},
        {"name":"extra_array","type":{"type":"array","items":{"type":"record","name":"X","fields":[{"name":"a","type":"double"},{"name":"b","type":["null","string"]}]}}},
        {"name":"event_id","type":"string"},
        {"name":"event_time","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"created_at","type":"long"},
        {"name":"order_date","type":{"type":"int","logicalType":"date"}}]}"#).unwrap();
    let mut record = apache_avro::types::Record::new(&writer).unwrap();
    record.put("extra_map", Value::Map([("k".to_owned(), Value::Long(5))].into()));
    record.put("line_number", 7);
    record.put(
        "extra_array",
        Value::Array(vec![Value::Record(vec![("a".into(), Value::Double(1.5)), ("b".into(), Value::Union(1, Box::new(Value::String("x".into()))))])]),
    );
    record.put("event_id", "id");
    record.put("event_time", Value::TimestampMillis(1_000));
    record.put("created_at", Value::Long(2));
    record.put("order_date", Value::Date(3));
    let datum = datum(&writer, record);
    let mut decoder = decoder();
    decoder.add_writer_schema(SchemaRef::RegistryId(77), writer);
    let mut message = vec![0, 0, 0, 0, 77];
    message.extend_from_slice(&datum);
    assert_eq!(decoder.push(&message).error, None);
    let columns = decoder.finish().unwrap();
    assert_eq!(column(&columns, &decoder, "line_number").as_primitive::<Int32Type>().value(0), 7);
    assert_eq!(column(&columns, &decoder, "event_time").as_primitive::<TimestampMicrosecondType>().value(0), 1_000_000, "millis scaled to micros");
    assert!(column(&columns, &decoder, "order_id").is_null(0));
}

#[test]
fn a_schema_of_another_record_is_a_clear_error() {
    let other = apache_avro::Schema::parse_str(r#"{"type":"record","name":"Payment","fields":[{"name":"id","type":"string"}]}"#).unwrap();
    let mut decoder = decoder();
    decoder.add_writer_schema(SchemaRef::RegistryId(5), other);
    let error = decoder.push(&[0, 0, 0, 0, 5, 2, b'x']).error.unwrap().to_string();
    assert!(error.contains("writer schema id:5 cannot be read") && error.contains("Payment"), "{error}");
}

#[test]
fn a_decimal_wider_than_its_precision_is_a_decode_error_not_a_wrapped_amount() {
    // decimal(12,2) holds at most 9,999,999,999.99; one more digit would wrap in Parquet.
    let v2 = SchemaCatalog::purchase_orders().by_version(2).unwrap().embedded.json;
    let plain = apache_avro::Schema::parse_str(&v2.replace("\"logicalType\": \"decimal\",", "")).unwrap();
    let record_with_price = |unscaled: i128| {
        let mut record = apache_avro::types::Record::new(&plain).unwrap();
        for (name, value) in plain_record_fields() {
            record.put(name, value);
        }
        let bytes = unscaled.to_be_bytes()[8..].to_vec();
        record.put("unit_price", Value::Union(1, Box::new(Value::Bytes(bytes))));
        for name in ["quantity", "total_amount", "discount_amount"] {
            record.put(name, Value::Union(0, Box::new(Value::Null)));
        }
        let mut message = vec![0, 0, 0, 0, 2];
        message.extend_from_slice(&datum(&plain, record));
        message
    };
    let mut decoder = decoder();
    assert_eq!(decoder.push(&record_with_price(999_999_999_999)).error, None, "12 digits fit");
    let error = decoder.push(&record_with_price(-1_000_000_000_000)).error.map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("unit_price") && error.contains("-1000000000000") && error.contains("12 digits"), "{error}");
    let columns = decoder.finish().unwrap();
    let prices = column(&columns, &decoder, "unit_price").as_primitive::<Decimal128Type>();
    assert_eq!((prices.value(0), prices.is_null(1)), (999_999_999_999, true), "the bad row is kept undecoded, its neighbour intact");
}

#[test]
fn a_union_branch_the_writer_schema_lacks_is_a_decode_error_naming_the_field() {
    let mut message = framed(2, |_| SchemaRef::RegistryId(2));
    // After the 5-byte frame: `event_id` (a zig-zag length, then its bytes), then the branch
    // index of the union `order_id`.
    let event_id_length = usize::from(message[5] / 2);
    let branch_at = 5 + 1 + event_id_length;
    assert_eq!(message[branch_at], 2, "order_id is in its string branch (1, zig-zag 2)");
    message[branch_at] = 10; // branch 5 of a two-branch union
    let mut decoder = decoder();
    let error = decoder.push(&message).error.map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("order_id") && error.contains("union branch 5"), "{error}");
    assert_eq!(decoder.push(&framed(2, |_| SchemaRef::RegistryId(2))).error, None, "the next message decodes");
}

#[test]
fn invalid_utf8_is_a_decode_error_and_other_text_round_trips() {
    let entry = SchemaCatalog::purchase_orders().by_version(2).unwrap();
    let mut item = sample_item();
    item.product_name = Some("Café Crème – 50 cl".to_owned());
    let mut accented = Vec::new();
    RecordEncoder::new(entry, SchemaRef::RegistryId(2)).unwrap().encode(&item, &mut accented).unwrap();
    let mut invalid = framed(2, |_| SchemaRef::RegistryId(2));
    invalid[6] = 0xFF; // the first byte of `event_id`, right after the frame and its length
    let mut decoder = decoder();
    let error = decoder.push(&invalid).error.map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("event_id") && error.contains("UTF-8"), "{error}");
    assert_eq!(decoder.push(&accented).error, None);
    let columns = decoder.finish().expect("every kept string is UTF-8");
    let names = column(&columns, &decoder, "product_name").as_string::<i32>();
    assert!(names.is_null(0), "the invalid message's row is all nulls");
    assert_eq!(names.value(1), "Café Crème – 50 cl");
}
