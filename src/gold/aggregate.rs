//! The analysts' aggregates, as SQL over the current state (one row per entity, its latest
//! error-free event), or over other gold tables of the stream, evaluated by DataFusion in memory.
//! The queries are the stream's gold models (see [`super::model`]).
//!
//! Written as SQL so that an analyst can read the definitions and recompute them elsewhere
//! (DuckDB, polars, Spark) without reading Rust. Every query orders its output, so the same
//! current state always gives byte-identical gold files.

use arrow::array::RecordBatch;
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::SchemaRef;
use datafusion::prelude::SessionContext;

use super::GoldError;
use super::additive::Additive;

/// The name the current state is registered under in the queries.
pub const CURRENT_STATE: &str = "current_state";

/// One gold table defined by a query over [`CURRENT_STATE`].
#[derive(Debug, Clone)]
pub struct Aggregate {
    /// The table's name in reports and errors (its model's file name).
    pub name: String,
    pub sql: String,
    /// How a refresh brings it up to date without reading the whole current state.
    pub upkeep: Upkeep,
}

/// How an aggregate follows the current state.
#[derive(Debug, Clone)]
pub enum Upkeep {
    /// One row per entity (the current state's first key column, e.g. `order_id`), which is its
    /// first column: the rows of the entities a refresh touched are recomputed from all their
    /// line items; the table is kept in sorted ranges of that column.
    PerEntity,
    /// Groups spanning entities: see [`Additive`].
    Additive(Additive),
    /// A small table computed whole from other gold tables of the stream (named in `from`, each
    /// registered under its name), after they are refreshed: a ranking over a sliding window of
    /// an additive daily table, which no difference of entities can keep up to date.
    Derived { from: Vec<String> },
}

impl Aggregate {
    /// Evaluates the query over `current`: one batch (possibly empty) and its schema.
    pub async fn evaluate(&self, current: &RecordBatch) -> Result<RecordBatch, GoldError> {
        self.evaluate_over(&[(CURRENT_STATE, current)]).await
    }

    /// Evaluates the query over `tables` (name, rows) and the dimensions.
    pub async fn evaluate_over(&self, tables: &[(&str, &RecordBatch)]) -> Result<RecordBatch, GoldError> {
        let error = |e: datafusion::error::DataFusionError| GoldError::Aggregate { table: self.name.clone(), message: e.to_string() };
        let context = SessionContext::new();
        for (name, rows) in tables {
            context.register_batch(*name, (*rows).clone()).map_err(error)?;
        }
        for dimension in super::dimensions::shared()? {
            context.register_batch(dimension.name, dimension.rows.clone()).map_err(error)?;
        }
        let frame = context.sql(&self.sql).await.map_err(error)?;
        let schema: SchemaRef = frame.schema().inner().clone();
        let batches = frame.collect().await.map_err(error)?;
        // The executed plan may widen a type the logical plan declared (decimal sums): the table
        // keeps the declared schema.
        let arrow_error = |e: arrow::error::ArrowError| GoldError::Aggregate { table: self.name.clone(), message: e.to_string() };
        let conformed = batches
            .iter()
            .map(|batch| {
                let columns = schema
                    .fields()
                    .iter()
                    .zip(batch.columns())
                    .map(|(field, column)| cast(column, field.data_type()))
                    .collect::<Result<Vec<_>, _>>()?;
                RecordBatch::try_new(schema.clone(), columns)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(arrow_error)?;
        concat_batches(&schema, &conformed).map_err(arrow_error)
    }
}
