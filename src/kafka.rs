//! Kafka client construction, broker reachability and topic creation, shared by every stage.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use crate::config::{ClientRole, Config};

/// Why the brokers or the topic are not usable. Every variant names the brokers it tried.
#[derive(Debug, thiserror::Error)]
pub enum KafkaSetupError {
    #[error("cannot create a Kafka client for {bootstrap}: {source}")]
    Client { bootstrap: String, source: Box<KafkaError> },
    #[error("cannot reach Kafka brokers at {bootstrap} within {timeout:?}: {source}")]
    Unreachable { bootstrap: String, timeout: Duration, source: Box<KafkaError> },
    #[error(
        "topic `{topic}` does not exist on {bootstrap} and kafka.create_topic is off \
         (Event Hubs never creates topics: create the event hub first)"
    )]
    TopicMissing { topic: String, bootstrap: String },
    #[error("cannot create topic `{topic}` on {bootstrap}: {source}")]
    CreateTopic { topic: String, bootstrap: String, source: Box<KafkaError> },
    #[error("topic `{topic}` on {bootstrap} has no partitions {waited:?} after it was created")]
    TopicNotReady { topic: String, bootstrap: String, waited: Duration },
}

/// The topic as the brokers describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: usize,
    /// Whether this call created it.
    pub created: bool,
}

/// Checks that the brokers answer and the configured topic exists, creating it when the
/// configuration allows.
pub async fn ensure_topic(config: &Config) -> Result<TopicInfo, KafkaSetupError> {
    let kafka = &config.kafka;
    let bootstrap = kafka.effective_bootstrap();
    // Probing a missing topic must not create it with the broker's defaults.
    let admin: AdminClient<DefaultClientContext> = kafka
        .client_config_with(config.profile, ClientRole::Admin, &[("allow.auto.create.topics", "false".to_owned())])
        .create()
        .map_err(|source| KafkaSetupError::Client { bootstrap: bootstrap.clone(), source: Box::new(source) })?;
    let admin = Arc::new(admin);
    let timeout = kafka.connect_timeout;
    let unreachable = |source| KafkaSetupError::Unreachable { bootstrap: bootstrap.clone(), timeout, source: Box::new(source) };
    let partitions = topic_partitions(&admin, &kafka.topic, timeout).await.map_err(unreachable)?;
    if partitions > 0 {
        return Ok(TopicInfo { name: kafka.topic.clone(), partitions, created: false });
    }
    if !kafka.should_create_topic(config.profile) {
        return Err(KafkaSetupError::TopicMissing { topic: kafka.topic.clone(), bootstrap });
    }
    create_topic(&admin, config).await?;
    let started = Instant::now();
    while started.elapsed() < timeout {
        let partitions = topic_partitions(&admin, &kafka.topic, timeout).await.map_err(unreachable)?;
        if partitions > 0 {
            tracing::info!(topic = %kafka.topic, partitions, "created topic");
            return Ok(TopicInfo { name: kafka.topic.clone(), partitions, created: true });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(KafkaSetupError::TopicNotReady { topic: kafka.topic.clone(), bootstrap, waited: timeout })
}

async fn create_topic(admin: &AdminClient<DefaultClientContext>, config: &Config) -> Result<(), KafkaSetupError> {
    let kafka = &config.kafka;
    let topic = NewTopic::new(&kafka.topic, kafka.partitions, TopicReplication::Fixed(kafka.replication_factor));
    let options = AdminOptions::new().operation_timeout(Some(kafka.connect_timeout));
    let create_error =
        |source| KafkaSetupError::CreateTopic { topic: kafka.topic.clone(), bootstrap: kafka.effective_bootstrap(), source: Box::new(source) };
    let results = admin.create_topics([&topic], &options).await.map_err(create_error)?;
    for result in results {
        match result {
            // Another process created it first: that is what we wanted.
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(create_error(KafkaError::AdminOp(code))),
        }
    }
    Ok(())
}

/// Partitions of `topic` (0 when it does not exist). librdkafka's metadata call blocks, so it
/// runs on the blocking pool.
async fn topic_partitions(admin: &Arc<AdminClient<DefaultClientContext>>, topic: &str, timeout: Duration) -> Result<usize, KafkaError> {
    let admin = Arc::clone(admin);
    let topic = topic.to_owned();
    let metadata =
        tokio::task::spawn_blocking(move || admin.inner().fetch_metadata(Some(&topic), timeout)).await.map_err(|_| KafkaError::Canceled)??;
    Ok(metadata.topics().first().filter(|t| t.error().is_none()).map_or(0, |t| t.partitions().len()))
}
