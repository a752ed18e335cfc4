//! # medallion
//!
//! Moves business events from Kafka into a Delta Lake medallion (bronze → silver → gold),
//! applying data-quality rules on the way, exactly once.
//!
//! ## Data flow
//!
//! ```text
//!  generate ──► encode ──► produce ──► Kafka topic ──► bronze ══► silver ══► gold
//!  (seeded      (Avro +     (rate-limited,             (decode)   (rules)    (current state,
//!   events)      framing)    bounded in-flight)                               aggregates)
//!                                              ══ a Delta table, positions in its txn actions
//! ```
//! A lake carries one or more streams ([`config::Stream`]: a topic, its Avro record, its tables,
//! rules, current-state key and gold models, from `streams:`); each stage works on one stream at
//! a time, and `medallion run` runs every stream's stages side by side.
//! Stages are joined through their Delta tables: each reads the table upstream incrementally
//! and records, in the same commit as its rows, the position it consumed (`txn`). Inside a
//! stage, tasks are joined by bounded channels (produce: generator → sender; bronze: consumer
//! → writer).
//!
//! ## Layers (a module imports the layers below it and the earlier modules of its own layer;
//! `tests/module_layers.rs` checks there is no cycle)
//!
//! - runtime: [`runtime`] (`medallion run`, the metrics endpoint, signals).
//! - commands that read the lake: [`lake`] (`status`, `report`, `export`: its metrics into PostgreSQL).
//! - stages, in flow order: [`produce`], [`bronze`], [`silver`], [`gold`]; and [`maintain`],
//!   the upkeep each stage runs on its own tables (and `medallion maintain`).
//! - cores: [`generate`], [`rules`], and the wire format [`wire`] (schemas, framing,
//!   registry, encode, decode).
//! - storage and transport: [`table`] (a stage's Delta table: positions in `txn`, appends,
//!   rewrites, maintenance), [`kafka`] (clients, reachability, topics).
//! - ground floor: [`config`] (typed, layered: defaults → file → environment → flags) and
//!   [`telemetry`] (the metrics every layer records).
//!
//! ## Pure cores (no broker, no storage: unit tests and benches call them directly)
//!
//! - [`generate::Generator`]: seeded purchase-order lifecycles with defects;
//!   [`generate::payments::PaymentGenerator`]: seeded payment lifecycles shaped by
//!   `generators.payments` (the second stream); [`generate::retail`]: the pos, ecommerce,
//!   inventory and clickstream generators. All but payments draw on one master data
//!   ([`generate::master`]), which the gold dimensions hold too; `produce` drives any of them
//!   (see [`produce::StreamKind`]).
//! - [`encode::RecordEncoder`]: events → framed Avro datums.
//! - [`decode`]: framed Avro → Arrow columns through per-writer-schema plans, and
//!   [`bronze::BronzeBatchBuilder`]: messages → bronze rows (undecodable ones kept with their error).
//! - [`rules`]: DQX-format rules compiled and evaluated over record batches.
//! - [`silver::refine`]: one batch of bronze rows → silver, quarantine and metrics rows.
//! - [`gold::CurrentSpec`]: the current-state merge (latest event per key wins);
//!   [`gold::Aggregate`]: the analysts' SQL, a stream's gold models ([`gold::model`]: one file per
//!   table); [`gold::QualityDaily`]: additive daily quality.

pub mod config;
pub mod wire;
pub mod generate;
pub mod kafka;
pub mod table;
pub mod produce;
pub mod bronze;
pub mod rules;
pub mod silver;
pub mod gold;
pub mod maintain;
pub mod lake;
pub mod runtime;
pub mod telemetry;

// The wire format's modules by their own names, as the binary, tests and benches use them.
pub use wire::{decode, encode, framing, registry, schema};
