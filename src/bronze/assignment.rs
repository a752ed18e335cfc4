//! Partition assignment, decided by the consumer group and positioned by the table.
//!
//! librdkafka calls [`BronzeContext::pre_rebalance`] from inside the consumer's poll. On assign,
//! the context reads each partition's position from the bronze table (the `txn` action
//! `bronze:<topic>:<partition>`) and starts the partition right after it, so Kafka's committed
//! offsets never decide where bronze resumes. On revoke, it records the partitions so the worker
//! drops what it buffered for them (the new owner reads those messages again from the table's
//! position; the worker never commits them).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::table::StageTable;

/// The `txn` application id of a topic partition in bronze.
pub fn app_id(topic: &str, partition: i32) -> String {
    format!("bronze:{topic}:{partition}")
}

/// A partition this worker owns: the table position at assignment and when it was assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owned {
    /// Last offset in the table when the partition was assigned (`None`: nothing yet).
    pub position: Option<i64>,
    /// Bumped on every assignment, so the worker notices a revoke-and-reassign.
    pub generation: u64,
    pub assigned_at: Instant,
}

/// What the context and the worker share.
#[derive(Debug, Default)]
pub struct Assignment {
    pub owned: HashMap<i32, Owned>,
    pub generation: u64,
    pub rebalances: u64,
    /// Set when positions could not be read: the worker must stop rather than guess.
    pub failure: Option<String>,
    /// Where each partition's log ends, as the latest fetch responses said (librdkafka's
    /// statistics), and when that was reported.
    pub log_ends: HashMap<i32, (i64, Instant)>,
}

/// The rdkafka context of the bronze consumer.
pub struct BronzeContext {
    pub topic: String,
    pub table_location: String,
    pub storage_options: HashMap<String, String>,
    pub table_schema: arrow::datatypes::SchemaRef,
    pub partition_columns: Vec<&'static str>,
    pub shared: Arc<Mutex<Assignment>>,
    pub runtime: tokio::runtime::Handle,
}

impl ClientContext for BronzeContext {
    /// librdkafka reports a partition's end as an error event too; the worker handles it (as
    /// `PartitionEOF` from the consumer), so it is no error here.
    fn error(&self, error: KafkaError, reason: &str) {
        if reason.contains("reached end of partition") {
            tracing::trace!(%error, reason, "partition end");
        } else {
            tracing::error!(%error, reason, "librdkafka error");
        }
    }

    /// Keeps each partition's log end from the fetch responses. (A broker that answers a fetch
    /// beyond the log end with an empty response instead of OFFSET_OUT_OF_RANGE, as the dev broker
    /// does, shows a recreated topic only this way.)
    fn stats(&self, statistics: Statistics) {
        let Some(topic) = statistics.topics.get(&self.topic) else { return };
        let now = Instant::now();
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        for (partition, stats) in &topic.partitions {
            if *partition >= 0 && stats.hi_offset >= 0 && stats.fetch_state == "active" {
                shared.log_ends.insert(*partition, (stats.hi_offset, now));
            }
        }
    }
}

impl ConsumerContext for BronzeContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(list) => {
                let partitions = self.partitions_of(list);
                tracing::info!(topic = %self.topic, ?partitions, "partitions revoked");
                let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
                for partition in partitions {
                    shared.owned.remove(&partition);
                }
                shared.rebalances += 1;
            }
            Rebalance::Assign(list) => self.assign(list),
            Rebalance::Error(error) => tracing::warn!(%error, "rebalance error"),
        }
    }
}

impl BronzeContext {
    fn partitions_of(&self, list: &TopicPartitionList) -> Vec<i32> {
        list.elements().iter().filter(|e| e.topic() == self.topic).map(|e| e.partition()).collect()
    }

    /// Reads the partitions' positions from the table and starts each right after its position.
    fn assign(&self, list: &TopicPartitionList) {
        let partitions = self.partitions_of(list);
        // librdkafka calls this from the consumer's poll, on a runtime worker thread: reading
        // the table needs async I/O, so let the runtime move other work off this thread.
        let positions = tokio::task::block_in_place(|| self.runtime.block_on(self.read_positions(&partitions)));
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        shared.rebalances += 1;
        let positions = match positions {
            Ok(positions) => positions,
            Err(error) => {
                tracing::error!(%error, "cannot read positions for the new assignment");
                shared.failure = Some(error);
                return;
            }
        };
        shared.generation += 1;
        let generation = shared.generation;
        for (partition, position) in positions {
            let offset = position.map_or(Offset::Beginning, |last| Offset::Offset(last + 1));
            if let Some(mut element) = list.find_partition(&self.topic, partition)
                && let Err(error) = element.set_offset(offset)
            {
                tracing::error!(%error, partition, "cannot set the start offset");
                shared.failure = Some(format!("cannot start partition {partition} at {offset:?}: {error}"));
            }
            shared.owned.insert(partition, Owned { position, generation, assigned_at: Instant::now() });
        }
        let positions: std::collections::BTreeMap<i32, Option<i64>> = shared.owned.iter().map(|(p, o)| (*p, o.position)).collect();
        tracing::info!(topic = %self.topic, ?positions, "partitions assigned, positioned from the table");
    }

    /// Positions of `partitions`, retried for a while: starting anywhere else would duplicate or lose.
    async fn read_positions(&self, partitions: &[i32]) -> Result<Vec<(i32, Option<i64>)>, String> {
        let mut backoff = Duration::from_millis(200);
        let mut last_error = String::new();
        for _ in 0..8 {
            match self.try_read_positions(partitions).await {
                Ok(positions) => return Ok(positions),
                Err(error) => {
                    tracing::warn!(%error, ?backoff, "reading positions failed, retrying");
                    last_error = error.to_string();
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        Err(last_error)
    }

    async fn try_read_positions(&self, partitions: &[i32]) -> Result<Vec<(i32, Option<i64>)>, crate::table::TableError> {
        let table =
            StageTable::open_or_create(&self.table_location, self.storage_options.clone(), self.table_schema.clone(), &self.partition_columns)
                .await?;
        let mut positions = Vec::with_capacity(partitions.len());
        for &partition in partitions {
            positions.push((partition, table.position(&app_id(&self.topic, partition)).await?));
        }
        Ok(positions)
    }
}
