//! The bronze stage: every Kafka message, raw bytes and coordinates included, into a Delta table,
//! exactly once.
//!
//! ```text
//!  Kafka (consumer group) ──► take (receive.rs) ──► decode into rows (batch.rs, rows.rs)
//!        ──► commit job ──► Delta append + txn per partition (writer.rs, its own task)
//!        ▲ positions read from the table on every assignment (assignment.rs)
//! ```
//! Exactly once: each commit carries `txn` actions `bronze:<topic>:<partition>` = last offset
//! written. Assignments start right after the table's positions; before committing, the worker
//! checks the table still ends where its buffer begins (else another owner wrote those messages
//! and the buffer is dropped and re-read), and delta-rs refuses a concurrent commit of the same
//! app id. Kafka's committed offsets are written after each commit, for lag tools only.
//!
//! A worker consumes one topic. `medallion run` starts one per stream, each (when there are
//! several) in a group of its own, `<group>.<stream>`, so that one stream's consumers joining or
//! leaving never pauses another's; a stream sharing its topic reads the whole topic, keeps its own
//! record's messages and passes over the others' (see `routing.rs`). One consumer per topic rather than one for all: the partition-end event, which
//! the continuity and catch-up checks rely on, names only the partition (rust-rdkafka 0.39's
//! `KafkaError::PartitionEOF(i32)` drops librdkafka's topic), so a consumer of several topics
//! could not tell which topic's partition reached its end.

mod assignment;
pub mod batch;
mod buffer;
mod catch_up;
mod continuity;
mod lookups;
mod receive;
mod routing;
mod rows;
mod summary;
mod worker;
mod writer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use tokio_util::sync::CancellationToken;

pub use crate::table::{CommitInfo, StageTable, TableError};
pub use assignment::app_id;
pub use batch::{BatchError, BronzeBatchBuilder, KafkaMessage, PARTITION_COLUMN, bronze_schema, column};
pub use continuity::Discontinuity;
pub use routing::{Router, Verdict};
pub use summary::{BronzeStop, BronzeSummary};

use crate::config::{ClientRole, Config};
use crate::kafka::{self, KafkaSetupError};
use crate::wire::decode::{Decoder, PlanError, WriterSchemas};
use crate::wire::framing::Framing;
use crate::wire::schema::SchemaCatalog;

/// Why the bronze worker stopped with a failure. Each variant names the table or partition.
#[derive(Debug, thiserror::Error)]
pub enum BronzeError {
    #[error(transparent)]
    Kafka(#[from] KafkaSetupError),
    #[error("cannot subscribe to {topic}: {source}")]
    Subscribe { topic: String, source: Box<KafkaError> },
    #[error("cannot seek partition {partition}: {source}")]
    Seek { partition: i32, source: Box<KafkaError> },
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("the reader schema cannot be stored: {0}")]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("cannot position the assigned partitions from the table: {0}")]
    Positions(String),
    #[error("the bronze writer task failed: {message}")]
    WriterFailed { message: String },
    #[error("the bronze writer task stopped without saying why")]
    WriterStopped,
    #[error("cannot use the schema registry: {0}")]
    Registry(#[from] crate::wire::registry::RegistryError),
    #[error("{}", continuity::message(topic, *partition, table, discontinuity))]
    Discontinuity { topic: String, partition: i32, table: String, discontinuity: continuity::Discontinuity },
    #[error("cannot read the watermarks of {topic} partition {partition}: {source}")]
    Watermarks { topic: String, partition: i32, source: Box<KafkaError> },
    #[error(
        "stopping: the commits to {location} did not finish within the shutdown timeout ({timeout:?}); uncommitted messages will be read again on the next start"
    )]
    ShutdownStalled { location: String, timeout: std::time::Duration },
    #[error(
        "stopping: could not commit to {location} before the shutdown timeout ({source}); uncommitted messages will be read again on the next start"
    )]
    ShutdownTimeout { location: String, source: TableError },
}

/// Makes decoders that know every embedded schema (by fingerprint and static id), plus the
/// schemas learned from the registry since.
pub struct DecoderFactory {
    writers: WriterSchemas,
    accepted: Vec<Framing>,
    /// Full name of the record decoded into (its newest version's columns).
    record: String,
}

