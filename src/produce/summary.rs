//! Counting what the producer did, the progress line, and the end-of-run summary.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use super::source::StopReason;

/// Delivery outcomes as the sink sees them.
pub struct DeliveryStats {
    pub sent: u64,
    pub failed: u64,
    pub invalid_by_kind: BTreeMap<&'static str, u64>,
    /// Enqueue → acknowledgement, in microseconds.
    latency_micros: Option<Histogram<u64>>,
    pub first_error: Option<String>,
    started: Instant,
    progress: Option<Progress>,
}

struct Progress {
    last_print: Instant,
    sent_at_last_print: u64,
}

impl DeliveryStats {
    /// Stats counting every one of `defect_names` (from 0).
    pub fn new(track_latency: bool, defect_names: &[&'static str]) -> Self {
        let invalid_by_kind = defect_names.iter().map(|name| (*name, 0)).collect();
        Self {
            sent: 0,
            failed: 0,
            invalid_by_kind,
            // 1 µs .. 1 h at 3 significant digits; new_with_bounds only fails for bad bounds.
            latency_micros: track_latency.then(|| Histogram::new_with_bounds(1, 3_600_000_000, 3).ok()).flatten(),
            first_error: None,
            started: Instant::now(),
            progress: std::io::stderr().is_terminal().then(|| Progress { last_print: Instant::now(), sent_at_last_print: 0 }),
        }
    }

    pub fn record_sent(&mut self, defect: Option<&'static str>, latency: Option<Duration>) {
        self.sent += 1;
        if let Some(kind) = defect {
            *self.invalid_by_kind.entry(kind).or_default() += 1;
        }
        if let (Some(histogram), Some(latency)) = (&mut self.latency_micros, latency) {
            histogram.saturating_record(latency.as_micros().max(1) as u64);
        }
    }

    pub fn record_failed(&mut self, error: String) {
        self.failed += 1;
        if self.first_error.is_none() {
            self.first_error = Some(error);
        }
    }

    /// Prints a progress line when standard error is a terminal, at most twice a second.
    pub fn maybe_print_progress(&mut self) {
        let Some(progress) = &mut self.progress else { return };
        let since = progress.last_print.elapsed();
        if since < Duration::from_millis(500) {
            return;
        }
        let rate = (self.sent - progress.sent_at_last_print) as f64 / since.as_secs_f64();
        eprint!("\r{} sent, {:.0}/s, {} failed   ", self.sent, rate, self.failed);
        let _ = std::io::stderr().flush();
        progress.last_print = Instant::now();
        progress.sent_at_last_print = self.sent;
    }

    pub fn finish_progress(&self) {
        if self.progress.is_some() {
            eprintln!();
        }
    }

    fn latency_ms(&self) -> Option<LatencySummary> {
        let histogram = self.latency_micros.as_ref().filter(|h| !h.is_empty())?;
        let ms = |micros: u64| micros as f64 / 1000.0;
        Some(LatencySummary { p50: ms(histogram.value_at_quantile(0.50)), p99: ms(histogram.value_at_quantile(0.99)), max: ms(histogram.max()) })
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Delivery latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct LatencySummary {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// What `medallion produce --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct ProduceSummary {
    #[serde(flatten)]
    pub run: RunDescription,
    pub generated: u64,
    pub sent: u64,
    pub failed: u64,
    pub invalid: u64,
    pub invalid_ratio: f64,
    pub invalid_by_kind: BTreeMap<&'static str, u64>,
    pub elapsed_seconds: f64,
    pub achieved_rate: f64,
    pub delivery_latency_ms: Option<LatencySummary>,
    pub stop_reason: StopReason,
    pub first_error: Option<String>,
}

/// The parts of a summary that describe the run rather than its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct RunDescription {
    /// The stream generated (`purchase-orders`, `payments`).
    pub stream: &'static str,
    pub output: String,
    pub topic: String,
    pub framing: String,
    pub schema_version: u32,
    pub schema_ref: Option<String>,
    /// The seed used (printed so a random run can be repeated).
    pub seed: u64,
}

impl ProduceSummary {
    pub fn new(run: RunDescription, generated: u64, stop_reason: StopReason, stats: &DeliveryStats) -> Self {
        let invalid: u64 = stats.invalid_by_kind.values().sum();
        let elapsed = stats.elapsed().as_secs_f64();
        Self {
            run,
            generated,
            sent: stats.sent,
            failed: stats.failed,
            invalid,
            invalid_ratio: if stats.sent == 0 { 0.0 } else { invalid as f64 / stats.sent as f64 },
            invalid_by_kind: stats.invalid_by_kind.clone(),
            elapsed_seconds: elapsed,
            achieved_rate: if elapsed > 0.0 { stats.sent as f64 / elapsed } else { 0.0 },
            delivery_latency_ms: stats.latency_ms(),
            stop_reason,
            first_error: stats.first_error.clone(),
        }
    }

    /// A human-readable few lines for standard error.
    fn render(&self) -> String {
        let mut text = format!(
            "sent {} {} events to {} ({}, schema v{}) in {:.1}s: {:.0}/s; {} failed; {} invalid ({:.2}%)",
            self.sent,
            self.run.stream,
            self.run.output,
            self.run.framing,
            self.run.schema_version,
            self.elapsed_seconds,
            self.achieved_rate,
            self.failed,
            self.invalid,
            self.invalid_ratio * 100.0
        );
        if let Some(latency) = &self.delivery_latency_ms {
            text.push_str(&format!("\ndelivery latency p50 {:.1} ms, p99 {:.1} ms", latency.p50, latency.p99));
        }
        let kinds: Vec<String> = self.invalid_by_kind.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{k}={n}")).collect();
        if !kinds.is_empty() {
            text.push_str(&format!("\ninvalid by kind: {}", kinds.join(", ")));
        }
        text
    }
}

impl std::fmt::Display for ProduceSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}
