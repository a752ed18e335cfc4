//! The payments stream's contract without a broker: generated payments, encoded with either
//! schema version and decoded by bronze's decoder into the newest version's columns, pass every
//! error rule of `rules/payments.yml` when clean, and each injected defect fails one.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use medallion::config::{Framing, PaymentsGeneratorConfig};
use medallion::decode::{Decoder, WriterSchemas};
use medallion::encode::RecordEncoder;
use medallion::framing::SchemaRef;
use medallion::generate::GeneratorSettings;
use medallion::generate::payments::{PaymentDefect, PaymentGenerator};
use medallion::rules::RuleSet;
use medallion::schema::SchemaCatalog;

const EVENTS: usize = 20_000;

#[test]
fn clean_payments_pass_the_error_rules_and_every_defect_fails_one() {
    let versions = SchemaCatalog::payments();
    let (v1, v2) = (versions.by_version(1).expect("v1"), versions.by_version(2).expect("v2"));
    let encoders =
        [RecordEncoder::new(v1, SchemaRef::Fingerprint(v1.fingerprint)).unwrap(), RecordEncoder::new(v2, SchemaRef::RegistryId(12)).unwrap()];
    let mut writers = WriterSchemas::default();
    writers.insert_fingerprint(v1.fingerprint, v1.schema.clone());
    writers.insert_id(12, v2.schema.clone());
    let mut decoder = Decoder::new(&v2.schema, writers, &[Framing::Confluent, Framing::SingleObject], EVENTS).unwrap();

    let settings = GeneratorSettings { seed: 21, invalid_ratio: 0.0, start_time: None, rate: 0, time_scale: 1.0 };
    let config = PaymentsGeneratorConfig { invalid_ratio: 0.1, ..PaymentsGeneratorConfig::default() };
    let mut generator = PaymentGenerator::new(&settings, &config).unwrap();
    let mut defects = Vec::with_capacity(EVENTS);
    for index in 0..EVENTS {
        let event = generator.next_event();
        let mut payload = Vec::new();
        encoders[index % 2].encode(&event.payment, &mut payload).unwrap();
        let decoded = decoder.push(&payload);
        assert_eq!(decoded.error, None, "event {index} ({:?}) does not decode", event.defect);
        defects.push(event.defect);
    }
    let schema = Arc::new(Schema::new(decoder.arrow_fields()));
    let batch = RecordBatch::try_new(schema.clone(), decoder.finish().unwrap()).unwrap();

    let rules = RuleSet::load(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/payments.yml")).expect("rules/payments.yml parses");
    let engine = rules.compile(schema).expect("the rules fit the payment columns");
    let outcomes = engine.evaluate(&batch);
    let mut failing = vec![Vec::new(); EVENTS];
    assert_eq!(outcomes.len(), rules.rules.len());
    for (rule, outcome) in rules.rules.iter().zip(&outcomes) {
        if rule.criticality.as_str() == "error" {
            for (row, _) in &outcome.failures {
                failing[*row].push(rule.name.clone());
            }
        }
    }
    let mut caught: BTreeMap<PaymentDefect, usize> = BTreeMap::new();
    for (row, defect) in defects.iter().enumerate() {
        match defect {
            None => assert!(failing[row].is_empty(), "clean row {row} fails {:?}", failing[row]),
            Some(kind) => {
                assert!(!failing[row].is_empty(), "row {row} with defect {kind:?} passes every error rule");
                *caught.entry(*kind).or_default() += 1;
            }
        }
    }
    assert_eq!(caught.len(), PaymentDefect::ALL.len(), "defects seen: {caught:?}");
}