impl DecoderFactory {
    /// Decoders into the record of the stream `config` works on ([`Config::stream`]).
    pub fn from_config(config: &Config) -> Self {
        let writers = WriterSchemas::embedded(&config.schema.static_ids);
        Self { writers, accepted: config.schema.accepted_framings.clone(), record: config.stream().record }
    }

    pub fn knows(&self, schema_ref: &crate::wire::framing::SchemaRef) -> bool {
        self.writers.contains(schema_ref)
    }

    /// Remembers a registry schema for decoders made from now on.
    pub fn learn(&mut self, id: u32, schema: apache_avro::Schema) {
        self.writers.insert_id(id, schema);
    }

    /// A decoder into the newest schema version's columns.
    /// The bronze table's schema: bronze's own columns and the reader schema's business columns.
    /// The one place it is derived (bronze creates its table with it; silver and the rules
    /// check resolve against it).
    pub fn bronze_schema(&self) -> Result<arrow::datatypes::SchemaRef, BronzeError> {
        Ok(bronze_schema(&self.decoder()?.arrow_fields())?)
    }

    /// Decoders into `record`'s columns (a full name, e.g. [`crate::config::PAYMENT_TRANSACTION`])
    /// instead of the stream's.
    pub fn for_record(self, record: &str) -> Self {
        Self { record: record.to_owned(), ..self }
    }

    pub fn decoder(&self) -> Result<Decoder, PlanError> {
        let versions = SchemaCatalog::embedded().record(&self.record);
        let reader =
            versions.latest().map(|e| &e.schema).ok_or_else(|| PlanError::ReaderNotRecord(format!("no schema of record {}", self.record)))?;
        Decoder::new(reader, self.writers.clone(), &self.accepted, 4_096)
    }
}

/// Runs the bronze worker until cancelled, or until caught up with the high watermarks seen at
/// start when `until_caught_up`.
#[tracing::instrument(name = "bronze", skip_all, fields(topic = %config.kafka.topic, table = %config.bronze.table))]
pub async fn run(config: &Config, until_caught_up: bool, cancel: CancellationToken) -> Result<BronzeSummary, BronzeError> {
    deltalake::azure::register_handlers(None);
    let topic = config.kafka.topic.clone();
    let topic_info = kafka::ensure_topic(config).await?;
    let decoders = DecoderFactory::from_config(config);
    let schema = decoders.bronze_schema()?;
    let location = config.lake.table_location(&config.bronze.table);
    let table = StageTable::open_or_create(&location, config.lake.storage_options(), schema.clone(), &[PARTITION_COLUMN])
        .await?
        .with_writer_properties(batch::writer_properties(&schema));
    let shared = Arc::new(Mutex::new(assignment::Assignment::default()));
    let context = assignment::BronzeContext {
        topic: topic.clone(),
        table_location: location.clone(),
        storage_options: config.lake.storage_options(),
        table_schema: schema,
        partition_columns: vec![PARTITION_COLUMN],
        shared: Arc::clone(&shared),
        runtime: tokio::runtime::Handle::current(),
    };
    let consumer = create_consumer(config, context)?;
    consumer.subscribe(&[&topic]).map_err(|source| BronzeError::Subscribe { topic: topic.clone(), source: Box::new(source) })?;
    let catch_up = until_caught_up
        .then(|| catch_up::CatchUp::new(high_watermarks(&consumer, &topic, topic_info.partitions, config), topic.clone(), table.clone()));
    tracing::info!(%topic, table = %location, group = %config.kafka.group_id, until_caught_up, "bronze worker started");
    let (jobs, job_queue) = tokio::sync::mpsc::channel(1);
    let (outcome_sender, outcomes) = tokio::sync::mpsc::unbounded_channel();
    let (give_up_at, give_up_watch) = tokio::sync::watch::channel(None);
    let link = worker::WriterLink { jobs, outcomes, give_up_at };
    let maintainer = crate::maintain::Maintainer::new(config);
    let writing = writer::run_writer(table, topic.clone(), job_queue, outcome_sender, give_up_watch, config.bronze.retry_backoff, maintainer);
    // The writer task logs within the stage's spans (stream, bronze), like the worker.
    let writer = tokio::spawn(tracing::Instrument::instrument(writing, tracing::Span::current()));
    let registry = config.schema.registry.as_ref().map(crate::wire::registry::RegistryClient::new).transpose()?;
    let lookups = registry.map(|registry| lookups::Lookups::new(registry, config.bronze.retry_backoff));
    let worker = worker::Worker::new(config, shared, decoders, lookups, catch_up, location, link)?;
    let summary = worker.run(&consumer, cancel, writer).await;
    leave_group(consumer, config.kafka.connect_timeout).await;
    summary
}

