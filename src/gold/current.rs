//! The current-state core, pure: the rows of the current table merged with new silver rows,
//! one row per key, the latest event winning.
//!
//! This is the MERGE of the current table (`WHEN MATCHED AND newer THEN UPDATE, WHEN NOT MATCHED
//! THEN INSERT`) done on Arrow arrays: the existing rows and the new ones are sorted by key and
//! recency, and the last row of each key wins. Because the result does not depend on how the
//! new rows were batched, a crash and a replay give the same table as one clean run.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, UInt32Array};
use arrow::compute::{
    SortColumn, SortOptions, and, cast, concat_batches, filter_record_batch, is_not_null, is_null, lexsort_to_indices, take_record_batch,
};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::row::{RowConverter, SortField};

use crate::bronze::column as bronze;
use crate::rules::column as results;

/// The earliest event time seen for the key (the winning row carries only the latest).
pub const FIRST_EVENT_TIME: &str = "first_event_time";
/// How many error-free events of the key silver has delivered.
pub const EVENTS: &str = "events";
/// Result columns of silver kept in the current state (the others are per-run details).
const KEPT_RESULTS: [&str; 2] = [results::FLAG_CHECK, results::QUALITY_SCORE];
/// Silver's result columns, which the current state does not carry (except [`KEPT_RESULTS`]).
const RESULTS: [&str; 11] = results::ALL;

/// Which rows are the same thing, and which of them is the latest.
#[derive(Debug, Clone)]
pub struct CurrentSpec {
    /// Columns that identify one entity (a line item of an order).
    pub key: Vec<String>,
    /// Columns that order its events, most significant first: the event time, then the Kafka
    /// position to break ties (one key always lands in one partition).
    pub recency: Vec<String>,
}

impl CurrentSpec {
    /// Purchase-order line items: latest `event_time`, ties broken by Kafka position.
    pub fn purchase_orders() -> Self {
        let names = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
        Self { key: names(&["order_id", "line_number"]), recency: names(&["event_time", bronze::PARTITION, bronze::OFFSET]) }
    }

    /// A stream's current-state key and recency, the Kafka position appended to break ties.
    pub fn of(current: &crate::config::CurrentConfig) -> Self {
        let mut recency = current.recency.clone();
        for tie_break in [bronze::PARTITION, bronze::OFFSET] {
            if !recency.iter().any(|c| c == tie_break) {
                recency.push(tie_break.to_owned());
            }
        }
        Self { key: current.key.clone(), recency }
    }

    fn time_column(&self) -> &str {
        self.recency.first().map_or("event_time", String::as_str)
    }

