//! The generating half of the producer: draws events from the generator at the configured rate,
//! encodes them and hands them to the sink over a bounded channel (back-pressure, not buffering).

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::encode::RecordEncoder;
use crate::generate::{GeneratedEvent, Generator};

/// An event ready for a sink.
pub struct Outgoing {
    pub event: GeneratedEvent,
    /// The framed Avro value; empty when the sink encodes by itself.
    pub payload: Vec<u8>,
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

fn limiter_for(rate: u32) -> Option<DefaultDirectRateLimiter> {
    let rate = NonZeroU32::new(rate)?;
    // A burst of 10 ms worth keeps the pace smooth while absorbing timer granularity.
    let burst = NonZeroU32::new((rate.get() / 100).max(1)).unwrap_or(NonZeroU32::MIN);
    Some(RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)))
}

/// Runs until the count or duration is reached, `cancel` fires, or the sink goes away.
pub async fn run_source(
    mut generator: Generator,
    mut settings: SourceSettings,
    out: mpsc::Sender<Outgoing>,
    cancel: CancellationToken,
) -> SourceReport {
    let started = Instant::now();
    let deadline = settings.duration.map(|d| tokio::time::Instant::now() + d);
    let mut limiter = limiter_for(*settings.rate_updates.borrow_and_update());
    let mut report = SourceReport { generated: 0, stop_reason: StopReason::Signal, encode_errors: 0 };
    loop {
        if settings.count.is_some_and(|count| report.generated >= count) {
            report.stop_reason = StopReason::Count;
            break;
        }
        if settings.rate_updates.has_changed().unwrap_or(false) {
            let rate = *settings.rate_updates.borrow_and_update();
            tracing::info!(rate, "applying new producer rate");
            limiter = limiter_for(rate);
        }
        let ready = async {
            if let Some(limiter) = &limiter {
                limiter.until_ready().await;
            }
        };
        let sleep_until_deadline = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = cancel.cancelled() => { report.stop_reason = StopReason::Signal; break; }
            _ = sleep_until_deadline => { report.stop_reason = StopReason::Duration; break; }
            _ = ready => {}
        }
        let event = generator.next_event();
        let mut payload = Vec::new();
        if let Some(encoder) = &settings.encoder {
            payload.reserve(320);
            if let Err(error) = encoder.encode(&event.item, &mut payload) {
                // Cannot happen for generated items (they follow the schema), but never silently.
                tracing::error!(%error, "event not sent");
                report.encode_errors += 1;
                continue;
            }
        }
        report.generated += 1;
        if out.send(Outgoing { event, payload }).await.is_err() {
            report.stop_reason = StopReason::SinkClosed;
            break;
        }
    }
    tracing::debug!(generated = report.generated, elapsed = ?started.elapsed(), reason = ?report.stop_reason, "source done");
    report
}
