//! The wire format: the Avro contract in `schemas/`, the frames around a datum (Confluent,
//! single-object), the schema registry that numbers writer schemas, and the two directions over
//! them: generated events → framed datums (`encode`), framed datums → Arrow columns (`decode`,
//! bronze's core).

pub mod decode;
pub mod encode;
pub mod framing;
pub mod registry;
pub mod schema;
