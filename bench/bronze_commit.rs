//! A bronze commit on its own: one 50,000-row bronze batch (built by `BronzeBatchBuilder` from
//! generated, encoded purchase orders) appended to a fresh local bronze table with bronze's
//! Parquet settings and a `txn` position, as the writer task commits it. Baseline in the same run: the
//! same batch encoded to Parquet in memory with the same settings (no Delta, no storage), so the
//! ratio is what the Delta commit adds to the encoding.
//!
//!   cargo bench --bench bronze_commit
//!   BRONZE_LAYOUTS=1 cargo bench --bench bronze_commit   # first, the Parquet settings compared
//!   BRONZE_LAYOUTS=zstd BRONZE_LAYOUT_ROUNDS=1 cargo bench --bench bronze_commit -- none
//!                                  # only the layouts whose name has "zstd", once (for callgrind)

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
use parquet::file::properties::WriterProperties;

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

/// A named set of Parquet settings compared in [`compare_layouts`].
struct Layout {
    name: &'static str,
    properties: WriterProperties,
}

/// The settings compared on the same batch: bronze's own (`batch::writer_properties`), the
/// settings bronze had before (every column with statistics and a dictionary up to parquet's
/// 1 MiB default, but the payloads and event ids), and bronze's with each part changed.
fn layouts(schema: &arrow::datatypes::Schema) -> Vec<Layout> {
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::EnabledStatistics;
    use parquet::schema::types::ColumnPath;
    let zstd_1 = Compression::ZSTD(ZstdLevel::try_new(1).expect("level"));
    let bronze = || batch::writer_properties(schema).into_builder();
    let all = |compression| bronze().set_compression(compression).set_column_compression(ColumnPath::from("raw_payload"), compression).build();
    let earlier = medallion::table::writer_properties_builder()
        .set_column_dictionary_enabled(ColumnPath::from("raw_payload"), false)
        .set_column_statistics_enabled(ColumnPath::from("raw_payload"), EnabledStatistics::None)
        .set_column_dictionary_enabled(ColumnPath::from("event_id"), false);
    vec![
        Layout { name: "before: statistics and dictionaries everywhere", properties: earlier.build() },
        Layout { name: "bronze (payloads zstd(1), the rest snappy)", properties: bronze().build() },
        Layout { name: "bronze, dictionaries up to 1 MiB", properties: bronze().set_dictionary_page_size_limit(1024 * 1024).build() },
        Layout {
            name: "bronze, statistics everywhere",
            properties: schema
                .fields()
                .iter()
                .fold(bronze(), |builder, field| {
                    builder.set_column_statistics_enabled(ColumnPath::from(field.name().as_str()), EnabledStatistics::Page)
                })
                .build(),
        },
        Layout { name: "bronze, no statistics at all", properties: bronze().set_statistics_enabled(EnabledStatistics::None).build() },
        Layout { name: "bronze, write batches of 8,192 values", properties: bronze().set_write_batch_size(8192).build() },
        Layout { name: "bronze, all lz4_raw", properties: all(Compression::LZ4_RAW) },
        Layout { name: "bronze, all snappy", properties: all(Compression::SNAPPY) },
        Layout { name: "bronze, all zstd(1)", properties: all(zstd_1) },
        Layout { name: "bronze, all uncompressed", properties: all(Compression::UNCOMPRESSED) },
        Layout {
            name: "bronze, payloads snappy",
            properties: bronze().set_column_compression(ColumnPath::from("raw_payload"), Compression::SNAPPY).build(),
        },
        Layout { name: "bronze, 64-bit ints and times in dictionaries, snappy", properties: dictionary_longs(bronze(), schema).build() },
        Layout { name: "bronze, dictionaries up to 16 KiB", properties: bronze().set_dictionary_page_size_limit(16 * 1024).build() },
        Layout {
            name: "bronze, payloads uncompressed",
            properties: bronze().set_column_compression(ColumnPath::from("raw_payload"), Compression::UNCOMPRESSED).build(),
        },
    ]
}

/// `builder` with 64-bit integer and timestamp columns (offsets, event times) as bronze had them
/// before it wrote them as deltas: in a dictionary (up to its limit), snappy-compressed.
fn dictionary_longs(
    mut builder: parquet::file::properties::WriterPropertiesBuilder,
    schema: &arrow::datatypes::Schema,
) -> parquet::file::properties::WriterPropertiesBuilder {
    use arrow::datatypes::DataType;
    use parquet::basic::{Compression, Encoding};
    use parquet::schema::types::ColumnPath;
    for field in schema.fields().iter().filter(|f| matches!(f.data_type(), DataType::Int64 | DataType::Timestamp(..))) {
        let path = ColumnPath::from(field.name().as_str());
        builder = builder
            .set_column_dictionary_enabled(path.clone(), true)
            .set_column_encoding(path.clone(), Encoding::PLAIN)
            .set_column_compression(path, Compression::SNAPPY);
    }
    builder
}

