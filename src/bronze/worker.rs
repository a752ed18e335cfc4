//! The bronze worker loop: receive, buffer per partition, hand commits to the writer task,
//! apply their outcomes, repeat.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::assignment::{Assignment, BronzeContext, app_id};
use super::batch::{BronzeBatchBuilder, Lineage};
use super::buffer::{Buffers, PartitionBuffer};
use super::catch_up::{CatchUp, Progress};
use super::lookups::{Found, Lookups};
use super::summary::{BronzeStop, BronzeSummary};
use super::writer::{CommitJob, CommitOutcome};
use super::{BronzeError, DecoderFactory};
use crate::config::BronzeConfig;
use crate::table::{StageTable, TableError};

/// The worker's end of the writer task: jobs out, outcomes back, and the deadline it gives up at.
pub struct WriterLink {
    pub jobs: mpsc::Sender<CommitJob>,
    pub outcomes: mpsc::UnboundedReceiver<Result<CommitOutcome, TableError>>,
    pub give_up_at: watch::Sender<Option<Instant>>,
}

/// The worker's state between polls.
pub struct Worker {
    /// Looks up Confluent schema ids the static map lacks, off the consume loop.
    pub(super) lookups: Option<Lookups>,
    /// Set when the assignment changed: paused partitions that wait for nothing resume.
    rebalanced: bool,
    pub(super) topic: String,
    pub(super) settings: BronzeConfig,
    pub(super) shared: Arc<Mutex<Assignment>>,
    pub(super) decoders: DecoderFactory,
    pub(super) buffers: Buffers,
    /// The `--until-caught-up` targets, when asked to stop there.
    catch_up: Option<CatchUp>,
    /// Which messages to keep, when other streams share the topic.
    pub(super) router: Option<super::Router>,
    pub(super) summary: BronzeSummary,
    last_offset_commit: Instant,
    uncommitted_offsets: HashMap<i32, i64>,
    /// When the first message arrived (ingest time excludes start-up and group join).
    pub(super) first_message: Option<Instant>,
    /// Assignment (generation, rebalances) the buffers were last aligned with.
    seen_changes: (u64, u64),
    /// Jobs for the writer task; `None` once closed.
    jobs: Option<mpsc::Sender<CommitJob>>,
    outcomes: mpsc::UnboundedReceiver<Result<CommitOutcome, TableError>>,
    /// Jobs sent whose outcome has not arrived yet.
    in_flight: usize,
    /// Set when stopping: the writer's storage retries end there.
    give_up_at: watch::Sender<Option<Instant>>,
}

impl Worker {
    /// A worker for `config`'s topic writing to the table at `location` through `writer`;
    /// `shared` is what the consumer's rebalance callbacks fill in.
    pub fn new(
        config: &crate::config::Config,
        shared: Arc<Mutex<Assignment>>,
        decoders: DecoderFactory,
        lookups: Option<Lookups>,
        catch_up: Option<CatchUp>,
        location: String,
        writer: WriterLink,
    ) -> Result<Self, BronzeError> {
        let lineage = Lineage::of_this_process(&config.kafka.group_id);
        let builder = BronzeBatchBuilder::new(decoders.decoder()?)?.with_lineage(lineage);
        Ok(Self {
            lookups,
            rebalanced: false,
            topic: config.kafka.topic.clone(),
            settings: config.bronze.clone(),
            shared,
            decoders,
            buffers: Buffers::new(builder),
            catch_up,
            router: {
                let stream = config.stream();
                stream.routing.map(|routing| super::Router::new(&stream.topic, &stream.record, routing))
            },
            summary: BronzeSummary { table: location, ..BronzeSummary::default() },
            last_offset_commit: Instant::now(),
            uncommitted_offsets: HashMap::new(),
            first_message: None,
            seen_changes: (u64::MAX, u64::MAX),
            jobs: Some(writer.jobs),
            outcomes: writer.outcomes,
            in_flight: 0,
            give_up_at: writer.give_up_at,
        })
    }