    /// The current table's schema: silver's business and lineage columns, the verdict, and
    /// [`FIRST_EVENT_TIME`] and [`EVENTS`].
    pub fn schema(&self, silver: &Schema) -> Result<SchemaRef, ArrowError> {
        let time = silver.field_with_name(self.time_column())?.clone();
        for name in self.key.iter().chain(&self.recency) {
            silver.field_with_name(name)?;
        }
        let mut fields: Vec<Field> = silver
            .fields()
            .iter()
            .filter(|f| !RESULTS.contains(&f.name().as_str()) || KEPT_RESULTS.contains(&f.name().as_str()))
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new(FIRST_EVENT_TIME, time.data_type().clone(), true));
        fields.push(Field::new(EVENTS, DataType::Int64, false));
        Ok(Arc::new(Schema::new(fields)))
    }

    /// The silver rows that may enter the current state: no errors, a complete key.
    pub fn eligible(&self, silver_rows: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        let mut mask = match silver_rows.column_by_name(results::ERRORS) {
            Some(errors) => is_null(errors)?,
            None => BooleanArray::from(vec![true; silver_rows.num_rows()]),
        };
        for name in &self.key {
            mask = and(&mask, &is_not_null(column(silver_rows, name)?)?)?;
        }
        filter_record_batch(silver_rows, &mask)
    }

    /// `current` (rows of the current table) merged with the eligible rows of `silver_rows`.
    pub fn merge(&self, schema: &SchemaRef, current: &RecordBatch, silver_rows: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        self.merge_incoming(schema, current, &self.incoming(schema, silver_rows)?)
    }

    /// The eligible rows of `silver_rows` in the current schema, each its own first and only event.
    pub fn incoming(&self, schema: &SchemaRef, silver_rows: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        self.as_current(schema, &self.eligible(silver_rows)?)
    }

    /// `current` merged with `incoming` (from [`Self::incoming`]): one row per key, sorted by key.
    pub fn merge_incoming(&self, schema: &SchemaRef, current: &RecordBatch, incoming: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        let all = concat_batches(schema, [current, incoming])?;
        if all.num_rows() == 0 {
            return Ok(all);
        }
        let sort_columns: Vec<SortColumn> = self
            .key
            .iter()
            .chain(&self.recency)
            .map(|name| Ok(SortColumn { values: column(&all, name)?.clone(), options: Some(SortOptions { descending: false, nulls_first: true }) }))
            .collect::<Result<_, ArrowError>>()?;
        let order = lexsort_to_indices(&sort_columns, None)?;
        let sorted = take_record_batch(&all, &order)?;
        self.latest_per_key(schema, &sorted)
    }

    /// The column that identifies an entity (an order): the first key column.
    pub fn entity(&self) -> &str {
        self.key.first().map_or("order_id", String::as_str)
    }

    /// New silver rows in the current schema, each its own first and only event.
    fn as_current(&self, schema: &SchemaRef, rows: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        let columns = schema
            .fields()
            .iter()
            .map(|field| match field.name().as_str() {
                FIRST_EVENT_TIME => Ok(column(rows, self.time_column())?.clone()),
                EVENTS => Ok(Arc::new(Int64Array::from(vec![1; rows.num_rows()])) as ArrayRef),
                name => column(rows, name).cloned(),
            })
            .collect::<Result<Vec<_>, _>>()?;
        RecordBatch::try_new(schema.clone(), columns)
    }

    /// For rows sorted by key and recency: the last row of each key, with the earliest first
    /// event time and the sum of events of its group.
    fn latest_per_key(&self, schema: &SchemaRef, sorted: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        let key_columns: Vec<ArrayRef> = self.key.iter().map(|name| column(sorted, name).cloned()).collect::<Result<_, _>>()?;
        let converter = RowConverter::new(key_columns.iter().map(|c| SortField::new(c.data_type().clone())).collect())?;
        let keys = converter.convert_columns(&key_columns)?;
        let first_times = cast(column(sorted, FIRST_EVENT_TIME)?, &DataType::Int64)?;
        let first_times = first_times.as_primitive::<Int64Type>();
        let events = column(sorted, EVENTS)?.as_primitive::<Int64Type>().clone();
        let (mut winners, mut group_first, mut group_events) = (Vec::new(), Vec::new(), Vec::new());
        let mut start = 0;
        for row in 1..=sorted.num_rows() {
            if row < sorted.num_rows() && keys.row(row) == keys.row(start) {
                continue;
            }
            winners.push(row as u32 - 1);
            group_first.push((start..row).filter(|&i| first_times.is_valid(i)).map(|i| first_times.value(i)).min());
            group_events.push((start..row).map(|i| events.value(i)).sum::<i64>());
            start = row;
        }
        let latest = take_record_batch(sorted, &UInt32Array::from(winners))?;
        let time_type = schema.field_with_name(FIRST_EVENT_TIME)?.data_type().clone();
        let mut columns = latest.columns().to_vec();
        columns[schema.index_of(FIRST_EVENT_TIME)?] = cast(&Int64Array::from(group_first), &time_type)?;
        columns[schema.index_of(EVENTS)?] = Arc::new(Int64Array::from(group_events));
        RecordBatch::try_new(schema.clone(), columns)
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, ArrowError> {
    batch.column_by_name(name).ok_or_else(|| ArrowError::SchemaError(format!("column {name} is missing")))
}
