//! What the worker holds for one owned partition between commits.

use arrow::record_batch::RecordBatch;
use chrono::Utc;

use super::batch::{BatchError, BronzeBatchBuilder};
use super::continuity::Discontinuity;

/// Rows of one partition not yet in the table, and where they continue the table from.
pub struct PartitionBuffer {
    pub builder: BronzeBatchBuilder,
    /// Last offset this buffer continues from: in the table, or in a commit on its way there
    /// (`None`: nothing yet).
    pub position: Option<i64>,
    /// Last offset buffered.
    pub last_offset: Option<i64>,
    /// The assignment this buffer belongs to.
    pub generation: u64,
    pub rows: usize,
    pub bytes: u64,
    /// Whether the first message since the assignment or the last seek continued the table.
    pub continuity_checked: bool,
    /// A discontinuity accepted (`bronze.on_offset_reset: accept`), recorded by the next commit.
    pub accepted: Option<Discontinuity>,
    /// When the broker first reported the partition's end since the assignment or seek.
    pub at_end_since: Option<std::time::Instant>,
    /// The offset the partition was sought back to (its message waited for a writer schema):
    /// not caught up before it is taken.
    pub sought_back_to: Option<i64>,
}

impl PartitionBuffer {
    pub fn new(builder: BronzeBatchBuilder, position: Option<i64>, generation: u64) -> Self {
        Self {
            builder,
            position,
            last_offset: None,
            generation,
            rows: 0,
            bytes: 0,
            continuity_checked: false,
            accepted: None,
            at_end_since: None,
            sought_back_to: None,
        }
    }

    /// Takes the partition from `offered` on, whatever the table holds (an accepted reset).
    pub fn accept(&mut self, discontinuity: Discontinuity, offered: i64) {
        self.accepted = Some(discontinuity);
        self.last_offset = Some(offered - 1);
    }

    /// Whether `offset` is already buffered or in the table (a redelivery after a seek).
    pub fn already_has(&self, offset: i64) -> bool {
        self.last_offset.or(self.position).is_some_and(|last| offset <= last)
    }

    /// The buffered rows as one batch (`None` when there are none); the builder starts over.
    pub fn take_batch(&mut self) -> Result<Option<RecordBatch>, BatchError> {
        if self.builder.is_empty() {
            return Ok(None);
        }
        self.builder.finish(Utc::now()).map(Some)
    }

    /// Forgets everything buffered; the partition continues from `position`.
    pub fn discard(&mut self, position: Option<i64>) -> usize {
        let dropped = self.rows;
        if !self.builder.is_empty() {
            // Finishing empties the builder; the rows are dropped on purpose.
            let _ = self.builder.finish(Utc::now());
        }
        self.position = position;
        self.last_offset = None;
        self.rows = 0;
        self.bytes = 0;
        self.continuity_checked = false;
        self.accepted = None;
        self.at_end_since = None;
        self.sought_back_to = None;
        dropped
    }
}
