//! What the worker holds between commits: the rows (see [`HeldRows`]), a buffer per owned
//! partition saying where its rows continue the table, and their totals.

use std::collections::HashMap;
use std::time::Instant;

use super::batch::{BatchError, BronzeBatchBuilder, KafkaMessage};
use super::continuity::Discontinuity;
use super::rows::HeldRows;
use super::writer::{CommitJob, JobPart};
use crate::wire::decode::Decoder;

/// The buffers of the owned partitions, with the rows and payload bytes they hold in all (what
/// decides a flush, checked per message) and when the oldest of those rows arrived. Only this
/// type adds rows or takes them away, so the totals always equal the sum of the buffers.
pub struct Buffers {
    partitions: HashMap<i32, PartitionBuffer>,
    held: HeldRows,
    rows: usize,
    /// Messages of a shared topic passed over (another stream's) since the last commit.
    skipped: usize,
    bytes: u64,
    oldest: Option<Instant>,
}

impl Buffers {
    /// Empty buffers whose rows `builder` builds.
    pub fn new(builder: BronzeBatchBuilder) -> Self {
        Self { partitions: HashMap::new(), held: HeldRows::new(builder), rows: 0, skipped: 0, bytes: 0, oldest: None }
    }

    /// The decoder of every partition's messages.
    pub fn decoder(&self) -> &Decoder {
        self.held.decoder()
    }

    pub fn decoder_mut(&mut self) -> &mut Decoder {
        self.held.decoder_mut()
    }

    /// Rows buffered and messages passed over: what a commit would move the positions past.
    pub fn messages(&self) -> usize {
        self.rows + self.skipped
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// When the oldest row still buffered arrived.
    pub fn oldest(&self) -> Option<Instant> {
        self.oldest
    }

    pub fn get(&self, partition: i32) -> Option<&PartitionBuffer> {
        self.partitions.get(&partition)
    }

    /// The buffer of `partition`, to change its bookkeeping (not its rows).
    pub fn get_mut(&mut self, partition: i32) -> Option<&mut PartitionBuffer> {
        self.partitions.get_mut(&partition)
    }

    pub fn contains(&self, partition: i32) -> bool {
        self.partitions.contains_key(&partition)
    }

    pub fn partitions(&self) -> impl Iterator<Item = i32> + '_ {
        self.partitions.keys().copied()
    }

    pub fn values(&self) -> impl Iterator<Item = &PartitionBuffer> {
        self.partitions.values()
    }

    /// Starts buffering a newly owned partition.
    pub fn insert(&mut self, partition: i32, buffer: PartitionBuffer) {
        if let Some(replaced) = self.partitions.insert(partition, buffer) {
            self.forget(&replaced);
            self.held.drop_partition(partition);
        }
    }

    /// Buffers `message` for its partition (which must be owned: `false` when it is not).
    pub fn push(&mut self, message: &KafkaMessage<'_>) -> Result<bool, BatchError> {
        self.add(message, None)
    }

    /// Buffers `message` as an undecoded row with `error` (see
    /// [`BronzeBatchBuilder::push_undecoded`]).
    pub fn push_undecoded(&mut self, message: &KafkaMessage<'_>, schema_ref: Option<String>, error: String) -> Result<bool, BatchError> {
        self.add(message, Some((schema_ref, error)))
    }

    fn add(&mut self, message: &KafkaMessage<'_>, undecoded: Option<(Option<String>, String)>) -> Result<bool, BatchError> {
        let Some(buffer) = self.partitions.get_mut(&message.partition) else { return Ok(false) };
        let bytes = message.payload.map_or(0, <[u8]>::len) as u64;
        let decoded = match undecoded {
            None => self.held.push(message)?,
            Some((schema_ref, error)) => {
                self.held.push_undecoded(message, schema_ref, error)?;
                false
            }
        };
        buffer.last_offset = Some(message.offset);
        buffer.rows += 1;
        buffer.decoded += u64::from(decoded);
        buffer.bytes += bytes;
        self.rows += 1;
        self.bytes += bytes;
        self.oldest.get_or_insert_with(Instant::now);
        Ok(true)
    }

