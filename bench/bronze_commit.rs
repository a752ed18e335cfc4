//! A bronze commit on its own: one 50,000-row bronze batch (built by `BronzeBatchBuilder` from
//! generated, encoded purchase orders) appended to a local bronze table with bronze's Parquet
//! settings and a `txn` position, as the writer task commits it. Baseline in the same run: the
//! same batch encoded to Parquet in memory with the same settings (no Delta, no storage), so the
//! ratio is what the Delta commit adds to the encoding.
//!
//!   cargo bench --bench bronze_commit

/// The binary's allocator (see `Cargo.toml`), so the bench measures what `medallion` does.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use medallion::bronze::batch::{self, BronzeBatchBuilder, KafkaMessage, Lineage};
use medallion::config::SchemaConfig;
use medallion::decode::{Decoder, WriterSchemas};
use medallion::encode::RecordEncoder;
use medallion::framing::{Framing, SchemaRef};
use medallion::generate::{Generator, GeneratorSettings};
use medallion::schema::SchemaCatalog;
use medallion::table::StageTable;

const ROWS: usize = 50_000;

/// One bronze batch of `ROWS` generated purchase orders (5% invalid, Confluent framing).
fn bronze_batch() -> RecordBatch {
    let catalog = SchemaCatalog::purchase_orders();
    let entry = catalog.latest().expect("schemas");
    let settings = GeneratorSettings { seed: 7, invalid_ratio: 0.05, start_time: None, rate: 0, time_scale: 1.0 };
    let mut generator = Generator::new(&settings);
    let encoder = RecordEncoder::new(entry, SchemaRef::RegistryId(2)).expect("encoder");
    let writers = WriterSchemas::embedded(&SchemaConfig::default().static_ids);
    let decoder = Decoder::new(&entry.schema, writers, &[Framing::Confluent, Framing::SingleObject], ROWS).expect("decoder");
    let mut builder = BronzeBatchBuilder::new(decoder).expect("builder").with_lineage(Lineage::of_this_process("bench"));
    let mut payload = Vec::new();
    for offset in 0..ROWS as i64 {
        payload.clear();
        let event = generator.next_event();
        encoder.encode(&event.item, &mut payload).expect("encode");
        let message = KafkaMessage {
            topic: "purchase_orders",
            partition: (offset % 8) as i32,
            offset,
            timestamp_ms: Some(1_767_225_600_000 + offset),
            key: event.item.key(),
            headers: &[],
            payload: Some(&payload),
        };
        builder.push(&message);
    }
    builder.finish(chrono::Utc::now()).expect("batch")
}

fn bench(c: &mut Criterion) {
    let batch = bronze_batch();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut group = c.benchmark_group("bronze_commit_50k_rows");
    group.throughput(Throughput::Elements(ROWS as u64)).sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("baseline_parquet_encode_in_memory", |b| {
        b.iter(|| {
            let mut writer = parquet::arrow::ArrowWriter::try_new(Vec::new(), batch.schema(), Some(batch::writer_properties())).expect("writer");
            writer.write(&batch).expect("write");
            black_box(writer.into_inner().expect("close").len())
        })
    });
    let lake = tempfile::tempdir().expect("lake");
    let location = lake.path().join("bronze").to_string_lossy().into_owned();
    let mut table = runtime
        .block_on(StageTable::open_or_create(&location, HashMap::new(), batch.schema(), &[batch::PARTITION_COLUMN]))
        .expect("table")
        .with_writer_properties(batch::writer_properties());
    let mut position = 0i64;
    group.bench_function("stage_table_append_local", |b| {
        b.iter_custom(|iterations| {
            let started = Instant::now();
            for _ in 0..iterations {
                position += ROWS as i64;
                let positions = [("medallion-bronze-bench".to_owned(), position)];
                black_box(runtime.block_on(table.append(std::slice::from_ref(&batch), &positions)).expect("commit"));
            }
            started.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
