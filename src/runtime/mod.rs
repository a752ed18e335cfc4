//! The process around the stages: `medallion run` (every stage in one process, each on its own
//! thread), the metrics endpoint with its lag tracking, and the signals that stop or reload it.

pub mod pipeline;
pub mod serve;
pub mod signals;
