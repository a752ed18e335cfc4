//! The quality rules on one core: DQX's seed rules (`tests/data/dqx/po_checks.yml`) over 1M
//! purchase-order rows (the DQX parity data, ten times), against baselines measured in the same
//! run: one Arrow comparison kernel over the same rows (the floor any rule engine pays), and
//! reading the Parquet file (the floor of `rules apply` end to end).

/// The binary's allocator (see `Cargo.toml`), so the bench measures what `medallion` does.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::hint::black_box;

use arrow::array::{Int32Array, RecordBatch, Scalar};
use arrow::compute::cast;
use arrow::compute::kernels::cmp::gt;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use medallion::rules::RuleSet;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const DATA: &str = "tests/data/dqx/po_100k.parquet";
const RULES: &str = "tests/data/dqx/po_checks.yml";
const COPIES: usize = 10;

/// The parity data repeated to 1M rows, in batches of 16,384 as `rules apply` reads them.
fn million_rows() -> Vec<RecordBatch> {
    let file = std::fs::File::open(DATA).expect("run benches from the repository root");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).expect("parquet").with_batch_size(16_384).build().expect("reader");
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().expect("read");
    std::iter::repeat_n(batches, COPIES).flatten().collect()
}

fn bench(c: &mut Criterion) {
    let batches = million_rows();
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let rules = RuleSet::load(RULES).expect("rules");
    let engine = rules.compile(batches[0].schema()).expect("compile");
    let run = engine.run_info("bench".to_owned());

    let mut group = c.benchmark_group("rules_1m_rows");
    group.throughput(Throughput::Elements(rows as u64)).sample_size(10);
    let quantity_type = batches[0].column_by_name("quantity").expect("quantity").data_type().clone();
    let zero = Scalar::new(cast(&Int32Array::from(vec![0]), &quantity_type).expect("zero"));
    group.bench_function("baseline_one_kernel_quantity_gt_0", |b| {
        b.iter(|| {
            for batch in &batches {
                let quantity = batch.column_by_name("quantity").expect("quantity");
                black_box(gt(quantity, &zero).expect("kernel"));
            }
        })
    });
    group.bench_function("seed_rules_evaluate", |b| {
        b.iter(|| {
            for batch in &batches {
                black_box(engine.evaluate(batch));
            }
        })
    });
    group.bench_function("seed_rules_with_result_columns", |b| {
        b.iter(|| {
            for batch in &batches {
                black_box(engine.apply(batch, &run).expect("apply"));
            }
        })
    });
    group.finish();

    // End to end as `medallion rules apply` runs it: read Parquet, check, write Parquet.
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("po_1m.parquet");
    let mut writer = ArrowWriter::try_new(std::fs::File::create(&input).expect("create"), batches[0].schema(), None).expect("writer");
    batches.iter().for_each(|batch| writer.write(batch).expect("write"));
    writer.close().expect("close");
    // For timing the `medallion rules apply` command itself on the same file.
    if let Ok(copy) = std::env::var("RULES_BENCH_KEEP_INPUT") {
        std::fs::copy(&input, &copy).expect("copy the 1M-row input");
    }
    let (input, output) = (input.display().to_string(), dir.path().join("out.parquet").display().to_string());
    let mut group = c.benchmark_group("rules_apply_1m_rows");
    group.throughput(Throughput::Elements(rows as u64)).sample_size(10);
    group.bench_function("baseline_read_parquet", |b| {
        b.iter(|| {
            let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&input).expect("open")).expect("parquet");
            let read: usize = reader.with_batch_size(16_384).build().expect("reader").map(|b| b.expect("batch").num_rows()).sum();
            black_box(read)
        })
    });
    group.bench_function("rules_apply_file", |b| {
        b.iter(|| black_box(medallion::rules::file::apply_file(&rules, &input, &output, "bench".to_owned(), chrono::Utc::now()).expect("apply")))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