    /// Passes over another stream's message of a shared topic: no row, but the next commit moves
    /// the partition's position past it.
    pub fn skip(&mut self, partition: i32, offset: i64) -> bool {
        let Some(buffer) = self.partitions.get_mut(&partition) else { return false };
        buffer.last_offset = Some(offset);
        buffer.skipped += 1;
        self.skipped += 1;
        self.oldest.get_or_insert_with(Instant::now);
        true
    }

    /// Keeps the buffers `keep` accepts; the rows dropped with the others.
    pub fn retain(&mut self, mut keep: impl FnMut(i32, &PartitionBuffer) -> bool) -> u64 {
        let (mut rows, mut bytes) = (0, 0);
        let mut skipped = 0;
        let held = &mut self.held;
        self.partitions.retain(|partition, buffer| {
            let kept = keep(*partition, buffer);
            if !kept {
                (rows, bytes, skipped) = (rows + buffer.rows, bytes + buffer.bytes, skipped + buffer.skipped);
                held.drop_partition(*partition);
            }
            kept
        });
        self.rows -= rows;
        self.bytes -= bytes;
        self.skipped -= skipped;
        rows as u64
    }

    /// Forgets what `partition` buffered (a commit rejected it); it continues from `position`.
    /// The rows dropped and the buffer's assignment generation, when the partition is owned.
    pub fn discard(&mut self, partition: i32, position: Option<i64>) -> Option<(u64, u64)> {
        let buffer = self.partitions.get_mut(&partition)?;
        let (rows, bytes, skipped) = (buffer.rows, buffer.bytes, buffer.skipped);
        buffer.discard(position);
        self.held.drop_partition(partition);
        self.rows -= rows;
        self.bytes -= bytes;
        self.skipped -= skipped;
        Some((rows as u64, buffer.generation))
    }

    /// Everything buffered, as one commit: its rows, and a part per partition (each continuing
    /// its partition's table position; a partition that only passed messages over moves its
    /// position alone). The buffers start over from the offsets handed on.
    pub fn take_job(&mut self) -> Result<CommitJob, BatchError> {
        let mut parts = Vec::new();
        for (&partition, buffer) in &mut self.partitions {
            let Some(last) = buffer.last_offset else { continue };
            if buffer.rows == 0 && buffer.skipped == 0 {
                continue;
            }
            parts.push(JobPart {
                partition,
                expected: buffer.position,
                last,
                rows: buffer.rows as u64,
                decoded: buffer.decoded,
                accepted: buffer.accepted.take(),
            });
            buffer.position = Some(last);
            buffer.rows = 0;
            buffer.decoded = 0;
            buffer.bytes = 0;
            buffer.skipped = 0;
        }
        (self.rows, self.skipped, self.bytes, self.oldest) = (0, 0, 0, None);
        Ok(CommitJob { parts, batches: self.held.take()? })
    }

    fn forget(&mut self, buffer: &PartitionBuffer) {
        self.rows -= buffer.rows;
        self.bytes -= buffer.bytes;
        self.skipped -= buffer.skipped;
    }
}

/// What one partition holds that is not in the table yet (its rows are in [`HeldRows`]), and
/// where it continues the table from.
pub struct PartitionBuffer {
    /// Last offset this buffer continues from: in the table, or in a commit on its way there
    /// (`None`: nothing yet).
    pub position: Option<i64>,
    /// Last offset buffered.
    pub last_offset: Option<i64>,
    /// The assignment this buffer belongs to.
    pub generation: u64,
    /// Rows, of them decoded, payload bytes buffered, and messages passed over (kept by
    /// [`Buffers`]).
    rows: usize,
    decoded: u64,
    bytes: u64,
    skipped: usize,
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
    pub fn new(position: Option<i64>, generation: u64) -> Self {
        Self {
            position,
            last_offset: None,
            generation,
            rows: 0,
            decoded: 0,
            bytes: 0,
            skipped: 0,
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

    /// Forgets everything buffered (its rows are dropped by [`Buffers::discard`]); the
    /// partition continues from `position`.
    fn discard(&mut self, position: Option<i64>) {
        self.position = position;
        self.last_offset = None;
        self.rows = 0;
        self.decoded = 0;
        self.bytes = 0;
        self.skipped = 0;
        self.continuity_checked = false;
        self.accepted = None;
        self.at_end_since = None;
        self.sought_back_to = None;
    }
}
