//! The bronze worker loop: receive, buffer per partition, commit to Delta with positions, repeat.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use super::assignment::{Assignment, BronzeContext, app_id};
use super::batch::{BronzeBatchBuilder, KafkaMessage};
use super::buffer::PartitionBuffer;
use super::summary::{BronzeStop, BronzeSummary};
use super::table::{StageTable, TableError};
use super::{BronzeError, DecoderFactory};
use crate::config::BronzeConfig;

/// The worker's state between polls.
pub struct Worker {
    pub table: StageTable,
    pub topic: String,
    pub settings: BronzeConfig,
    pub shared: Arc<Mutex<Assignment>>,
    pub decoders: DecoderFactory,
    pub buffers: HashMap<i32, PartitionBuffer>,
    /// High watermark of each partition when the worker started (for `--until-caught-up`).
    pub targets: Option<HashMap<i32, (i64, i64)>>,
    pub summary: BronzeSummary,
    pub oldest_buffered: Option<Instant>,
    pub last_offset_commit: Instant,
    pub uncommitted_offsets: HashMap<i32, i64>,
    /// When the first message arrived (ingest time excludes start-up and group join).
    pub first_message: Option<Instant>,
    /// Rows and payload bytes across all buffers (kept as totals: checked per message).
    pub buffered_rows: usize,
    pub buffered_bytes: u64,
    /// Assignment (generation, rebalances) the buffers were last aligned with.
    pub seen_changes: (u64, u64),
}

impl Worker {
    /// Runs until caught up (when asked) or cancelled, then commits what it holds.
    pub async fn run(mut self, consumer: &StreamConsumer<BronzeContext>, cancel: CancellationToken) -> Result<BronzeSummary, BronzeError> {
        let mut ticker = tokio::time::interval(Duration::from_millis(100));
        let stop = loop {
            if let Some(failure) = self.shared.lock().unwrap_or_else(PoisonError::into_inner).failure.take() {
                return Err(BronzeError::Positions(failure));
            }
            let ticked = tokio::select! {
                biased;
                _ = cancel.cancelled() => break BronzeStop::Signal,
                received = consumer.recv() => {
                    match received {
                        Ok(message) => self.receive(&message)?,
                        Err(error) => tracing::warn!(%error, topic = %self.topic, "consume error (librdkafka retries)"),
                    }
                    false
                }
                _ = ticker.tick() => true,
            };
            if self.flush_due() {
                self.flush(consumer, None).await?;
            }
            if ticked && self.caught_up() {
                break BronzeStop::CaughtUp;
            }
        };
        let deadline = Instant::now() + self.settings.shutdown_timeout;
        self.flush(consumer, Some(deadline)).await?;
        self.commit_kafka_offsets(consumer, CommitMode::Sync);
        self.summary.stop_reason = Some(stop);
        self.summary.ingest_seconds = self.first_message.map_or(0.0, |t| t.elapsed().as_secs_f64());
        self.summary.table_version = self.table.version();
        self.summary.rebalances = self.shared.lock().unwrap_or_else(PoisonError::into_inner).rebalances;
        for (partition, buffer) in &self.buffers {
            self.summary.partitions.insert(*partition, buffer.position);
        }
        consumer.unsubscribe();
        Ok(self.summary)
    }

    /// Aligns the buffers with the current assignment: revoked partitions lose their buffers.
    /// Cheap when nothing changed (one uncontended lock), so it runs for every message.
    fn sync_assignment(&mut self) -> Result<(), BronzeError> {
        let owned = {
            let shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            let changes = (shared.generation, shared.rebalances);
            if changes == self.seen_changes {
                return Ok(());
            }
            self.seen_changes = changes;
            shared.owned.clone()
        };
        let summary = &mut self.summary;
        let (mut dropped_rows, mut dropped_bytes) = (0, 0);
        self.buffers.retain(|partition, buffer| {
            let keep = owned.get(partition).is_some_and(|o| o.generation == buffer.generation);
            if !keep {
                summary.dropped_for_reread += buffer.rows as u64;
                dropped_rows += buffer.rows;
                dropped_bytes += buffer.bytes;
            }
            keep
        });
        self.buffered_rows -= dropped_rows;
        self.buffered_bytes -= dropped_bytes;
        for (partition, assignment) in owned {
            if !self.buffers.contains_key(&partition) {
                let builder = BronzeBatchBuilder::new(self.decoders.decoder()?)?;
                self.buffers.insert(partition, PartitionBuffer::new(builder, assignment.position, assignment.generation));
            }
        }
        Ok(())
    }

