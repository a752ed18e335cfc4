//! `medallion produce`: generate one built-in stream (purchase orders, payments) and send it,
//! Avro-encoded, to Kafka (or to a file or standard output for inspection).
//!
//! ```text
//!  run_source (generate → rate limit → encode) ──bounded channel──► sink (Kafka | file | stdout)
//! ```
//! Stopping (count, duration or the cancellation token) ends the source; dropping its sender lets
//! the sink drain, wait for outstanding deliveries and report.

mod file_sink;
mod kafka_sink;
mod source;
mod stream;
mod summary;

use std::sync::Arc;

use rdkafka::producer::FutureProducer;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

pub use file_sink::FileSinkError;
pub use kafka_sink::{SendPolicy, run_kafka_sink};
pub use source::{Outgoing, SourceSettings, StopReason, run_source};
pub use stream::{Record, StreamGenerator, StreamKind};
pub use summary::{DeliveryStats, ProduceSummary, RunDescription};

use crate::config::{ClientRole, Config, Output};
use crate::generate::GeneratorSettings;
use crate::generate::payments::InvalidShape;
use crate::kafka::{self, KafkaSetupError};
use crate::wire::encode::{EncodeError, RecordEncoder};
use crate::wire::framing::{Framing, SchemaRef};
use crate::wire::registry::{RegistryClient, RegistryError};
use crate::wire::schema::CatalogEntry;

/// Batches buffered between the source and the sink (each at most a few hundred events).
const CHANNEL_CAPACITY: usize = 32;