    /// Runs until caught up (when asked) or cancelled, then commits what it holds. Returns the
    /// summary and the table the writer task hands back.
    pub async fn run(
        mut self,
        consumer: &StreamConsumer<BronzeContext>,
        cancel: CancellationToken,
        writer: tokio::task::JoinHandle<StageTable>,
    ) -> Result<BronzeSummary, BronzeError> {
        let mut ticker = tokio::time::interval(Duration::from_millis(100));
        // One stream for the whole run: `recv` makes (and registers a waker for) one per message.
        let mut messages = consumer.stream();
        let stop = loop {
            if let Some(failure) = self.shared.lock().unwrap_or_else(PoisonError::into_inner).failure.take() {
                return Err(BronzeError::Positions(failure));
            }
            // A batch is full while the previous commit still runs: consumption waits for that
            // commit's outcome (librdkafka goes on prefetching), so at most two batches are
            // held, the one being written and the full one. Letting a third fill bought no
            // throughput on two cores and cost its size in memory.
            let held_back = self.in_flight > 0 && self.flush_due(false);
            let ticked = tokio::select! {
                biased;
                _ = cancel.cancelled() => break BronzeStop::Signal,
                Some(outcome) = self.outcomes.recv(), if self.in_flight > 0 => {
                    self.apply(consumer, outcome)?;
                    false
                }
                Some(found) = next_found(&mut self.lookups) => {
                    self.schema_found(consumer, found);
                    false
                }
                Some(received) = messages.next(), if !held_back => {
                    self.on_received(consumer, received, &cancel)?;
                    self.take_ready(consumer, &mut messages, &cancel)?;
                    false
                }
                _ = ticker.tick() => {
                    self.check_unverified_partitions(consumer)?;
                    true
                }
            };
            if std::mem::take(&mut self.rebalanced) {
                self.resume_unless_waiting(consumer);
            }
            // The clock is read once a turn, and a busy turn takes up to READY_AT_ONCE messages.
            if self.in_flight == 0 && self.flush_due(true) {
                self.flush().await?;
            }
            if ticked && self.caught_up().await? {
                break BronzeStop::CaughtUp;
            }
        };
        self.finish(consumer, writer, stop).await
    }

    /// Sends what is buffered, waits for every outstanding commit, and reports.
    async fn finish(
        mut self,
        consumer: &StreamConsumer<BronzeContext>,
        writer: tokio::task::JoinHandle<StageTable>,
        stop: BronzeStop,
    ) -> Result<BronzeSummary, BronzeError> {
        let timeout = self.settings.shutdown_timeout;
        let deadline = Instant::now() + timeout;
        let _ = self.give_up_at.send(Some(deadline));
        // A store that hangs (rather than fails) must not hold the stop past its timeout: what
        // is not committed by then is read again on the next start.
        let drained = tokio::time::timeout_at(deadline.into(), self.commit_what_is_held(consumer)).await;
        let Ok(drained) = drained else {
            writer.abort();
            return Err(BronzeError::ShutdownStalled { location: self.summary.table.clone(), timeout });
        };
        drained?;
        self.commit_kafka_offsets(consumer, CommitMode::Sync);
        let table = writer.await.map_err(|e| BronzeError::WriterFailed { message: e.to_string() })?;
        self.summary.stop_reason = Some(stop);
        self.summary.table_version = table.version();
        self.summary.ingest_seconds = self.first_message.map_or(0.0, |t| t.elapsed().as_secs_f64());
        self.summary.rebalances = self.shared.lock().unwrap_or_else(PoisonError::into_inner).rebalances;
        for partition in self.buffers.partitions() {
            self.summary.partitions.insert(partition, table.position(&app_id(&self.topic, partition)).await?);
        }
        Ok(self.summary)
    }

    /// Sends what is buffered and waits for the outcome of every commit sent.
    async fn commit_what_is_held(&mut self, consumer: &StreamConsumer<BronzeContext>) -> Result<(), BronzeError> {
        self.flush().await?;
        self.jobs = None;
        while self.in_flight > 0 {
            match self.outcomes.recv().await {
                Some(outcome) => self.apply(consumer, outcome)?,
                None => break,
            }
        }
        Ok(())
    }

    /// Aligns the buffers with the current assignment: revoked partitions lose their buffers.
    /// Cheap when nothing changed (one uncontended lock), so it runs for every message.
    pub(super) fn sync_assignment(&mut self) -> Result<(), BronzeError> {
        let owned = {
            let shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            let changes = (shared.generation, shared.rebalances);
            if changes == self.seen_changes {
                return Ok(());
            }
            self.seen_changes = changes;
            self.rebalanced = true;
            shared.owned.clone()
        };
        self.summary.dropped_for_reread +=
            self.buffers.retain(|partition, buffer| owned.get(&partition).is_some_and(|o| o.generation == buffer.generation));
        for (partition, assignment) in owned {
            if !self.buffers.contains(partition) {
                self.buffers.insert(partition, PartitionBuffer::new(assignment.position, assignment.generation));
            }
        }
        Ok(())
    }

    pub(super) fn flush_due(&self, check_clock: bool) -> bool {
        let buffers = &self.buffers;
        buffers.messages() > 0
            && (buffers.messages() >= self.settings.flush_rows
                || buffers.bytes() >= self.settings.flush_bytes
                || (check_clock && buffers.oldest().is_some_and(|t| t.elapsed() >= self.settings.flush_interval)))
    }

