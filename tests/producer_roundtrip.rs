//! `medallion produce` against a real broker: both framings decode with apache-avro's reader (not
//! medallion's encoder), keys are order ids, v1 resolves to v2, and seeded runs are reproducible.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::time::Duration;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use medallion::framing::{self, SchemaRef};
use medallion::schema::SchemaCatalog;
use rdkafka::message::{Message, OwnedMessage};

use common::{consume_all, run_ok, summary, unique_topic};

fn field<'a>(record: &'a Value, name: &str) -> Option<&'a Value> {
    let Value::Record(fields) = record else { panic!("not a record: {record:?}") };
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

fn string_field(record: &Value, name: &str) -> Option<String> {
    match field(record, name)? {
        Value::Union(_, inner) => match inner.as_ref() {
            Value::String(s) => Some(s.clone()),
            _ => None,
        },
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Decodes a message with the writer schema its frame names, resolved to `reader_version`.
fn decode(message: &OwnedMessage, reader_version: u32) -> (SchemaRef, Value) {
    let (catalog, orders) = (SchemaCatalog::embedded(), SchemaCatalog::purchase_orders());
    let payload = message.payload().expect("payload");
    let (schema_ref, datum) = framing::parse(payload).expect("framed");
    let writer = match schema_ref {
        SchemaRef::RegistryId(id) => orders.by_version(id).expect("static ids follow versions"),
        SchemaRef::Fingerprint(fingerprint) => catalog.by_fingerprint(&fingerprint).expect("known fingerprint"),
    };
    let reader_schema = &orders.by_version(reader_version).expect("reader").schema;
    let reader = GenericDatumReader::builder(&writer.schema).reader_schema(reader_schema).build().expect("reader");
    let value = reader.read_value(&mut &datum[..]).unwrap_or_else(|e| panic!("partition {} offset {}: {e}", message.partition(), message.offset()));
    (schema_ref, value)
}

fn assert_keys_are_order_ids(messages: &[OwnedMessage], reader_version: u32) {
    for message in messages {
        let (_, record) = decode(message, reader_version);
        let order_id = string_field(&record, "order_id");
        assert_eq!(message.key().map(|k| String::from_utf8_lossy(k).into_owned()), order_id);
    }
}

#[test]
fn confluent_framing_round_trips() {
    let topic = unique_topic("produce-confluent");
    let output = run_ok(&["produce", "--count", "3000", "--seed", "11", "--topic", &topic, "--framing", "confluent", "--json"]);
    let summary = summary(&output);
    assert_eq!(summary["sent"], 3000);
    assert_eq!(summary["schema_ref"], "id:2");
    let messages = consume_all(&topic, 3000, Duration::from_secs(60));
    assert_eq!(messages.len(), 3000);
    for message in &messages {
        assert_eq!(decode(message, 2).0, SchemaRef::RegistryId(2));
    }
    assert_keys_are_order_ids(&messages, 2);
}

#[test]
fn single_object_v1_resolves_to_v2() {
    let topic = unique_topic("produce-single-object-v1");
    run_ok(&["produce", "--count", "2000", "--seed", "12", "--topic", &topic, "--framing", "single-object", "--schema-version", "1"]);
    let messages = consume_all(&topic, 2000, Duration::from_secs(60));
    assert_eq!(messages.len(), 2000);
    let v1_fingerprint = SchemaCatalog::purchase_orders().by_version(1).unwrap().fingerprint;
    for message in &messages {
        let (schema_ref, record) = decode(message, 2);
        assert_eq!(schema_ref, SchemaRef::Fingerprint(v1_fingerprint));
        // Fields v1 lacks take the v2 defaults.
        assert_eq!(field(&record, "sales_channel"), Some(&Value::Union(0, Box::new(Value::Null))));
        assert_eq!(field(&record, "discount_amount"), Some(&Value::Union(0, Box::new(Value::Null))));
    }
    assert_keys_are_order_ids(&messages, 2);
}

#[test]
fn v2_data_reads_with_the_v1_schema() {
    let topic = unique_topic("produce-v2-as-v1");
    run_ok(&["produce", "--count", "500", "--seed", "13", "--topic", &topic, "--framing", "single-object"]);
    let messages = consume_all(&topic, 500, Duration::from_secs(60));
    assert_eq!(messages.len(), 500);
    for message in &messages {
        let (_, record) = decode(message, 1);
        assert!(field(&record, "sales_channel").is_none(), "a v1 reader does not see v2 fields");
        assert!(field(&record, "event_id").is_some());
    }
}

#[test]
fn seed_and_start_time_reproduce_the_stream_byte_for_byte() {
    let (first, second) = (unique_topic("produce-seed-a"), unique_topic("produce-seed-b"));
    for topic in [&first, &second] {
        run_ok(&["produce", "--count", "4000", "--seed", "7", "--start-time", "2026-03-01", "--time-scale", "3600", "--topic", topic]);
    }
    let (a, b) = (consume_all(&first, 4000, Duration::from_secs(60)), consume_all(&second, 4000, Duration::from_secs(60)));
    assert_eq!((a.len(), b.len()), (4000, 4000));
    let sorted = |messages: &[OwnedMessage]| {
        let mut payloads: Vec<Vec<u8>> = messages.iter().map(|m| m.payload().unwrap_or_default().to_vec()).collect();
        payloads.sort();
        payloads
    };
    assert!(sorted(&a) == sorted(&b), "same seed and start time must give byte-identical payloads");
    assert!(
        common::keyed_payloads_by_partition(&a) == common::keyed_payloads_by_partition(&b),
        "keyed messages land in the same partitions in the same order"
    );
}

#[test]
fn the_same_seed_alone_reproduces_the_payloads() {
    let (first, second) = (unique_topic("produce-seed-only-a"), unique_topic("produce-seed-only-b"));
    for topic in [&first, &second] {
        run_ok(&["produce", "--count", "3000", "--seed", "7", "--topic", topic]);
    }
    let sorted = |topic: &str| {
        let mut payloads: Vec<Vec<u8>> =
            consume_all(topic, 3000, Duration::from_secs(60)).iter().map(|m| m.payload().unwrap_or_default().to_vec()).collect();
        payloads.sort();
        payloads
    };
    let (a, b) = (sorted(&first), sorted(&second));
    assert_eq!(a.len(), 3000);
    assert!(a == b, "--seed without --start-time must still give byte-identical payloads");
}

#[test]
fn invalid_share_and_kinds_are_reported() {
    let topic = unique_topic("produce-invalid");
    let output = run_ok(&["produce", "--count", "20000", "--seed", "21", "--topic", &topic, "--json"]);
    let summary = summary(&output);
    let share = summary["invalid_ratio"].as_f64().unwrap();
    assert!((0.045..=0.055).contains(&share), "invalid share {share}");
    let kinds = summary["invalid_by_kind"].as_object().unwrap();
    assert_eq!(kinds.len(), 10);
    assert!(kinds.values().all(|n| n.as_u64().unwrap() > 0), "{kinds:?}");
    assert_eq!(kinds.values().map(|n| n.as_u64().unwrap()).sum::<u64>(), summary["invalid"].as_u64().unwrap());
}
