//! `medallion rules apply`: the engine over a Parquet file, streamed batch by batch: read and
//! checked on one thread, encoded on another (the whole file as one batch when a rule looks at
//! the dataset, as DQX does on a DataFrame).

use std::fs::File;

use arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{RuleSet, RulesError};

/// Rows checked at a time. Four batches are in memory at once (one read and checked, two
/// waiting, one encoded) with their result columns, about 900 bytes a row on the purchase
/// orders: at 65,536 rows that was most of a 477 MiB peak.
const BATCH_ROWS: usize = 16_384;

/// Counts of an apply run.
#[derive(Debug, Default, serde::Serialize)]
pub struct ApplySummary {
    pub rows: usize,
    pub with_errors: usize,
    pub with_warnings: usize,
    pub clean: usize,
    pub rule_set_fingerprint: String,
    pub seconds: f64,
}

/// Applies `rules` to the Parquet file `input` as a run at `run_time`, writing `output`.
pub fn apply_file(
    rules: &RuleSet,
    input: &str,
    output: &str,
    run_id: String,
    run_time: chrono::DateTime<chrono::Utc>,
) -> Result<ApplySummary, RulesError> {
    let started = std::time::Instant::now();
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(input).map_err(io(input))?).map_err(parquet_error(input))?;
    let engine = rules.compile(reader.schema().clone())?;
    let properties = super::writer_properties(reader.schema());
    let read_error = |e: arrow::error::ArrowError| RulesError::Schema(format!("{input}: {e}"));
    let reader = reader.with_batch_size(BATCH_ROWS).build().map_err(parquet_error(input))?;
    // Read as they are checked, so that memory holds a few batches and not the file, unless a
    // rule looks at the whole dataset.
    let batches: Box<dyn Iterator<Item = Result<RecordBatch, RulesError>> + '_> = if engine.has_dataset_rules() {
        let mut batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().map_err(read_error)?;
        if batches.len() > 1 {
            batches = vec![arrow::compute::concat_batches(&engine.input, &batches).map_err(read_error)?];
        }
        Box::new(batches.into_iter().map(Ok))
    } else {
        Box::new(reader.map(move |batch| batch.map_err(read_error)))
    };
    let run = super::RunInfo { run_time_micros: run_time.timestamp_micros(), run_id, rule_set_fingerprint: engine.fingerprint.clone() };
    let mut writer =
        ArrowWriter::try_new(File::create(output).map_err(io(output))?, engine.output_schema(), Some(properties)).map_err(parquet_error(output))?;
    let mut summary = ApplySummary { rule_set_fingerprint: engine.fingerprint.clone(), ..ApplySummary::default() };
    // Checking and Parquet encoding take about as long as each other: a writer thread encodes one
    // batch while the next is checked, joined by a bounded channel (at most two batches waiting).
    let (results, written) = std::sync::mpsc::sync_channel::<RecordBatch>(2);
    std::thread::scope(|scope| {
        let writer_thread = scope.spawn(move || -> Result<(), RulesError> {
            for result in written {
                writer.write(&result).map_err(parquet_error(output))?;
            }
            writer.close().map_err(parquet_error(output))?;
            Ok(())
        });
        let checked = batches.into_iter().try_for_each(|batch| {
            let (result, _) = engine.apply(&batch?, &run)?;
            count(&result, &mut summary);
            // A closed channel means the writer failed: its error is reported below.
            results.send(result).or(Ok(()))
        });
        drop(results);
        let written = writer_thread.join().unwrap_or_else(|_| Err(RulesError::Schema(format!("{output}: the writer thread panicked"))));
        checked.and(written)
    })?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn io(path: &str) -> impl Fn(std::io::Error) -> RulesError + '_ {
    move |source| RulesError::DataFile { path: path.to_owned(), source }
}

fn parquet_error(path: &str) -> impl Fn(parquet::errors::ParquetError) -> RulesError + '_ {
    move |e| RulesError::Schema(format!("{path}: {e}"))
}

fn count(result: &RecordBatch, summary: &mut ApplySummary) {
    use arrow::array::Array;
    let nulls = |name: &str| result.column_by_name(name).map_or(0, |c| c.null_count());
    let rows = result.num_rows();
    summary.rows += rows;
    summary.with_errors += rows - nulls(super::column::ERRORS);
    summary.with_warnings += rows - nulls(super::column::WARNINGS);
    if let Some(flags) = result.column_by_name(super::column::FLAG_CHECK) {
        use arrow::array::AsArray;
        summary.clean += flags.as_string::<i32>().iter().filter(|f| *f == Some("PASS")).count();
    }
}
