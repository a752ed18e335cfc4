//! A gold table laid out in sorted ranges of one key column (the current state by `order_id`,
//! `order_status` by `order_id`): a refresh reads and rewrites only the files whose range holds
//! a key it touches, so its cost follows the keys it touches, not the age of the table.
//!
//! Invariant: every key value lives in one file (a rewrite replaces all the files that may hold
//! its keys). Keys above every range (new orders) extend the file holding the highest range while
//! it has room, so new keys do not leave a trail of small files.

use std::collections::HashSet;

use arrow::array::{Array, BooleanArray, RecordBatch, make_comparator};
use arrow::compute::{SortOptions, concat_batches, filter_record_batch, sort_to_indices, take_record_batch};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;

use crate::table::{CommitInfo, DataFile, KeyValue, StageTable, TableError};

/// How a table is kept in sorted, disjoint ranges of `key`: at most `file_rows` rows per file.
#[derive(Debug, Clone)]
pub(super) struct Ranges {
    pub key: String,
    pub file_rows: usize,
}

impl Ranges {
    /// The live files of `table` that may hold one of `keys` (sorted, without duplicates), and
    /// the file of the highest range when keys lie above it and it has room.
    pub fn files_for(&self, table: &StageTable, keys: &[KeyValue]) -> Result<Vec<DataFile>, TableError> {
        let files = table.keyed_files(&self.key)?;
        let top = files.iter().filter_map(|f| f.range.as_ref().map(|(_, max)| (max, f))).max_by(|a, b| a.0.cmp(b.0)).map(|(_, f)| f);
        let mut chosen: Vec<DataFile> = Vec::new();
        for keyed in &files {
            let holds = match &keyed.range {
                None => true,
                Some((min, max)) => keys.get(keys.partition_point(|k| k < min)).is_some_and(|k| k <= max),
            };
            let extended = top.is_some_and(|top| std::ptr::eq(top, keyed))
                && keyed.rows.is_some_and(|rows| rows < self.file_rows)
                && keyed.range.as_ref().zip(keys.last()).is_some_and(|((_, max), last)| last > max);
            if holds || extended {
                chosen.push(keyed.file.clone());
            }
        }
        Ok(chosen)
    }

    /// Replaces `removed` by `rows` (sorted by the key), cut into files of at most `file_rows`
    /// rows that never split one key value, and records `positions`.
    pub async fn rewrite(
        &self,
        table: &mut StageTable,
        removed: &[DataFile],
        rows: &RecordBatch,
        positions: &[(String, i64)],
    ) -> Result<CommitInfo, TableError> {
        let schema_error = |detail: String| TableError::Schema { location: table.location().to_owned(), detail };
        let key = rows.column_by_name(&self.key).ok_or_else(|| schema_error(format!("key column {} is missing", self.key)))?;
        let files: Vec<RecordBatch> = chunk_bounds(key.as_ref(), self.file_rows)
            .map_err(|e| schema_error(e.to_string()))?
            .into_iter()
            .map(|(offset, length)| rows.slice(offset, length))
            .collect();
        table.rewrite(removed, &files, positions).await
    }
}

/// (offset, length) of consecutive chunks of `key` (sorted) of about `file_rows` rows: a chunk
/// ends at the first change of key after `file_rows` rows.
fn chunk_bounds(key: &dyn Array, file_rows: usize) -> Result<Vec<(usize, usize)>, ArrowError> {
    let same = make_comparator(key, key, SortOptions::default())?;
    let (mut chunks, mut start) = (Vec::new(), 0);
    while start < key.len() {
        let mut end = (start + file_rows.max(1)).min(key.len());
        while end < key.len() && same(end - 1, end).is_eq() {
            end += 1;
        }
        chunks.push((start, end - start));
        start = end;
    }
    Ok(chunks)
}

/// The values of a key column row by row, or why its type cannot be kept in ranges.
fn key_values(column: &dyn Array) -> Result<Vec<Option<KeyValue>>, ArrowError> {
    KeyValue::column(column).ok_or_else(|| ArrowError::NotYetImplemented(format!("key ranges over a {} column", column.data_type())))
}

/// The distinct non-null values of `column`, sorted.
pub(super) fn distinct_keys(column: &dyn Array) -> Result<Vec<KeyValue>, ArrowError> {
    let mut keys: Vec<KeyValue> = key_values(column)?.into_iter().flatten().collect();
    keys.sort_unstable();
    keys.dedup();
    Ok(keys)
}

/// The rows of `batch` whose `column` value is (with `wanted`) or is not (without) in `keys`.
pub(super) fn rows_with_keys(batch: &RecordBatch, column: &str, keys: &[KeyValue], wanted: bool) -> Result<RecordBatch, ArrowError> {
    let values = batch.column_by_name(column).ok_or_else(|| ArrowError::SchemaError(format!("column {column} is missing")))?;
    let set: HashSet<&KeyValue> = keys.iter().collect();
    let mask: BooleanArray = key_values(values.as_ref())?.iter().map(|v| Some(v.as_ref().is_some_and(|v| set.contains(v) == wanted))).collect();
    filter_record_batch(batch, &mask)
}

/// `parts` concatenated and sorted by `column`.
pub(super) fn sorted_by(schema: &SchemaRef, parts: &[RecordBatch], column: &str) -> Result<RecordBatch, ArrowError> {
    let all = concat_batches(schema, parts)?;
    let key = all.column_by_name(column).ok_or_else(|| ArrowError::SchemaError(format!("column {column} is missing")))?;
    let order = sort_to_indices(key, Some(SortOptions { descending: false, nulls_first: true }), None)?;
    take_record_batch(&all, &order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;

    #[test]
    fn chunks_never_split_a_key() {
        let key = StringArray::from(vec!["a", "a", "b", "b", "b", "c", "d"]);
        assert_eq!(chunk_bounds(&key, 2).unwrap(), vec![(0, 2), (2, 3), (5, 2)]);
        assert_eq!(chunk_bounds(&key, 100).unwrap(), vec![(0, 7)]);
        assert!(chunk_bounds(&StringArray::from(Vec::<&str>::new()), 2).unwrap().is_empty());
    }
}
