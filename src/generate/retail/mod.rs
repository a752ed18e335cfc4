//! The retail streams' generators, on the master data ([`super::master`]): each a seeded state
//! machine whose events are flat records (one per sale line, movement or click).
//!
//! Their records derive `Serialize` once for both outputs: the Avro datum writer is not human
//! readable, so money goes out as `decimal` bytes, times as `timestamp-micros` and dates as
//! `date` numbers; JSON (`--output stdout`) is, so they read as "12.34", RFC 3339 and
//! YYYY-MM-DD.

pub mod clickstream;
mod clock;
pub mod ecommerce;
pub mod inventory;
pub mod pos;

use serde::{Serialize, Serializer};

pub use clock::RetailClock;

use super::Cents;

/// Money in a retail record (Avro `decimal(12, 2)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Money(pub Cents);

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.0.to_string())
        } else {
            serializer.serialize_bytes(&self.0.to_avro_bytes())
        }
    }
}

/// An instant in a retail record: microseconds since the epoch (Avro `timestamp-micros`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Micros(pub i64);

impl Serialize for Micros {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match chrono::DateTime::from_timestamp_micros(self.0).filter(|_| serializer.is_human_readable()) {
            Some(time) => serializer.serialize_str(&time.to_rfc3339()),
            None => serializer.serialize_i64(self.0),
        }
    }
}

/// A calendar day in a retail record: days since the epoch (Avro `date`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Days(pub i32);

impl Days {
    /// The UTC day of `micros`.
    pub fn of(micros: i64) -> Self {
        Self(chrono::DateTime::from_timestamp_micros(micros).map_or(0, |t| t.date_naive().to_epoch_days()))
    }
}

impl Serialize for Days {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match chrono::NaiveDate::from_epoch_days(self.0).filter(|_| serializer.is_human_readable()) {
            Some(date) => serializer.serialize_str(&date.to_string()),
            None => serializer.serialize_i32(self.0),
        }
    }
}

/// With chance `ratio`, one of `kinds` (each as likely) for the next event to carry.
fn pick_defect<D: Copy>(rng: &mut impl rand::Rng, ratio: f64, kinds: &[D]) -> Option<D> {
    (ratio > 0.0 && rng.random_bool(ratio)).then(|| kinds[rng.random_range(0..kinds.len())])
}

/// A record of a retail stream, as the wire encoders and the producer see it.
pub trait RetailRecord: Serialize {
    /// Its event id (for errors).
    fn event_id(&self) -> &str;
    /// Its Kafka key: the entity's id, none when it is null.
    fn key(&self) -> Option<&[u8]>;
}
