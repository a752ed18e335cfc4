//! The sending half of the producer for Kafka: bounded in-flight sends through rdkafka's
//! `FutureProducer` (librdkafka retries retriable failures itself), every outcome counted.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::mpsc;

use super::source::Outgoing;
use super::summary::DeliveryStats;

/// How sends are bounded.
#[derive(Debug, Clone, Copy)]
pub struct SendPolicy {
    pub max_in_flight: usize,
    pub flush_timeout: Duration,
}

/// One message's fate.
struct DeliveryOutcome {
    defect: Option<&'static str>,
    latency: Duration,
    result: Result<(), String>,
}

/// Sends everything `events` yields, then waits up to the flush timeout for outstanding sends.
pub async fn run_kafka_sink(
    producer: FutureProducer,
    topic: Arc<str>,
    mut events: mpsc::Receiver<Vec<Outgoing>>,
    policy: SendPolicy,
    mut stats: DeliveryStats,
) -> DeliveryStats {
    let mut in_flight = FuturesUnordered::new();
    let mut waiting = VecDeque::new();
    let mut progress = tokio::time::interval(Duration::from_millis(500));
    loop {
        while in_flight.len() < policy.max_in_flight {
            let Some(message) = waiting.pop_front() else { break };
            in_flight.push(deliver(producer.clone(), Arc::clone(&topic), message));
        }
        tokio::select! {
            Some(outcome) = in_flight.next(), if !in_flight.is_empty() => record(&mut stats, outcome),
            next = events.recv(), if waiting.is_empty() => match next {
                Some(batch) => waiting.extend(batch),
                None => break,
            },
            _ = progress.tick() => stats.maybe_print_progress(),
        }
    }
    // The source is done: drain what is in flight, within the flush timeout.
    let deadline = tokio::time::Instant::now() + policy.flush_timeout;
    loop {
        match tokio::time::timeout_at(deadline, in_flight.next()).await {
            Ok(Some(outcome)) => record(&mut stats, outcome),
            Ok(None) => break,
            Err(_) => {
                let pending = in_flight.len();
                tracing::error!(pending, timeout = ?policy.flush_timeout, "deliveries still pending at flush timeout");
                for _ in 0..pending {
                    stats.record_failed(format!("not acknowledged within the flush timeout of {:?}", policy.flush_timeout));
                }
                break;
            }
        }
    }
    let _ = producer.flush(Duration::from_secs(1));
    stats.finish_progress();
    stats
}

fn record(stats: &mut DeliveryStats, outcome: DeliveryOutcome) {
    match outcome.result {
        Ok(()) => stats.record_sent(outcome.defect, Some(outcome.latency)),
        Err(error) => stats.record_failed(error),
    }
}

/// Sends one message. Only a send librdkafka refused to queue (its queue is full) is tried again:
/// a delivery that failed after queueing was already retried by librdkafka, and sending it again
/// could store it twice, after later events of its key.
async fn deliver(producer: FutureProducer, topic: Arc<str>, message: Outgoing) -> DeliveryOutcome {
    let started = Instant::now();
    let result = loop {
        let mut record = FutureRecord::<[u8], [u8]>::to(&topic).payload(&message.payload);
        if let Some(key) = &message.key {
            record = record.key(key.as_slice());
        }
        let outcome = match producer.send_result(record) {
            Ok(delivery) => match delivery.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((error, _))) => Err(error),
                Err(_canceled) => Err(KafkaError::Canceled),
            },
            Err((error, _)) => Err(error),
        };
        match outcome {
            Ok(()) => break Ok(()),
            Err(error) if is_queue_full(&error) => tokio::time::sleep(Duration::from_millis(2)).await,
            Err(error) => {
                tracing::error!(%error, topic = %topic, key = ?message.key.as_deref().map(String::from_utf8_lossy), "delivery failed (librdkafka's resends included)");
                break Err(error.to_string());
            }
        }
    };
    DeliveryOutcome { defect: message.defect, latency: started.elapsed(), result }
}

fn is_queue_full(error: &KafkaError) -> bool {
    let code = match error {
        KafkaError::MessageProduction(code) => Some(*code),
        _ => error.rdkafka_error_code(),
    };
    code == Some(RDKafkaErrorCode::QueueFull)
}
