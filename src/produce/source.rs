//! The generating half of the producer: draws events from the generator at the configured rate,
//! encodes them and hands them to the sink in small batches over a bounded channel
//! (back-pressure, not buffering; one hand-off per batch, not per event).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::stream::{Record, StreamGenerator, StreamKind};
use crate::config::Config;
use crate::wire::encode::RecordEncoder;

/// Most events in one hand-off to the sink.
const MAX_BATCH: usize = 256;

/// An event ready for a sink.
pub struct Outgoing {
    /// The Kafka key (the entity id's bytes), if any.
    pub key: Option<Vec<u8>>,
    /// The framed Avro value; empty when the sink encodes by itself.
    pub payload: Vec<u8>,
    /// The name of the defect the event carries.
    pub defect: Option<&'static str>,
    /// The event itself, for sinks that encode by themselves (file, stdout); `None` for Kafka,
    /// so the sending side never carries (or frees) the generated strings.
    pub item: Option<Record>,
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
    /// The stream generated: which of the configuration's settings apply.
    pub stream: StreamKind,
    /// The configuration; a reloaded one (SIGHUP) arrives here, and its rate (0 for unlimited)
    /// and generator settings apply from the next event on.
    pub config_updates: watch::Receiver<Arc<Config>>,
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
    mut generator: StreamGenerator,
    mut settings: SourceSettings,
    out: mpsc::Sender<Vec<Outgoing>>,
    cancel: CancellationToken,
) -> SourceReport {
    let started = Instant::now();
    let deadline = settings.duration.map(|d| tokio::time::Instant::now() + d);
    let mut pace = Pace::new(settings.stream.rate(&settings.config_updates.borrow_and_update()));
    let mut report = SourceReport { generated: 0, stop_reason: StopReason::Signal, encode_errors: 0 };
    let mut batch = Vec::with_capacity(pace.batch);
    loop {
        if settings.count.is_some_and(|count| report.generated >= count) {
            report.stop_reason = StopReason::Count;
            break;
        }
        if settings.config_updates.has_changed().unwrap_or(false) {
            let config = settings.config_updates.borrow_and_update().clone();
            pace = apply_reload(&mut generator, settings.stream, &config);
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

/// Applies a reloaded configuration: the generator's settings (kept when invalid, which
/// [`Config::load`] has already ruled out) and the pace of the new rate.
fn apply_reload(generator: &mut StreamGenerator, stream: StreamKind, config: &Config) -> Pace {
    match generator.reconfigure(config) {
        Ok(()) => tracing::info!(stream = stream.name(), "applying the reloaded generator settings"),
        Err(invalid) => tracing::error!(stream = stream.name(), problems = ?invalid.problems, "keeping the current generator settings"),
    }
    let rate = stream.rate(config);
    tracing::info!(rate, "applying new producer rate");
    Pace::new(rate)
}

/// The next event, encoded when there is an encoder.
fn next_outgoing(generator: &mut StreamGenerator, encoder: Option<&RecordEncoder>) -> Option<Outgoing> {
    let (record, defect) = generator.next_record();
    let key = record.key().map(<[u8]>::to_vec);
    let Some(encoder) = encoder else {
        return Some(Outgoing { key, payload: Vec::new(), defect, item: Some(record) });
    };
    let mut payload = Vec::with_capacity(320);
    if let Err(error) = record.encode(encoder, &mut payload) {
        // Cannot happen for generated items (they follow the schema), but never silently.
        tracing::error!(%error, "event not sent");
        return None;
    }
    Some(Outgoing { key, payload, defect, item: None })
}
