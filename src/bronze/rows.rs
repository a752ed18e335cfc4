//! The rows the worker holds between commits: every owned partition's, in arrival order, in one
//! builder cut into chunks of a fixed size.
//!
//! One builder per partition made every builder regrow: librdkafka hands over a partition's
//! messages a fetch at a time, so one partition's share of a commit swings from nothing to
//! several fetches, and a builder sized by its last share reallocated and copied its buffers
//! (a tenth of the consuming thread). Fixed chunks restart at the same size every time.
//!
//! Rows cannot be taken out of a builder, so a partition whose rows must go (a commit rejected
//! it, or it was revoked) is marked: its rows pushed so far are left out when the chunks are
//! handed on, and rows it gets afterwards stay.

use std::collections::HashMap;

use arrow::array::{AsArray, BooleanArray};
use arrow::compute::filter_record_batch;
use arrow::datatypes::Int32Type;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use chrono::Utc;

use super::batch::{BatchError, BronzeBatchBuilder, KafkaMessage, column};
use crate::wire::decode::Decoder;

/// Rows per chunk: large enough that Parquet gets long runs per write, small enough that the
/// builders' buffers are reused rather than regrown.
pub const CHUNK_ROWS: usize = 8192;

/// Rows of every owned partition not handed to the writer yet.
pub struct HeldRows {
    builder: BronzeBatchBuilder,
    chunks: Vec<RecordBatch>,
    /// Per partition, the rows to leave out: those with an index (counted over the chunks, then
    /// the builder) below this one.
    dropped: HashMap<i32, usize>,
}

impl HeldRows {
    pub fn new(builder: BronzeBatchBuilder) -> Self {
        Self { builder, chunks: Vec::new(), dropped: HashMap::new() }
    }

    pub fn decoder(&self) -> &Decoder {
        self.builder.decoder()
    }

    pub fn decoder_mut(&mut self) -> &mut Decoder {
        self.builder.decoder_mut()
    }

    /// Adds `message` as a row; whether it decoded.
    pub fn push(&mut self, message: &KafkaMessage<'_>) -> Result<bool, BatchError> {
        let decoded = self.builder.push(message);
        self.cut_full_chunk()?;
        Ok(decoded)
    }

    /// Adds `message` as an undecoded row (see [`BronzeBatchBuilder::push_undecoded`]).
    pub fn push_undecoded(&mut self, message: &KafkaMessage<'_>, schema_ref: Option<String>, error: String) -> Result<(), BatchError> {
        self.builder.push_undecoded(message, schema_ref, error);
        self.cut_full_chunk()
    }

    fn cut_full_chunk(&mut self) -> Result<(), BatchError> {
        if self.builder.counts().messages as usize >= CHUNK_ROWS {
            self.chunks.push(self.builder.finish(Utc::now())?);
        }
        Ok(())
    }

    /// Leaves out the rows of `partition` pushed so far.
    pub fn drop_partition(&mut self, partition: i32) {
        let pushed = self.chunks.iter().map(RecordBatch::num_rows).sum::<usize>() + self.builder.counts().messages as usize;
        self.dropped.insert(partition, pushed);
    }

    /// Every row held, but those dropped, as chunks; starts over.
    pub fn take(&mut self) -> Result<Vec<RecordBatch>, BatchError> {
        if !self.builder.is_empty() {
            self.chunks.push(self.builder.finish(Utc::now())?);
        }
        let chunks = std::mem::take(&mut self.chunks);
        let dropped = std::mem::take(&mut self.dropped);
        if dropped.is_empty() {
            return Ok(chunks);
        }
        let mut first = 0;
        let mut kept = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            let start = first;
            first += chunk.num_rows();
            let chunk = rows_where(&chunk, |index, partition| dropped.get(&partition).is_none_or(|&before| start + index >= before))?;
            if chunk.num_rows() > 0 {
                kept.push(chunk);
            }
        }
        Ok(kept)
    }
}

/// The rows of `batch` for which `keep(row index, Kafka partition)` holds.
pub fn rows_where(batch: &RecordBatch, keep: impl Fn(usize, i32) -> bool) -> Result<RecordBatch, ArrowError> {
    let partitions = batch
        .column_by_name(column::PARTITION)
        .and_then(|partitions| partitions.as_primitive_opt::<Int32Type>())
        .ok_or_else(|| ArrowError::SchemaError(format!("a bronze batch without an int `{}` column", column::PARTITION)))?;
    let mask: BooleanArray = partitions.values().iter().enumerate().map(|(index, &partition)| Some(keep(index, partition))).collect();
    filter_record_batch(batch, &mask)
}