    fn receive(&mut self, message: &BorrowedMessage<'_>) -> Result<(), BronzeError> {
        self.sync_assignment()?;
        let partition = message.partition();
        let Some(buffer) = self.buffers.get_mut(&partition) else { return Ok(()) };
        if buffer.already_has(message.offset()) {
            return Ok(());
        }
        let headers: Vec<(&str, Option<&[u8]>)> =
            message.headers().map(|h| h.iter().map(|header| (header.key, header.value)).collect()).unwrap_or_default();
        buffer.builder.push(&KafkaMessage {
            topic: message.topic(),
            partition,
            offset: message.offset(),
            timestamp_ms: message.timestamp().to_millis(),
            key: message.key(),
            headers: &headers,
            payload: message.payload(),
        });
        buffer.last_offset = Some(message.offset());
        buffer.rows += 1;
        buffer.bytes += message.payload_len() as u64;
        self.buffered_rows += 1;
        self.buffered_bytes += message.payload_len() as u64;
        self.oldest_buffered.get_or_insert_with(Instant::now);
        self.first_message.get_or_insert_with(Instant::now);
        Ok(())
    }

    fn flush_due(&self) -> bool {
        self.buffered_rows > 0
            && (self.buffered_rows >= self.settings.flush_rows
                || self.buffered_bytes >= self.settings.flush_bytes
                || self.oldest_buffered.is_some_and(|t| t.elapsed() >= self.settings.flush_interval))
    }

