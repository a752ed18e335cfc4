//! Writer schemas fetched from the registry off the consume loop.
//!
//! A Confluent frame whose id no decoder knows is not taken: its partition is paused and sought
//! back to it, and the id is looked up on a task of its own, while the other partitions go on.
//! When the registry answers, the schema is learned (or the id remembered as unknown, its
//! messages kept undecoded) and the waiting partitions resume from that message. A registry
//! that does not answer keeps them waiting, retried with backoff, rather than leave messages
//! undecoded for good. A rebalance loses the pause: a partition that still waits pauses again on
//! the message, and after every rebalance the partitions that wait for nothing are resumed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::BronzeError;
use super::assignment::BronzeContext;
use super::worker::Worker;
use crate::wire::framing::{self, SchemaRef};
use crate::wire::registry::RegistryClient;

/// How long an id the registry does not have is taken as unknown before it is asked again.
const UNKNOWN_ID_RETRY: Duration = Duration::from_secs(60);
/// At most this many unknown ids are remembered (payloads that only look Confluent-framed carry
/// arbitrary ids).
const UNKNOWN_IDS_KEPT: usize = 4_096;
/// At most this many lookups run at once; a partition needing one more waits for any to end.
const LOOKUPS_AT_ONCE: usize = 64;

/// What a lookup found: the schema, or why there is none.
pub type Found = (u32, Result<apache_avro::Schema, String>);

/// The registry, the lookups under way and their results.
pub struct Lookups {
    registry: RegistryClient,
    /// Ids the registry does not have, and when it said so.
    unknown: HashMap<u32, Instant>,
    /// Ids being looked up, and the partitions waiting for each.
    pending: HashMap<u32, Vec<i32>>,
    /// Partitions whose next message needs a lookup when [`LOOKUPS_AT_ONCE`] run already.
    waiting_for_a_lookup: Vec<i32>,
    found: mpsc::UnboundedSender<Found>,
    pub results: mpsc::UnboundedReceiver<Found>,
    retry_backoff: Duration,
}

impl Lookups {
    pub fn new(registry: RegistryClient, retry_backoff: Duration) -> Self {
        let (found, results) = mpsc::unbounded_channel();
        Self { registry, unknown: HashMap::new(), pending: HashMap::new(), waiting_for_a_lookup: Vec::new(), found, results, retry_backoff }
    }

    /// Whether `partition` waits for a lookup.
    pub fn waits(&self, partition: i32) -> bool {
        self.waiting_for_a_lookup.contains(&partition) || self.pending.values().any(|waiting| waiting.contains(&partition))
    }

