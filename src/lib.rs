//! # medallion
//!
//! Moves purchase-order events from Kafka into a Delta Lake medallion, exactly once.
//!
//! ## Data flow (modules in flow order)
//!
//! ```text
//!  generate ──► encode ──► produce ──► Kafka topic ──► bronze (decode ──► Delta + txn) ──► silver (rules ──► Delta + txn) ──► gold (current state, aggregates)
//!  (seeded      (Avro +     (rate-limited,
//!   orders)      framing)    bounded in-flight)
//! ```
//!
//! - [`config`]: typed, layered configuration (defaults → file → environment → flags).
//! - [`schema`]: the Avro wire contract embedded from `schemas/`, by version and fingerprint.
//! - [`framing`]: Confluent and single-object frame headers.
//! - [`registry`]: a Confluent-compatible schema-registry client (ids for the Confluent framing).
//! - [`generate`]: the pure, seeded purchase-order generator (lifecycles, defects).
//! - [`encode`]: generated events → framed Avro datums (and JSON for inspection).
//! - [`kafka`]: client construction, broker reachability and topic creation.
//! - [`table`]: a stage's Delta table: create on first use, positions in `txn`, appends.
//! - [`produce`]: the producer stage: generator task → bounded channel → sender task.
//! - [`decode`]: framed Avro → Arrow columns through per-writer-schema plans (the bronze core).
//! - [`bronze`]: the consumer-group worker landing every message in the bronze Delta table,
//!   positioned by the table's `txn` actions.
//! - [`rules`]: the DQX-compatible quality rules engine over RecordBatches (silver's core).
//! - [`silver`]: bronze read incrementally, checked by the rules, into silver, quarantine and
//!   `quality_metrics`, positioned by their `txn` actions.
//! - [`gold`]: silver merged into the current state (latest event per line item) and the
//!   analysts' aggregates, positioned by their `txn` actions.
//! - [`pipeline`]: `medallion run`, the three stages in one process.
//! - [`maintain`]: `medallion maintain`, and each stage's schedule for its own tables:
//!   compaction, VACUUM, checkpoints, expired-log cleanup, keeping what readers still need.
//! - [`status`]: `medallion status`, partitions' positions and lag, tables, last day's quality.
//! - [`report`]: `medallion report`, what the lake holds, read back from its tables.
//! - [`telemetry`]: Prometheus metrics every stage records, served with `--metrics-addr`.
//! - [`shutdown`]: signals → one `CancellationToken`.
//!
//! Stages are async functions joined by bounded channels; their cores (generation, encoding) are
//! pure functions that tests and benches call without a broker.

pub mod config;
pub mod schema;
pub mod framing;
pub mod registry;
pub mod generate;
pub mod encode;
pub mod kafka;
pub mod table;
pub mod produce;
pub mod decode;
pub mod bronze;
pub mod rules;
pub mod silver;
pub mod gold;
pub mod pipeline;
pub mod maintain;
pub mod status;
pub mod report;
pub mod shutdown;
pub mod telemetry;
