//! Batches whose rows all belong to one partition go to deltalake's writer as that partition:
//! its general path sorts every batch by the partition columns and copies every column into the
//! sorted order (arrow's `take`), a full copy of a bronze batch, payloads included, for tables
//! whose batches almost always hold one ingestion date.

use arrow::array::{Array, Scalar};
use arrow::compute::kernels::cmp::eq;
use arrow::record_batch::RecordBatch;
use deltalake::kernel::scalars::ScalarExt;
use indexmap::IndexMap;

/// The partition values of `batch` when every row has the same ones and none is null; `None`
/// when the table is not partitioned, the rows differ, or a column's type cannot be compared.
pub fn uniform_partition_values<S: ScalarExt>(batch: &RecordBatch, columns: &[String]) -> Option<IndexMap<String, S>> {
    if columns.is_empty() || batch.num_rows() == 0 {
        return None;
    }
    let mut values = IndexMap::with_capacity(columns.len());
    for name in columns {
        let column = batch.column_by_name(name)?;
        if column.null_count() > 0 {
            return None;
        }
        let same = eq(column, &Scalar::new(column.slice(0, 1))).ok()?;
        if same.true_count() != column.len() {
            return None;
        }
        values.insert(name.clone(), S::from_array(column.as_ref(), 0)?);
    }
    Some(values)
}
