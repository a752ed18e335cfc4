//! Decode → Arrow columns on one core (the bronze hot path), against a baseline measured in the
//! same run: apache-avro's generic reader producing `Value` records (no Arrow at all), and
//! arrow-rs's own Avro reader (`arrow-avro`'s streaming `Decoder`, fed one message at a time as
//! bronze must, to know where each message ends) on the same messages and reader schema.

/// The binary's allocator (see `Cargo.toml`), so the bench measures what `medallion` does.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::hint::black_box;

use apache_avro::reader::datum::GenericDatumReader;
use arrow_avro::reader::ReaderBuilder;
use arrow_avro::schema::{AvroSchema, Fingerprint, FingerprintAlgorithm, SchemaStore};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use medallion::config::SchemaConfig;
use medallion::decode::{Decoder, WriterSchemas};
use medallion::encode::RecordEncoder;
use medallion::framing::{self, Framing, SchemaRef};
use medallion::generate::{Generator, GeneratorSettings};
use medallion::schema::{CatalogEntry, SchemaCatalog};

const MESSAGES: usize = 10_000;

fn messages(entry: &'static CatalogEntry, schema_ref: SchemaRef) -> Vec<Vec<u8>> {
    let settings = GeneratorSettings { seed: 7, invalid_ratio: 0.05, start_time: None, rate: 0, time_scale: 1.0 };
    let mut generator = Generator::new(&settings);
    let encoder = RecordEncoder::new(entry, schema_ref).expect("encoder");
    (0..MESSAGES)
        .map(|_| {
            let mut out = Vec::new();
            encoder.encode(&generator.next_event().item, &mut out).expect("encode");
            out
        })
        .collect()
}

fn decoder_of_ours() -> Decoder {
    let writers = WriterSchemas::embedded(&SchemaConfig::default().static_ids);
    let reader = &SchemaCatalog::purchase_orders().latest().expect("schemas").schema;
    Decoder::new(reader, writers, &[Framing::Confluent, Framing::SingleObject], MESSAGES).expect("decoder")
}

fn bench(c: &mut Criterion) {
    let catalog = SchemaCatalog::purchase_orders();
    let (v1, v2) = (catalog.by_version(1).expect("v1"), catalog.by_version(2).expect("v2"));
    let v2_messages = messages(v2, SchemaRef::RegistryId(2));
    let v1_messages = messages(v1, SchemaRef::Fingerprint(v1.fingerprint));

    arrow_avro_isolation(&v2_messages);
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(MESSAGES as u64));
    let v2_reader = GenericDatumReader::builder(&v2.schema).build().expect("reader");
    group.bench_function("baseline_apache_avro_values_v2", |b| {
        b.iter(|| {
            for message in &v2_messages {
                let (_, datum) = framing::parse(message).expect("frame");
                black_box(v2_reader.read_value(&mut &datum[..]).expect("decode"));
            }
        })
    });
    let v1_to_v2 = GenericDatumReader::builder(&v1.schema).reader_schema(&v2.schema).build().expect("reader");
    group.bench_function("baseline_apache_avro_values_v1_resolved_to_v2", |b| {
        b.iter(|| {
            for message in &v1_messages {
                let (_, datum) = framing::parse(message).expect("frame");
                black_box(v1_to_v2.read_value(&mut &datum[..]).expect("decode"));
            }
        })
    });
    group.bench_function("medallion_arrow_columns_v2", |b| {
        let mut decoder = decoder_of_ours();
        b.iter(|| {
            for message in &v2_messages {
                black_box(decoder.push(message));
            }
            black_box(decoder.finish().expect("columns"))
        })
    });
    group.bench_function("medallion_arrow_columns_v1_resolved_to_v2", |b| {
        let mut decoder = decoder_of_ours();
        b.iter(|| {
            for message in &v1_messages {
                black_box(decoder.push(message));
            }
            black_box(decoder.finish().expect("columns"))
        })
    });
    group.bench_function("arrow_avro_decoder_v2", |b| {
        let mut decoder = arrow_avro_decoder(FingerprintAlgorithm::Id);
        b.iter(|| arrow_avro_decode(&mut decoder, &v2_messages))
    });
    group.bench_function("arrow_avro_decoder_v1_resolved_to_v2", |b| {
        let mut decoder = arrow_avro_decoder(FingerprintAlgorithm::Rabin);
        b.iter(|| arrow_avro_decode(&mut decoder, &v1_messages))
    });
    group.finish();
}

