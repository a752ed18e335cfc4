//! Generate + encode throughput on one core, against a baseline measured in the same run:
//! apache-avro's generic `Value` path (build a `Value` record, validate, encode), which is what a
//! straightforward Avro producer does.

/// The binary's allocator (see `Cargo.toml`), so the bench measures what `medallion` does.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::hint::black_box;

use apache_avro::types::{Record, Value};
use apache_avro::writer::datum::GenericDatumWriter;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use medallion::encode::RecordEncoder;
use medallion::framing::SchemaRef;
use medallion::generate::{Cents, Generator, GeneratorSettings, PurchaseOrderItem};
use medallion::schema::SchemaCatalog;

const EVENTS: usize = 10_000;

fn settings() -> GeneratorSettings {
    GeneratorSettings {
        seed: 7,
        invalid_ratio: 0.05,
        start_time: Some("2026-01-01T00:00:00Z".parse().expect("time")),
        rate: 10_000,
        time_scale: 60.0,
    }
}

fn items() -> Vec<PurchaseOrderItem> {
    let mut generator = Generator::new(&settings());
    (0..EVENTS).map(|_| generator.next_event().item).collect()
}

/// The baseline: the item as an apache-avro `Value` record, validated and encoded.
fn encode_via_value(writer: &GenericDatumWriter<'_>, schema: &apache_avro::Schema, item: &PurchaseOrderItem, out: &mut Vec<u8>) {
    let text = |v: &Option<String>| match v {
        Some(s) => Value::Union(1, Box::new(Value::String(s.clone()))),
        None => Value::Union(0, Box::new(Value::Null)),
    };
    let money = |v: Option<Cents>| match v {
        Some(c) => Value::Union(1, Box::new(Value::Decimal(apache_avro::Decimal::from(c.to_avro_bytes())))),
        None => Value::Union(0, Box::new(Value::Null)),
    };
    let mut record = Record::new(schema).expect("record schema");
    record.put("event_id", item.event_id.clone());
    record.put("order_id", text(&item.order_id));
    record.put("line_number", item.line_number);
    record.put("product_id", text(&item.product_id));
    record.put("product_name", text(&item.product_name));
    record.put("quantity", item.quantity.map_or(Value::Union(0, Box::new(Value::Null)), |q| Value::Union(1, Box::new(Value::Int(q)))));
    record.put("unit_price", money(item.unit_price));
    record.put("total_amount", money(item.total_amount));
    record.put("currency", text(&item.currency));
    record.put("customer_id", text(&item.customer_id));
    record.put("vendor_id", text(&item.vendor_id));
    record.put("warehouse_location", text(&item.warehouse_location));
    record.put("order_status", text(&item.order_status));
    record.put("payment_status", text(&item.payment_status));
    record.put("payment_method", text(&item.payment_method));
    record.put("event_time", Value::TimestampMicros(item.event_time));
    record.put("created_at", Value::TimestampMicros(item.created_at));
    record.put("order_date", Value::Date(item.order_date));
    record.put("fiscal_quarter", text(&item.fiscal_quarter));
    record.put("discount_amount", money(item.discount_amount));
    record.put("sales_channel", text(&item.sales_channel));
    writer.write_value(out, record).expect("encode");
}

fn bench(c: &mut Criterion) {
    let catalog = SchemaCatalog::purchase_orders();
    let v2 = catalog.by_version(2).expect("v2");
    let confluent = RecordEncoder::new(v2, SchemaRef::RegistryId(2)).expect("encoder");
    let single_object = RecordEncoder::new(v2, SchemaRef::Fingerprint(v2.fingerprint)).expect("encoder");
    let value_writer = GenericDatumWriter::builder(&v2.schema).build().expect("writer");
    let items = items();

    let mut group = c.benchmark_group("generate_encode");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("baseline_apache_avro_value_encode", |b| {
        let mut out = Vec::with_capacity(512);
        b.iter(|| {
            for item in &items {
                out.clear();
                encode_via_value(&value_writer, &v2.schema, item, &mut out);
                black_box(&out);
            }
        })
    });
    group.bench_function("encode_confluent_v2", |b| {
        let mut out = Vec::with_capacity(512);
        b.iter(|| {
            for item in &items {
                out.clear();
                confluent.encode(item, &mut out).expect("encode");
                black_box(&out);
            }
        })
    });
    group.bench_function("encode_single_object_v2", |b| {
        let mut out = Vec::with_capacity(512);
        b.iter(|| {
            for item in &items {
                out.clear();
                single_object.encode(item, &mut out).expect("encode");
                black_box(&out);
            }
        })
    });
    group.bench_function("generate", |b| {
        b.iter_batched_ref(
            || Generator::new(&settings()),
            |generator| {
                for _ in 0..EVENTS {
                    black_box(generator.next_event());
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("generate_and_encode_confluent_v2", |b| {
        b.iter_batched_ref(
            || (Generator::new(&settings()), Vec::with_capacity(512)),
            |(generator, out)| {
                for _ in 0..EVENTS {
                    let event = generator.next_event();
                    out.clear();
                    confluent.encode(&event.item, out).expect("encode");
                    black_box(&out);
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
