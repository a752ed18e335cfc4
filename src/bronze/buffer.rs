//! What the worker holds for one owned partition between commits.

use arrow::record_batch::RecordBatch;
use chrono::Utc;

use super::batch::{BatchError, BronzeBatchBuilder};

/// Rows of one partition not yet in the table, and where they continue the table from.
pub struct PartitionBuffer {
    pub builder: BronzeBatchBuilder,
    /// Finished batches waiting for a successful commit (kept across retries).
    pub pending: Vec<RecordBatch>,
    /// Last offset this buffer continues from: in the table, or in a commit on its way there
    /// (`None`: nothing yet).
    pub position: Option<i64>,
    /// Last offset buffered (pending or in the builder).
    pub last_offset: Option<i64>,
    /// The assignment this buffer belongs to.
    pub generation: u64,
    pub rows: usize,
    pub bytes: u64,
}

impl PartitionBuffer {
    pub fn new(builder: BronzeBatchBuilder, position: Option<i64>, generation: u64) -> Self {
        Self { builder, pending: Vec::new(), position, last_offset: None, generation, rows: 0, bytes: 0 }
    }

    /// Whether `offset` is already buffered or in the table (a redelivery after a seek).
    pub fn already_has(&self, offset: i64) -> bool {
        self.last_offset.or(self.position).is_some_and(|last| offset <= last)
    }

    /// Moves the builder's rows into a pending batch.
    pub fn seal(&mut self) -> Result<(), BatchError> {
        if !self.builder.is_empty() {
            self.pending.push(self.builder.finish(Utc::now())?);
        }
        Ok(())
    }

    /// Forgets everything buffered; the partition continues from `position`.
    pub fn discard(&mut self, position: Option<i64>) -> usize {
        let dropped = self.rows;
        self.pending.clear();
        if !self.builder.is_empty() {
            // Finishing empties the builder; the rows are dropped on purpose.
            let _ = self.builder.finish(Utc::now());
        }
        self.position = position;
        self.last_offset = None;
        self.rows = 0;
        self.bytes = 0;
        dropped
    }
}
