//! Settings of `medallion produce`: what to generate, how fast, and where to send it.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where generated events go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Output {
    /// The configured Kafka topic.
    #[default]
    Kafka,
    /// An Avro object container file at this path (for inspection with any Avro tool).
    File(PathBuf),
    /// JSON lines on standard output.
    Stdout,
}

impl FromStr for Output {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "kafka" => Ok(Self::Kafka),
            "stdout" => Ok(Self::Stdout),
            _ => match text.strip_prefix("file:") {
                Some(path) if !path.is_empty() => Ok(Self::File(PathBuf::from(path))),
                _ => Err(format!("`{text}` is not an output: use kafka, stdout or file:PATH")),
            },
        }
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kafka => f.write_str("kafka"),
            Self::Stdout => f.write_str("stdout"),
            Self::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

impl Serialize for Output {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Output {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Parses an RFC 3339 timestamp or a plain date (midnight UTC).
pub fn parse_start_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|time| time.and_utc())
        .ok_or_else(|| format!("`{text}` is neither an RFC 3339 timestamp nor a YYYY-MM-DD date"))
}

mod start_time_serde {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(time) => serializer.serialize_str(&time.to_rfc3339()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(deserializer)?.map(|text| parse_start_time(&text).map_err(serde::de::Error::custom)).transpose()
    }
}

/// Settings of the purchase-order producer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProducerConfig {
    /// Events per second; 0 sends as fast as the broker accepts. `SIGHUP` re-reads the config
    /// file and applies a changed rate without a restart.
    pub rate: u32,
    /// Stop after this many events. With neither `count` nor `duration`, run until stopped.
    pub count: Option<u64>,
    /// Stop after this long (e.g. `90s`, `10m`).
    #[serde(with = "humantime_serde")]
    pub duration: Option<Duration>,
    /// Share of events (0–1) that carry one injected defect.
    pub invalid_ratio: f64,
    /// Topic a retail stream (`produce --stream pos`) is sent to, instead of its stream's topic
    /// (`--topic` sets it). Purchase orders use `kafka.topic`, payments `generators.payments.topic`.
    pub topic: Option<String>,
    /// Seed of the generator; the same seed gives the same stream, byte for byte (without
    /// `start_time`, its calendar starts at today's midnight UTC). Random when unset, and then
    /// events carry the wall clock.
    pub seed: Option<u64>,
    /// Simulate a calendar from this instant (RFC 3339 or YYYY-MM-DD) instead of stamping events
    /// with the wall clock; with `seed` the stream is reproducible byte for byte on any day.
    #[serde(with = "start_time_serde")]
    pub start_time: Option<DateTime<Utc>>,
    /// Simulated seconds per real second of the calendar started at `start_time`, at `rate`.
    pub time_scale: f64,
    /// `kafka`, `stdout` (JSON lines) or `file:PATH` (Avro object container file).
    pub output: Output,
    /// Most sends awaiting delivery at once; bounds memory when the broker is slow.
    pub max_in_flight: usize,
    /// How long librdkafka waits to fill a batch (`linger.ms`).
    #[serde(with = "humantime_serde")]
    pub linger: Duration,
    /// Largest batch in bytes (`batch.size`); keep under 1,000,000 for Event Hubs.
    pub batch_size_bytes: u32,
    /// Idempotent producer (no duplicates on internal retries).
    pub enable_idempotence: bool,
    /// Times librdkafka resends a batch that failed with a retriable error (timeouts,
    /// throttling, leader moves; `message.send.max.retries`). medallion never sends a message
    /// again itself: a resend of a message whose first copy was stored would duplicate it, after
    /// later events of its key. A message that still fails is counted and reported.
    pub send_retries: u32,
    /// librdkafka's pause before the first resend (`retry.backoff.ms`), doubled per attempt up
    /// to 1 s.
    #[serde(with = "humantime_serde")]
    pub retry_backoff: Duration,
    /// How long librdkafka may take to deliver a message, resends included
    /// (`message.timeout.ms`); after that it counts as failed (it may still have been stored).
    #[serde(with = "humantime_serde")]
    pub delivery_timeout: Duration,
    /// Longest wait for outstanding deliveries when stopping.
    #[serde(with = "humantime_serde")]
    pub flush_timeout: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self {
            rate: 0,
            count: None,
            duration: None,
            invalid_ratio: 0.05,
            topic: None,
            seed: None,
            start_time: None,
            time_scale: 1.0,
            output: Output::Kafka,
            max_in_flight: 50_000,
            linger: Duration::from_millis(5),
            batch_size_bytes: 900_000,
            enable_idempotence: true,
            send_retries: 5,
            retry_backoff: Duration::from_millis(200),
            delivery_timeout: Duration::from_secs(120),
            flush_timeout: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_parses_and_prints() {
        assert_eq!("kafka".parse::<Output>(), Ok(Output::Kafka));
        assert_eq!("file:/tmp/x.avro".parse::<Output>(), Ok(Output::File("/tmp/x.avro".into())));
        assert_eq!(Output::File("a.avro".into()).to_string(), "file:a.avro");
        assert!("file:".parse::<Output>().is_err());
        assert!("s3".parse::<Output>().is_err());
    }

    #[test]
    fn start_time_accepts_dates_and_timestamps() {
        assert_eq!(parse_start_time("2026-01-05").unwrap().to_rfc3339(), "2026-01-05T00:00:00+00:00");
        assert_eq!(parse_start_time("2026-01-05T10:00:00+02:00").unwrap().to_rfc3339(), "2026-01-05T08:00:00+00:00");
        assert!(parse_start_time("yesterday").is_err());
    }
}