    /// Commits every buffered row with its positions. Storage errors are retried (until
    /// `deadline`, if any) without moving positions; a partition the table has moved past
    /// (another owner wrote it) is dropped and re-read from the table's position.
    async fn flush(&mut self, consumer: &StreamConsumer<BronzeContext>, deadline: Option<Instant>) -> Result<(), BronzeError> {
        self.sync_assignment()?;
        for buffer in self.buffers.values_mut() {
            buffer.seal()?;
        }
        let mut backoff = self.settings.retry_backoff;
        loop {
            match self.try_commit(consumer).await {
                Ok(()) => break,
                Err(BronzeError::Table(TableError::TxnConflict { .. })) => {
                    tracing::warn!(table = %self.table.location(), "another writer committed the same partitions; re-checking positions");
                }
                Err(BronzeError::Table(error)) if error.is_transient() => {
                    if deadline.is_some_and(|d| Instant::now() + backoff > d) {
                        return Err(BronzeError::ShutdownTimeout { location: self.table.location().to_owned(), source: error });
                    }
                    tracing::error!(%error, ?backoff, "commit failed; retrying without moving positions");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
                Err(error) => return Err(error),
            }
        }
        self.oldest_buffered = None;
        if self.last_offset_commit.elapsed() >= self.settings.offset_commit_interval {
            self.commit_kafka_offsets(consumer, CommitMode::Async);
        }
        Ok(())
    }

    async fn try_commit(&mut self, consumer: &StreamConsumer<BronzeContext>) -> Result<(), BronzeError> {
        if self.buffers.values().all(|b| b.pending.is_empty()) {
            return Ok(());
        }
        self.table.refresh().await?;
        let mut batches = Vec::new();
        let mut positions = Vec::new();
        let mut counts = Vec::new();
        let mut ranges = Vec::new();
        for (&partition, buffer) in self.buffers.iter_mut().filter(|(_, b)| !b.pending.is_empty()) {
            let current = self.table.position(&app_id(&self.topic, partition)).await?;
            if current != buffer.position {
                self.buffered_rows -= buffer.rows;
                self.buffered_bytes -= buffer.bytes;
                let dropped = buffer.discard(current);
                self.summary.dropped_for_reread += dropped as u64;
                let offset = current.map_or(Offset::Beginning, |last| Offset::Offset(last + 1));
                tracing::warn!(partition, ?current, dropped, "the table moved past this worker; re-reading from the table's position");
                if let Err(error) = consumer.seek(&self.topic, partition, offset, Duration::from_secs(10)) {
                    return Err(BronzeError::Seek { partition, source: Box::new(error) });
                }
                continue;
            }
            batches.extend(buffer.pending.iter().cloned());
            if let Some(last) = buffer.last_offset {
                positions.push((app_id(&self.topic, partition), last));
                ranges.push((partition, buffer.position.map_or(0, |p| p + 1), last));
            }
            counts.push((partition, buffer.pending.iter().map(|b| b.num_rows()).sum::<usize>()));
        }
        if batches.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let span = tracing::info_span!("bronze_commit", topic = %self.topic, table = %self.table.location(), offsets = ?ranges);
        let info = tracing::Instrument::instrument(self.table.append(&batches, &positions), span.clone()).await?;
        span.in_scope(|| {
            let rows = batches.iter().map(|b| b.num_rows()).sum::<usize>();
            tracing::info!(version = info.version, files = info.files, rows, elapsed = ?started.elapsed(), "committed");
        });
        let committed: HashSet<i32> = counts.iter().map(|(p, _)| *p).collect();
        for (partition, buffer) in self.buffers.iter_mut().filter(|(p, _)| committed.contains(p)) {
            for batch in &buffer.pending {
                // decode_error is null exactly for the decoded rows.
                let decoded = batch.column_by_name("decode_error").map_or(0, |c| c.null_count());
                self.summary.messages += batch.num_rows() as u64;
                self.summary.decoded += decoded as u64;
                self.summary.undecodable += (batch.num_rows() - decoded) as u64;
            }
            self.buffered_rows -= buffer.rows;
            self.buffered_bytes -= buffer.bytes;
            buffer.committed();
            if let Some(last) = buffer.position {
                self.uncommitted_offsets.insert(*partition, last + 1);
            }
        }
        self.summary.commits += 1;
        self.summary.files += info.files;
        self.summary.bytes += info.bytes;
        Ok(())
    }

    /// Tells Kafka how far bronze got, for lag tools; positions never come from here.
    fn commit_kafka_offsets(&mut self, consumer: &StreamConsumer<BronzeContext>, mode: CommitMode) {
        if self.uncommitted_offsets.is_empty() {
            return;
        }
        let mut list = TopicPartitionList::new();
        for (partition, next) in self.uncommitted_offsets.drain() {
            let _ = list.add_partition_offset(&self.topic, partition, Offset::Offset(next));
        }
        if let Err(error) = consumer.commit(&list, mode) {
            tracing::debug!(%error, "Kafka offset commit failed (lag reporting only)");
        }
        self.last_offset_commit = Instant::now();
    }

    /// Every owned partition has received (buffered or committed) up to the high watermark it
    /// had at start. The final flush after the loop commits what is buffered.
    fn caught_up(&mut self) -> bool {
        let Some(targets) = &self.targets else { return false };
        let owned = self.shared.lock().unwrap_or_else(PoisonError::into_inner).owned.clone();
        if owned.is_empty() {
            return false;
        }
        owned.iter().all(|(partition, assignment)| {
            let buffer = self.buffers.get(partition);
            let received = buffer.map_or(assignment.position, |b| b.last_offset.or(b.position));
            let (low, high) = targets.get(partition).copied().unwrap_or((0, 0));
            received.map_or(high <= low, |last| last + 1 >= high)
        })
    }
}
