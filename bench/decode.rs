//! Decode → Arrow columns on one core (the bronze hot path), against a baseline measured in the
//! same run: apache-avro's generic reader producing `Value` records (no Arrow at all).

/// The binary's allocator (see `Cargo.toml`), so the bench measures what `medallion` does.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::hint::black_box;

use apache_avro::reader::datum::GenericDatumReader;
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

fn decoder() -> Decoder {
    let writers = WriterSchemas::embedded(&SchemaConfig::default().static_ids);
    let reader = &SchemaCatalog::purchase_orders().latest().expect("schemas").schema;
    Decoder::new(reader, writers, &[Framing::Confluent, Framing::SingleObject], MESSAGES).expect("decoder")
}

fn bench(c: &mut Criterion) {
    let catalog = SchemaCatalog::purchase_orders();
    let (v1, v2) = (catalog.by_version(1).expect("v1"), catalog.by_version(2).expect("v2"));
    let v2_messages = messages(v2, SchemaRef::RegistryId(2));
    let v1_messages = messages(v1, SchemaRef::Fingerprint(v1.fingerprint));

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
        let mut decoder = decoder();
        b.iter(|| {
            for message in &v2_messages {
                black_box(decoder.push(message));
            }
            black_box(decoder.finish())
        })
    });
    group.bench_function("medallion_arrow_columns_v1_resolved_to_v2", |b| {
        let mut decoder = decoder();
        b.iter(|| {
            for message in &v1_messages {
                black_box(decoder.push(message));
            }
            black_box(decoder.finish())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
