//! The generating half of the producer: draws events from the generator at the configured rate,
//! encodes them and hands them to the sink in small batches over a bounded channel
//! (back-pressure, not buffering; one hand-off per batch, not per event).

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::generate::{DefectKind, Generator, PurchaseOrderItem};
use crate::wire::encode::RecordEncoder;

/// Most events in one hand-off to the sink.
const MAX_BATCH: usize = 256;

/// An event ready for a sink.
pub struct Outgoing {
    /// The Kafka key (the order id's bytes), if any.
    pub key: Option<Vec<u8>>,
    /// The framed Avro value; empty when the sink encodes by itself.
    pub payload: Vec<u8>,
    pub defect: Option<DefectKind>,
    /// The event itself, for sinks that encode by themselves (file, stdout); `None` for Kafka,
    /// so the sending side never carries (or frees) the generated strings.
    pub item: Option<PurchaseOrderItem>,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Count,
    Duration,
    Signal,
    /// The sink stopped taking events (it failed).
    SinkClosed,
}

/// When to stop, and how fast to go.
pub struct SourceSettings {
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    /// Events per second, 0 for unlimited; later values arrive on `rate_updates`.
    pub rate_updates: watch::Receiver<u32>,
    /// Encode here (Kafka) or leave it to the sink (file, stdout).
    pub encoder: Option<RecordEncoder>,
}

/// What the source did.
pub struct SourceReport {
    pub generated: u64,
    pub stop_reason: StopReason,
    pub encode_errors: u64,
}

/// The pace: a rate limiter (none when unlimited) and how many events go per hand-off, about a
/// millisecond's worth so batching never adds visible latency.
struct Pace {
    limiter: Option<DefaultDirectRateLimiter>,
    batch: usize,
}

impl Pace {
    fn new(rate: u32) -> Self {
        let Some(per_second) = NonZeroU32::new(rate) else {
            return Self { limiter: None, batch: MAX_BATCH };
        };
        // A burst of 10 ms worth keeps the pace smooth while absorbing timer granularity.
        let burst = NonZeroU32::new((rate / 100).max(1)).unwrap_or(NonZeroU32::MIN);
        let limiter = RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst));
        Self { limiter: Some(limiter), batch: (rate as usize / 1_000).clamp(1, MAX_BATCH) }
    }

    async fn until_ready(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
    }
}

/// Runs until the count or duration is reached, `cancel` fires, or the sink goes away.
pub async fn run_source(
    mut generator: Generator,
    mut settings: SourceSettings,
    out: mpsc::Sender<Vec<Outgoing>>,
    cancel: CancellationToken,
) -> SourceReport {
    let started = Instant::now();
    let deadline = settings.duration.map(|d| tokio::time::Instant::now() + d);
    let mut pace = Pace::new(*settings.rate_updates.borrow_and_update());
    let mut report = SourceReport { generated: 0, stop_reason: StopReason::Signal, encode_errors: 0 };
    let mut batch = Vec::with_capacity(pace.batch);
    loop {
        if settings.count.is_some_and(|count| report.generated >= count) {
            report.stop_reason = StopReason::Count;
            break;
        }
        if settings.rate_updates.has_changed().unwrap_or(false) {
            let rate = *settings.rate_updates.borrow_and_update();
            tracing::info!(rate, "applying new producer rate");
            pace = Pace::new(rate);
        }
        let until_deadline = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = cancel.cancelled() => { report.stop_reason = StopReason::Signal; break; }
            _ = until_deadline => { report.stop_reason = StopReason::Duration; break; }
            _ = pace.until_ready() => {}
        }
        match next_outgoing(&mut generator, settings.encoder.as_ref()) {
            Some(message) => {
                batch.push(message);
                report.generated += 1;
            }
            None => report.encode_errors += 1,
        }
        if batch.len() >= pace.batch && out.send(std::mem::take(&mut batch)).await.is_err() {
            report.stop_reason = StopReason::SinkClosed;
            break;
        }
    }
    if !batch.is_empty() && out.send(batch).await.is_err() {
        report.stop_reason = StopReason::SinkClosed;
    }
    tracing::debug!(generated = report.generated, elapsed = ?started.elapsed(), reason = ?report.stop_reason, "source done");
    report
}

/// The next event, encoded when there is an encoder.
fn next_outgoing(generator: &mut Generator, encoder: Option<&RecordEncoder>) -> Option<Outgoing> {
    let event = generator.next_event();
    let key = event.key().map(<[u8]>::to_vec);
    let Some(encoder) = encoder else {
        return Some(Outgoing { key, payload: Vec::new(), defect: event.defect, item: Some(event.item) });
    };
    let mut payload = Vec::with_capacity(320);
    if let Err(error) = encoder.encode(&event.item, &mut payload) {
        // Cannot happen for generated items (they follow the schema), but never silently.
        tracing::error!(%error, "event not sent");
        return None;
    }
    Some(Outgoing { key, payload, defect: event.defect, item: None })
}