    /// Hands everything buffered to the writer as one commit; waits while the writer's queue is
    /// full (back-pressure on consumption).
    async fn flush(&mut self) -> Result<(), BronzeError> {
        self.sync_assignment()?;
        let job = self.buffers.take_job()?;
        if job.parts.is_empty() {
            return Ok(());
        }
        let Some(jobs) = &self.jobs else { return Ok(()) };
        if jobs.send(job).await.is_err() {
            // The writer stopped after a failure; its outcome says why.
            return match self.outcomes.recv().await {
                Some(Err(error)) => Err(BronzeError::Table(error)),
                _ => Err(BronzeError::WriterStopped),
            };
        }
        self.in_flight += 1;
        Ok(())
    }

    /// Records a commit's outcome: committed positions go to Kafka (for lag tools), rejected
    /// partitions are dropped and re-read from the table's position.
    fn apply(&mut self, consumer: &StreamConsumer<BronzeContext>, outcome: Result<CommitOutcome, TableError>) -> Result<(), BronzeError> {
        self.in_flight = self.in_flight.saturating_sub(1);
        let outcome = outcome.map_err(|source| match self.jobs {
            None => BronzeError::ShutdownTimeout { location: self.summary.table.clone(), source },
            Some(_) => BronzeError::Table(source),
        })?;
        let metrics = crate::telemetry::metrics();
        for (partition, last, rows, decoded) in outcome.committed {
            metrics.rows("bronze", "out", rows);
            let label = crate::telemetry::PartitionLabel { topic: self.topic.clone(), partition: i64::from(partition) };
            metrics.decode_failures.get_or_create(&label).inc_by(rows - decoded);
            self.summary.messages += rows;
            self.summary.decoded += decoded;
            self.summary.undecodable += rows - decoded;
            self.uncommitted_offsets.insert(partition, last + 1);
        }
        for (partition, current) in outcome.rejected {
            let Some((dropped, generation)) = self.buffers.discard(partition, current) else { continue };
            self.summary.dropped_for_reread += dropped;
            // Revoked while the commit ran: the new owner reads it from the table; seeking a
            // partition this consumer no longer has would fail.
            let owned = self.shared.lock().unwrap_or_else(PoisonError::into_inner).owned.get(&partition).is_some_and(|o| o.generation == generation);
            if !owned {
                continue;
            }
            // A seek that fails leaves the consumer past the table's end: stop rather than skip.
            let offset = current.map_or(Offset::Beginning, |last| Offset::Offset(last + 1));
            consumer
                .seek(&self.topic, partition, offset, Duration::from_secs(10))
                .map_err(|source| BronzeError::Seek { partition, source: Box::new(source) })?;
        }
        if let Some(info) = outcome.info {
            self.summary.commits += 1;
            self.summary.files += info.files;
            self.summary.bytes += info.bytes;
        }
        if self.last_offset_commit.elapsed() >= self.settings.offset_commit_interval {
            self.commit_kafka_offsets(consumer, CommitMode::Async);
        }
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

    /// Whether `--until-caught-up` may stop now (see [`CatchUp::reached`]).
    async fn caught_up(&mut self) -> Result<bool, BronzeError> {
        let Some(catch_up) = &mut self.catch_up else { return Ok(false) };
        let (owned, generation, log_ends) = {
            let shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            (shared.owned.clone(), shared.generation, shared.log_ends.clone())
        };
        // Before the group's first assignment the table's positions alone would decide, and a
        // table ahead of a recreated topic's high watermarks would read as caught up.
        if generation == 0 {
            return Ok(false);
        }
        let (buffers, lookups) = (&self.buffers, &self.lookups);
        // A partition counts only once it showed that it continues the table (a message, or its
        // end), and not while it waits for a writer schema; at its end it has reached the target
        // whatever offsets markers took.
        let received = |partition: i32| match buffers.get(partition) {
            _ if lookups.as_ref().is_some_and(|l| l.waits(partition)) => None,
            Some(buffer) if buffer.sought_back_to.is_some() => None,
            Some(buffer) if buffer.continuity_checked && buffer.at_end_since.is_some() => Some(Progress::AtEnd),
            Some(buffer) if buffer.continuity_checked => {
                Some(Progress::Received { last: buffer.last_offset.or(buffer.position), log_end: log_ends.get(&partition).map(|(end, _)| *end) })
            }
            _ => None,
        };
        Ok(catch_up.reached(&owned, received).await?)
    }
}

/// The next schema lookup that ended (never, without a registry).
async fn next_found(lookups: &mut Option<Lookups>) -> Option<Found> {
    match lookups {
        Some(lookups) => lookups.results.recv().await,
        None => std::future::pending().await,
    }
}
