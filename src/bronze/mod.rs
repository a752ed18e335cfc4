//! The bronze stage: every Kafka message, raw bytes and coordinates included, into a Delta table,
//! exactly once.

pub mod batch;
pub mod table;