    /// Starts looking `id` up, retrying while the registry does not answer.
    fn start(&mut self, id: u32, cancel: CancellationToken) {
        let (registry, found, mut backoff) = (self.registry.clone(), self.found.clone(), self.retry_backoff);
        tokio::spawn(async move {
            loop {
                let answer = tokio::select! {
                    () = cancel.cancelled() => return,
                    answer = registry.schema_by_id(id) => answer,
                };
                match answer {
                    Err(error) if error.is_transient() => {
                        tracing::warn!(%error, id, retry_in = ?backoff, "the schema registry does not answer; the partitions that need this id wait for it");
                        crate::telemetry::metrics().registry_failures.inc();
                        tokio::select! {
                            () = cancel.cancelled() => return,
                            () = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                    }
                    answer => {
                        let schema = answer.map_err(|e| e.to_string()).and_then(|text| {
                            apache_avro::Schema::parse_str(&text).map_err(|e| format!("schema id {id} from the registry does not parse: {e}"))
                        });
                        let _ = found.send((id, schema));
                        return;
                    }
                }
            }
        });
    }

    fn remember_unknown(&mut self, id: u32) {
        if self.unknown.len() >= UNKNOWN_IDS_KEPT {
            self.unknown.retain(|_, said| said.elapsed() < UNKNOWN_ID_RETRY);
            if self.unknown.len() >= UNKNOWN_IDS_KEPT {
                self.unknown.clear();
            }
        }
        self.unknown.insert(id, Instant::now());
    }
}

impl Worker {
    /// Whether `message` has to wait for its writer schema: then its partition is paused and
    /// sought back to it, and it is not taken now.
    pub(super) fn waits_for_schema(
        &mut self,
        consumer: &StreamConsumer<BronzeContext>,
        message: &BorrowedMessage<'_>,
        cancel: &CancellationToken,
    ) -> Result<bool, BronzeError> {
        let Some(lookups) = &mut self.lookups else { return Ok(false) };
        let Some(Ok((schema_ref @ SchemaRef::RegistryId(id), _))) = message.payload().map(framing::parse) else { return Ok(false) };
        if self.decoders.knows(&schema_ref) || lookups.unknown.get(&id).is_some_and(|said| said.elapsed() < UNKNOWN_ID_RETRY) {
            return Ok(false);
        }
        let partition = message.partition();
        let (pending, full) = (lookups.pending.contains_key(&id), lookups.pending.len() >= LOOKUPS_AT_ONCE);
        if !pending && !full {
            lookups.start(id, cancel.clone());
        }
        let waiting = if pending || !full { lookups.pending.entry(id).or_default() } else { &mut lookups.waiting_for_a_lookup };
        if !waiting.contains(&partition) {
            waiting.push(partition);
        }
        // Sought back, the partition is no longer at its end, nor caught up before this message.
        if let Some(buffer) = self.buffers.get_mut(partition) {
            buffer.at_end_since = None;
            buffer.sought_back_to = Some(message.offset());
        }
        let error = |source| BronzeError::Seek { partition, source: Box::new(source) };
        consumer.pause(&self.partition_list(partition)).map_err(error)?;
        consumer.seek(&self.topic, partition, Offset::Offset(message.offset()), Duration::from_secs(10)).map_err(error)?;
        Ok(true)
    }

    /// A lookup ended: the schema is learned (or the id remembered as unknown) and the
    /// partitions waiting for it resume.
    pub(super) fn schema_found(&mut self, consumer: &StreamConsumer<BronzeContext>, (id, schema): Found) {
        let Some(lookups) = &mut self.lookups else { return };
        match schema {
            Ok(schema) => {
                tracing::info!(id, "learned writer schema from the registry");
                let schema_ref = SchemaRef::RegistryId(id);
                self.buffers.decoder_mut().add_writer_schema(schema_ref, schema.clone());
                self.decoders.learn(id, schema);
            }
            Err(error) => {
                tracing::warn!(%error, id, "no writer schema for this id; such messages are kept undecoded");
                lookups.remember_unknown(id);
            }
        }
        let waiting = lookups.pending.remove(&id).unwrap_or_default();
        // Those waiting for a free lookup try again too: their message starts one now.
        for partition in waiting.into_iter().chain(std::mem::take(&mut lookups.waiting_for_a_lookup)) {
            // A partition revoked meanwhile cannot be resumed; its next owner reads it anew.
            let _ = consumer.resume(&self.partition_list(partition));
        }
    }

    /// After a rebalance: the owned partitions that wait for no lookup fetch (a pause made before
    /// a revoke must not outlive it).
    pub(super) fn resume_unless_waiting(&mut self, consumer: &StreamConsumer<BronzeContext>) {
        let Some(lookups) = &self.lookups else { return };
        let mut list = TopicPartitionList::new();
        for partition in self.buffers.partitions().filter(|p| !lookups.waits(*p)) {
            list.add_partition(&self.topic, partition);
        }
        if list.count() > 0 {
            let _ = consumer.resume(&list);
        }
    }

    fn partition_list(&self, partition: i32) -> TopicPartitionList {
        let mut list = TopicPartitionList::new();
        list.add_partition(&self.topic, partition);
        list
    }
}