#[inline(never)] // a symbol of its own, for callgrind's --toggle-collect
fn encode(batch: &RecordBatch, properties: &WriterProperties) -> bytes::Bytes {
    let mut writer = parquet::arrow::ArrowWriter::try_new(Vec::new(), batch.schema(), Some(properties.clone())).expect("writer");
    writer.write(batch).expect("write");
    bytes::Bytes::from(writer.into_inner().expect("close"))
}

/// Reads `file` back: every column, or silver's (all but the payload, key and headers).
#[inline(never)] // a symbol of its own, for callgrind's --toggle-collect
fn read(file: &bytes::Bytes, silver_columns_only: bool) -> usize {
    use parquet::arrow::{ProjectionMask, arrow_reader::ParquetRecordBatchReaderBuilder};
    let builder = ParquetRecordBatchReaderBuilder::try_new(file.clone()).expect("reader");
    let skipped = ["raw_payload", "kafka_key", "kafka_headers"];
    let wanted: Vec<usize> = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| !silver_columns_only || !skipped.contains(&f.name().as_str()))
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    builder.with_projection(mask).with_batch_size(65_536).build().expect("reader").map(|b| b.expect("batch").num_rows()).sum()
}

/// Encode time, file size and read time of the same batch under each layout, in one table.
/// The layouts take turns (each round encodes, then reads, every layout once) and each figure is
/// the median of its rounds, so that a slow minute of this shared machine is spread over all
/// layouts instead of landing on whichever ran in it.
fn compare_layouts(batch: &RecordBatch, only: &str, rounds: usize) {
    let layouts: Vec<Layout> = layouts(&batch.schema()).into_iter().filter(|layout| only == "1" || layout.name.contains(only)).collect();
    let files: Vec<bytes::Bytes> = layouts.iter().map(|layout| encode(batch, &layout.properties)).collect();
    let mut times = vec![[Vec::new(), Vec::new(), Vec::new()]; layouts.len()];
    let ms = |work: &mut dyn FnMut()| {
        let started = Instant::now();
        work();
        started.elapsed().as_secs_f64() * 1e3
    };
    for _ in 0..rounds {
        for ((layout, file), [encode_ms, read_all, read_silver]) in layouts.iter().zip(&files).zip(&mut times) {
            encode_ms.push(ms(&mut || drop(black_box(encode(batch, &layout.properties)))));
            read_all.push(ms(&mut || assert_eq!(read(file, false), ROWS)));
            read_silver.push(ms(&mut || assert_eq!(read(file, true), ROWS)));
        }
    }
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    println!("bronze file layouts, one {ROWS}-row batch (median of {rounds} interleaved rounds; encode and read on one core)");
    println!("  {:<52} {:>10} {:>10} {:>12} {:>12}", "", "encode ms", "size KiB", "read all ms", "read silver");
    for ((layout, file), [encode_ms, read_all, read_silver]) in layouts.iter().zip(&files).zip(times) {
        let (encode_ms, read_all, read_silver) = (median(encode_ms), median(read_all), median(read_silver));
        println!("  {:<52} {encode_ms:>10.1} {:>10.0} {read_all:>12.1} {read_silver:>12.1}", layout.name, file.len() as f64 / 1024.0);
    }
}

fn bench(c: &mut Criterion) {
    let batch = bronze_batch();
    if let Ok(only) = std::env::var("BRONZE_LAYOUTS") {
        let rounds = std::env::var("BRONZE_LAYOUT_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(9).max(1);
        compare_layouts(&batch, &only, rounds);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut group = c.benchmark_group("bronze_commit_50k_rows");
    group.throughput(Throughput::Elements(ROWS as u64)).sample_size(10).measurement_time(Duration::from_secs(20));
    let properties = batch::writer_properties(&batch.schema());
    group.bench_function("baseline_parquet_encode_in_memory", |b| b.iter(|| black_box(encode(&batch, &properties).len())));
    // Each commit goes to a table of its own, created outside the timing: one table taking
    // hundreds of commits without the maintenance bronze does between them (checkpoints) would
    // measure the replay of its growing log instead of a commit.
    let lake = tempfile::tempdir().expect("lake");
    let mut tables = 0;
    group.bench_function("stage_table_append_local", |b| {
        b.iter_custom(|iterations| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iterations {
                tables += 1;
                let location = lake.path().join(format!("bronze-{tables}")).to_string_lossy().into_owned();
                let mut table = runtime
                    .block_on(StageTable::open_or_create(&location, HashMap::new(), batch.schema(), &[batch::PARTITION_COLUMN]))
                    .expect("table")
                    .with_writer_properties(properties.clone());
                let positions = [("medallion-bronze-bench".to_owned(), ROWS as i64)];
                let started = Instant::now();
                black_box(runtime.block_on(table.append(std::slice::from_ref(&batch), &positions)).expect("commit"));
                elapsed += started.elapsed();
                drop(table);
                let _ = std::fs::remove_dir_all(&location);
            }
            elapsed
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