/// Why producing could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    #[error(transparent)]
    Kafka(#[from] KafkaSetupError),
    #[error("cannot register the writer schema: {0}")]
    Registry(#[from] RegistryError),
    #[error("no schema file for version {version} of the {stream} stream in schemas/")]
    UnknownVersion { stream: &'static str, version: u32 },
    #[error(transparent)]
    Generator(#[from] InvalidShape),
    #[error("no entry of schema.static_ids names {file}; add one or configure schema.registry")]
    NoStaticId { file: &'static str },
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error(transparent)]
    Output(#[from] FileSinkError),
    #[error("producer task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Runs the producer of `stream` until its count or duration is reached or `cancel` fires.
/// `config_updates` carries reloaded configurations (SIGHUP) while it runs; `config` is the one
/// it starts with.
pub async fn run(
    config: &Config,
    stream: StreamKind,
    cancel: CancellationToken,
    config_updates: watch::Receiver<Arc<Config>>,
) -> Result<ProduceSummary, ProduceError> {
    let settings = &config.producer;
    let entry = stream.writer_schema(config).map_err(|version| ProduceError::UnknownVersion { stream: stream.name(), version })?;
    let seed = settings.seed.unwrap_or_else(rand::random);
    let generator_settings = GeneratorSettings {
        seed,
        invalid_ratio: settings.invalid_ratio,
        start_time: calendar_start(settings),
        rate: stream.rate(config),
        time_scale: settings.time_scale,
    };
    let generator = StreamGenerator::new(stream, &generator_settings, config)?;
    let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
    let mut source_settings = SourceSettings { count: settings.count, duration: settings.duration, stream, config_updates, encoder: None };
    let mut run = RunDescription {
        stream: stream.name(),
        output: settings.output.to_string(),
        topic: stream.topic(config).to_owned(),
        framing: config.schema.framing.to_string(),
        schema_version: entry.embedded.version,
        schema_ref: None,
        seed,
    };
    let sink = spawn_sink(config, entry, receiver, &mut source_settings, &mut run).await?;
    let source = tokio::spawn(run_source(generator, source_settings, sender, cancel));
    let stats = sink.await??;
    let source = source.await?;
    Ok(ProduceSummary::new(run, source.generated, source.stop_reason, &stats))
}

type SinkTask = tokio::task::JoinHandle<Result<DeliveryStats, FileSinkError>>;

/// Starts the sink for the configured output. For Kafka it first checks the brokers and topic,
/// fixes the schema reference, and gives the source its encoder.
async fn spawn_sink(
    config: &Config,
    entry: &'static CatalogEntry,
    receiver: mpsc::Receiver<Vec<Outgoing>>,
    source_settings: &mut SourceSettings,
    run: &mut RunDescription,
) -> Result<SinkTask, ProduceError> {
    let settings = &config.producer;
    let stats = DeliveryStats::new(matches!(settings.output, Output::Kafka), &source_settings.stream.defect_names());
    Ok(match &settings.output {
        Output::Kafka => {
            let mut stream_config = config.clone();
            stream_config.kafka.topic = source_settings.stream.topic(config).to_owned();
            let config = &stream_config;
            let topic = kafka::ensure_topic(config).await?;
            tracing::info!(topic = %topic.name, partitions = topic.partitions, "sending to Kafka");
            let schema_ref = resolve_schema_ref(config, entry).await?;
            run.schema_ref = Some(schema_ref.to_string());
            source_settings.encoder = Some(RecordEncoder::new(entry, schema_ref)?);
            let producer = create_producer(config)?;
            let policy = SendPolicy { max_in_flight: settings.max_in_flight, flush_timeout: settings.flush_timeout };
            let topic: Arc<str> = Arc::from(topic.name);
            tokio::spawn(async move { Ok(kafka_sink::run_kafka_sink(producer, topic, receiver, policy, stats).await) })
        }
        Output::File(path) => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || file_sink::write_avro_file(path, entry, receiver, stats))
        }
        Output::Stdout => {
            let version = entry.embedded.version;
            tokio::task::spawn_blocking(move || file_sink::write_json_lines(version, receiver, stats))
        }
    })
}

/// Where event times come from: `start_time` when given; with only a seed, a calendar starting
/// at today's midnight UTC, so that a seeded stream is reproducible byte for byte (all day) while
/// its times stay current; otherwise (`None`) the wall clock.
fn calendar_start(settings: &crate::config::ProducerConfig) -> Option<chrono::DateTime<chrono::Utc>> {
    settings.start_time.or_else(|| {
        settings.seed?;
        chrono::Utc::now().date_naive().and_hms_opt(0, 0, 0).map(|midnight| midnight.and_utc())
    })
}

/// The schema reference the frames carry: a fingerprint, a registry id, or a static id.
pub async fn resolve_schema_ref(config: &Config, entry: &'static CatalogEntry) -> Result<SchemaRef, ProduceError> {
    match config.schema.framing {
        Framing::SingleObject => Ok(SchemaRef::Fingerprint(entry.fingerprint)),
        Framing::Confluent => match &config.schema.registry {
            Some(registry) => {
                let subject = format!("{}-value", config.kafka.topic);
                let id = RegistryClient::new(registry)?.register(&subject, entry.embedded.json).await?;
                tracing::info!(%subject, id, "registered writer schema");
                Ok(SchemaRef::RegistryId(id))
            }
            None => config
                .schema
                .static_ids
                .iter()
                .find(|static_id| static_id.file == entry.embedded.file_name)
                .map(|static_id| SchemaRef::RegistryId(static_id.id))
                .ok_or(ProduceError::NoStaticId { file: entry.embedded.file_name }),
        },
    }
}

/// An idempotent, acks=all producer with the configured batching.
pub fn create_producer(config: &Config) -> Result<FutureProducer, KafkaSetupError> {
    let settings = &config.producer;
    let stage_settings = [
        ("acks", "all".to_owned()),
        // Java-compatible: a key lands where a Java producer would put it; null keys spread.
        ("partitioner", "murmur2_random".to_owned()),
        ("enable.idempotence", settings.enable_idempotence.to_string()),
        ("linger.ms", settings.linger.as_millis().to_string()),
        ("batch.size", settings.batch_size_bytes.to_string()),
        // Resends are librdkafka's alone: with idempotence they keep order and never duplicate.
        ("message.send.max.retries", settings.send_retries.to_string()),
        ("retry.backoff.ms", settings.retry_backoff.as_millis().to_string()),
        ("retry.backoff.max.ms", settings.retry_backoff.max(std::time::Duration::from_secs(1)).as_millis().to_string()),
        ("message.timeout.ms", settings.delivery_timeout.as_millis().to_string()),
        // Bounded by max_in_flight above; keep librdkafka's own queue larger so it never refuses.
        ("queue.buffering.max.messages", (settings.max_in_flight * 2).max(100_000).to_string()),
    ];
    config
        .kafka
        .client_config_with(config.profile, ClientRole::Producer, &stage_settings)
        .create()
        .map_err(|source| KafkaSetupError::Client { bootstrap: config.kafka.effective_bootstrap(), source: Box::new(source) })
}
