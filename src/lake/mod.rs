//! The commands that read the lake: `medallion status` (positions, lag, tables, the last day's
//! quality) and `medallion report` (what the lake holds). They read the stages' tables and
//! Kafka's offsets, and write nothing to it. `status --check` judges the status (see [`health`]);
//! `export` copies its metrics into PostgreSQL.

pub mod export;
pub mod health;
pub mod report;
pub mod status;
