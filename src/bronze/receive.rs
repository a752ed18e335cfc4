//! Taking messages: the ones librdkafka already holds are taken in one turn of the worker's
//! loop, each checked against its partition's buffer and routed, then buffered as a bronze row.

use std::time::Instant;

use futures::{FutureExt, StreamExt};
use rdkafka::consumer::{MessageStream, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use tokio_util::sync::CancellationToken;

use super::BronzeError;
use super::assignment::BronzeContext;
use super::batch::KafkaMessage;
use super::worker::Worker;

/// At most this many messages are taken in one turn of the worker's loop (cancellation,
/// commit outcomes and the ticker are looked at between turns).
const READY_AT_ONCE: usize = 256;

impl Worker {
    /// Buffers one message, or notes what librdkafka reported instead.
    pub(super) fn on_received(
        &mut self,
        consumer: &StreamConsumer<BronzeContext>,
        received: Result<BorrowedMessage<'_>, KafkaError>,
        cancel: &CancellationToken,
    ) -> Result<(), BronzeError> {
        match received {
            Ok(message) => {
                if !self.waits_for_schema(consumer, &message, cancel)? {
                    self.receive(consumer, &message)?;
                }
            }
            Err(KafkaError::PartitionEOF(partition)) => self.reached_log_end(partition)?,
            Err(error) => tracing::warn!(%error, topic = %self.topic, "consume error (librdkafka retries)"),
        }
        Ok(())
    }

    /// Buffers the messages librdkafka already holds, up to [`READY_AT_ONCE`] and never past a
    /// full batch, without going round the select loop for each: a turn of it (a cancellation
    /// waiter taken and given back, the timer, channels and consumer polled) cost more than
    /// buffering the message.
    pub(super) fn take_ready(
        &mut self,
        consumer: &StreamConsumer<BronzeContext>,
        messages: &mut MessageStream<'_, BronzeContext>,
        cancel: &CancellationToken,
    ) -> Result<(), BronzeError> {
        for _ in 1..READY_AT_ONCE {
            if self.flush_due(false) {
                break;
            }
            // Pending leaves a no-op waker with the consumer; the select loop's next poll of the
            // stream puts its own back before it waits.
            let Some(Some(received)) = messages.next().now_or_never() else { break };
            self.on_received(consumer, received, cancel)?;
        }
        Ok(())
    }

    fn receive(&mut self, consumer: &StreamConsumer<BronzeContext>, message: &BorrowedMessage<'_>) -> Result<(), BronzeError> {
        self.sync_assignment()?;
        let partition = message.partition();
        let Some(buffer) = self.buffers.get(partition) else { return Ok(()) };
        if !buffer.continuity_checked {
            self.check_continuity(consumer, partition, message.offset(), false)?;
        }
        let Some(buffer) = self.buffers.get_mut(partition) else { return Ok(()) };
        if buffer.sought_back_to.is_some_and(|offset| message.offset() >= offset) {
            buffer.sought_back_to = None;
        }
        if buffer.already_has(message.offset()) {
            return Ok(());
        }
        let verdict = match &mut self.router {
            Some(router) => router.verdict(message.payload(), self.buffers.decoder()),
            None => super::Verdict::Decode,
        };
        self.first_message.get_or_insert_with(Instant::now);
        if verdict == super::Verdict::Skip {
            self.buffers.skip(partition, message.offset());
            self.summary.passed_over += 1;
            return Ok(());
        }
        // Headers go on the stack (a message rarely has more than a few), not in a Vec per message.
        let mut on_stack: [(&str, Option<&[u8]>); 8] = [("", None); 8];
        let on_heap: Vec<(&str, Option<&[u8]>)>;
        let headers: &[(&str, Option<&[u8]>)] = match message.headers() {
            None => &[],
            Some(all) if all.count() <= on_stack.len() => {
                all.iter().zip(on_stack.iter_mut()).for_each(|(header, slot)| *slot = (header.key, header.value));
                &on_stack[..all.count()]
            }
            Some(all) => {
                on_heap = all.iter().map(|header| (header.key, header.value)).collect();
                &on_heap
            }
        };
        let kafka_message = KafkaMessage {
            // The worker's own topic, the only one it subscribes to: `message.topic()` converts
            // librdkafka's C string for every message (0.3% of bronze's instructions).
            topic: &self.topic,
            partition,
            offset: message.offset(),
            timestamp_ms: message.timestamp().to_millis(),
            key: message.key(),
            headers,
            payload: message.payload(),
        };
        match verdict {
            super::Verdict::Unclaimed { schema_ref, error } => self.buffers.push_undecoded(&kafka_message, Some(schema_ref), error)?,
            _ => self.buffers.push(&kafka_message)?,
        };
        Ok(())
    }
}