/// Closes the consumer (it leaves the group, so the others rebalance at once) but never waits
/// longer than `timeout`: librdkafka's close can wait for ever on a broker that does not answer
/// (seen with the dev broker). Everything is committed by now, so giving up costs only a slower
/// rebalance for the rest of the group, after their session timeout.
async fn leave_group(consumer: StreamConsumer<assignment::BronzeContext>, timeout: std::time::Duration) {
    let (closed, closed_watch) = tokio::sync::oneshot::channel();
    // A plain thread, not spawn_blocking: a close that never ends must not hold the runtime's
    // shutdown either.
    std::thread::spawn(move || {
        drop(consumer);
        let _ = closed.send(());
    });
    if tokio::time::timeout(timeout, closed_watch).await.is_err() {
        tracing::warn!(?timeout, "the consumer did not leave the group in time; exiting anyway (the group notices after its session timeout)");
    }
}

fn create_consumer(config: &Config, context: assignment::BronzeContext) -> Result<StreamConsumer<assignment::BronzeContext>, BronzeError> {
    let settings = [
        ("group.id", config.kafka.group_id.clone()),
        ("enable.auto.commit", "false".to_owned()),
        ("enable.auto.offset.store", "false".to_owned()),
        // Only used when the table has no position and the assignment says Beginning anyway.
        ("auto.offset.reset", "earliest".to_owned()),
        // Bounded prefetch: memory stays flat when Delta commits are slow. 8 MiB (about 30,000
        // events) keeps a 1M-event catch-up as fast as 32 MiB did and its peak RSS 25-35 MiB
        // lower (bench/bronze_ingest.rs).
        ("queued.max.messages.kbytes", "8192".to_owned()),
        // Once a commit has let the prefetch queue fill, resume fetching as soon as it drains;
        // librdkafka's default waits a whole second (measured: 1M rows in 6.5 s → 3.7 s).
        ("fetch.queue.backoff.ms", "10".to_owned()),
        // An idle fetch waits at most this long at the broker (librdkafka's default: 500 ms). At
        // 20k events/s the default put a ~500 ms stall on the slowest 1% of rows in about half
        // of the latency bench's runs (bronze p99 1.9 s instead of 1.4 s); with 100 ms, 6 runs
        // of 6 stayed at 1.36-1.47 s. Under load fetches return full, so throughput is unchanged.
        ("fetch.wait.max.ms", "100".to_owned()),
        // A partition's end and its log end show whether it continues the table when it has no
        // message to give (see continuity.rs).
        ("enable.partition.eof", "true".to_owned()),
        ("statistics.interval.ms", "1000".to_owned()),
    ];
    config
        .kafka
        .client_config_with(config.profile, ClientRole::Consumer, &settings)
        .create_with_context(context)
        .map_err(|source| BronzeError::Kafka(KafkaSetupError::Client { bootstrap: config.kafka.effective_bootstrap(), source: Box::new(source) }))
}

/// (low, high) watermarks of every partition, as `--until-caught-up` targets.
fn high_watermarks(
    consumer: &StreamConsumer<assignment::BronzeContext>,
    topic: &str,
    partitions: usize,
    config: &Config,
) -> HashMap<i32, (i64, i64)> {
    tokio::task::block_in_place(|| {
        (0..partitions as i32)
            .filter_map(|partition| match consumer.fetch_watermarks(topic, partition, config.kafka.connect_timeout) {
                Ok(marks) => Some((partition, marks)),
                Err(error) => {
                    tracing::warn!(%error, partition, "cannot read the high watermark");
                    None
                }
            })
            .collect()
    })
}

#[cfg(test)]
mod tests;