/// arrow-avro's decoder of our two writer schemas (Confluent ids 1 and 2, or their Rabin
/// fingerprints for single-object frames) resolved to the v2 reader schema.
fn arrow_avro_decoder(algorithm: FingerprintAlgorithm) -> arrow_avro::reader::Decoder {
    let v1 = AvroSchema::new(include_str!("../schemas/purchase_order_item.v1.avsc").to_owned());
    let v2 = AvroSchema::new(include_str!("../schemas/purchase_order_item.v2.avsc").to_owned());
    let mut store = SchemaStore::new_with_type(algorithm);
    match algorithm {
        FingerprintAlgorithm::Id => {
            store.set(Fingerprint::Id(1), v1).expect("v1");
            store.set(Fingerprint::Id(2), v2.clone()).expect("v2");
        }
        _ => {
            store.register(v1).expect("v1");
            store.register(v2.clone()).expect("v2");
        }
    }
    ReaderBuilder::new().with_batch_size(MESSAGES).with_reader_schema(v2).with_writer_schema_store(store).build_decoder().expect("arrow-avro decoder")
}

/// What arrow-avro's decoder does with one bad message between two good ones (bronze must keep
/// both good rows, and the bad one with its error): printed before the timings.
fn arrow_avro_isolation(messages: &[Vec<u8>]) {
    let good = &messages[0];
    let mut truncated = good.clone();
    truncated.truncate(good.len() - 3);
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0, 0, 0]);
    // After the 5-byte Confluent prefix and event_id (a string under 64 bytes: a one-byte
    // length), order_id's union branch set to 7 (zig-zag 14).
    let mut bad_branch = good.clone();
    let event_id_len = usize::from(good[5] >> 1);
    bad_branch[6 + event_id_len] = 14;
    for (case, bad) in [("truncated body", truncated), ("3 trailing bytes", trailing), ("union branch 7", bad_branch)] {
        let mut decoder = arrow_avro_decoder(FingerprintAlgorithm::Id);
        let results: Vec<String> = [good, &bad, good]
            .iter()
            .map(|message| match decoder.decode(message) {
                Ok(consumed) if consumed == message.len() => "ok".to_owned(),
                Ok(consumed) => format!("consumed {consumed} of {} bytes", message.len()),
                Err(error) => format!("error: {error}"),
            })
            .collect();
        let flushed = match decoder.flush() {
            Ok(batch) => format!("{} rows", batch.map_or(0, |b| b.num_rows())),
            Err(error) => format!("error: {error}"),
        };
        let mut ours = decoder_of_ours();
        let our_results: Vec<String> =
            [good, &bad, good].iter().map(|message| ours.push(message).error.map_or("ok".to_owned(), |e| format!("error: {e}"))).collect();
        let our_rows = ours.finish().expect("columns").first().map_or(0, |column| column.len());
        eprintln!("arrow-avro, good + {case} + good: {results:?}; flush: {flushed}");
        eprintln!("  medallion's decoder: {our_results:?}; {our_rows} rows");
    }
}

fn arrow_avro_decode(decoder: &mut arrow_avro::reader::Decoder, messages: &[Vec<u8>]) -> usize {
    for message in messages {
        let consumed = decoder.decode(message).expect("arrow-avro decode");
        assert_eq!(consumed, message.len(), "one message, one row");
    }
    decoder.flush().expect("flush").map_or(0, |batch| black_box(batch).num_rows())
}

criterion_group!(benches, bench);
criterion_main!(benches);
