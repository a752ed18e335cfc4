//! Aggregates whose groups span many entities (month × product, quarter × vendor), kept up to
//! date by difference: what the entities a refresh touched contribute now is added, what they
//! contributed before is subtracted. Exact because each measure is a sum over entities (a count,
//! a sum, or a distinct count of the entity column, which counts one per entity) and the
//! refresh sees every row of a touched entity, before and after.
//!
//! A maximum cannot be subtracted: when the rows that held a group's maximum changed and nothing
//! restores it, [`combine`] answers `None` and the aggregate is recomputed whole.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::{SortColumn, interleave, lexsort_to_indices, take_record_batch};
use arrow::datatypes::{DataType, Decimal128Type, Int64Type};
use arrow::error::ArrowError;
use arrow::row::{OwnedRow, RowConverter, SortField};

/// How an additive aggregate's columns combine.
#[derive(Debug, Clone, Copy)]
pub struct Additive {
    /// The grouping columns.
    pub groups: &'static [&'static str],
    /// The measure that is 0 exactly when the group has no rows left (the group is dropped).
    pub count: &'static str,
    /// Text measures that are a maximum; every other column is summed.
    pub max: &'static [&'static str],
}

/// One measure column, per group.
enum Measure {
    Sum(Vec<i128>),
    /// The maximum in the existing table, among the rows before, among the rows after.
    Max(Vec<[Option<String>; 3]>),
}

/// `existing` (the table's rows) + `after` − `before` (the aggregate over the touched entities'
/// rows after and before the refresh), sorted by the groups; `None` when a maximum may have
/// dropped.
pub fn combine(spec: &Additive, existing: &RecordBatch, before: &RecordBatch, after: &RecordBatch) -> Result<Option<RecordBatch>, ArrowError> {
    let schema = existing.schema();
    let groups: Vec<usize> = spec.groups.iter().map(|name| schema.index_of(name)).collect::<Result<_, _>>()?;
    let converter = RowConverter::new(groups.iter().map(|&i| SortField::new(schema.field(i).data_type().clone())).collect())?;
    let inputs = [existing, before, after];
    let mut measures: Vec<(usize, Measure)> = (0..schema.fields().len())
        .filter(|i| !groups.contains(i))
        .map(|i| (i, if spec.max.contains(&schema.field(i).name().as_str()) { Measure::Max(Vec::new()) } else { Measure::Sum(Vec::new()) }))
        .collect();
    let (mut slots, mut origin): (HashMap<OwnedRow, usize>, Vec<(usize, usize)>) = (HashMap::new(), Vec::new());
    for (input, batch) in inputs.iter().enumerate() {
        let keys = converter.convert_columns(&groups.iter().map(|&i| batch.column(i).clone()).collect::<Vec<_>>())?;
        let sign = if input == 1 { -1 } else { 1 };
        for row in 0..batch.num_rows() {
            let slot = *slots.entry(keys.row(row).owned()).or_insert_with(|| {
                origin.push((input, row));
                for (_, measure) in &mut measures {
                    match measure {
                        Measure::Sum(values) => values.push(0),
                        Measure::Max(values) => values.push(Default::default()),
                    }
                }
                origin.len() - 1
            });
            for (column, measure) in &mut measures {
                let array = batch.column(*column);
                match measure {
                    Measure::Sum(values) => values[slot] += sign * number(array.as_ref(), row)?,
                    Measure::Max(values) => {
                        values[slot][input] = array.as_string_opt::<i32>().and_then(|t| t.is_valid(row).then(|| t.value(row).to_owned()))
                    }
                }
            }
        }
    }
    let count_column = schema.index_of(spec.count)?;
    let counts = match measures.iter().find(|(c, _)| *c == count_column) {
        Some((_, Measure::Sum(values))) => values.clone(),
        _ => return Err(ArrowError::SchemaError(format!("{} is not a summed measure", spec.count))),
    };
    let kept: Vec<usize> = (0..origin.len()).filter(|&slot| counts[slot] != 0).collect();
    let mut columns: Vec<Option<ArrayRef>> = vec![None; schema.fields().len()];
    for &g in &groups {
        let sources: Vec<&dyn Array> = inputs.iter().map(|batch| batch.column(g).as_ref()).collect();
        let indices: Vec<(usize, usize)> = kept.iter().map(|&slot| origin[slot]).collect();
        columns[g] = Some(interleave(&sources, &indices)?);
    }
    for (column, measure) in &measures {
        let array: ArrayRef = match measure {
            Measure::Sum(values) => summed(schema.field(*column).data_type(), kept.iter().map(|&slot| values[slot]))?,
            Measure::Max(values) => {
                let mut maxima = Vec::with_capacity(kept.len());
                for &slot in &kept {
                    let [existing, before, after] = &values[slot];
                    if before.is_some() && before >= existing && after < before {
                        return Ok(None);
                    }
                    maxima.push(existing.clone().max(after.clone()));
                }
                Arc::new(StringArray::from(maxima))
            }
        };
        columns[*column] = Some(array);
    }
    let columns = columns.into_iter().map(|c| c.ok_or_else(|| ArrowError::SchemaError("a column is neither group nor measure".into())));
    let combined = RecordBatch::try_new(schema.clone(), columns.collect::<Result<_, _>>()?)?;
    let sort: Vec<SortColumn> = groups.iter().map(|&g| SortColumn { values: combined.column(g).clone(), options: None }).collect();
    if combined.num_rows() == 0 {
        return Ok(Some(combined));
    }
    Ok(Some(take_record_batch(&combined, &lexsort_to_indices(&sort, None)?)?))
}

fn number(array: &dyn Array, row: usize) -> Result<i128, ArrowError> {
    if array.is_null(row) {
        return Ok(0);
    }
    match array.data_type() {
        DataType::Int64 => Ok(i128::from(array.as_primitive::<Int64Type>().value(row))),
        DataType::Decimal128(..) => Ok(array.as_primitive::<Decimal128Type>().value(row)),
        other => Err(ArrowError::NotYetImplemented(format!("an additive measure of type {other}"))),
    }
}

fn summed(data_type: &DataType, values: impl Iterator<Item = i128>) -> Result<ArrayRef, ArrowError> {
    match data_type {
        DataType::Int64 => {
            let values: Vec<i64> = values
                .map(|v| i64::try_from(v).map_err(|_| ArrowError::ComputeError(format!("sum {v} overflows Int64"))))
                .collect::<Result<_, _>>()?;
            Ok(Arc::new(Int64Array::from(values)))
        }
        DataType::Decimal128(precision, scale) => {
            Ok(Arc::new(Decimal128Array::from_iter_values(values).with_precision_and_scale(*precision, *scale)?))
        }
        other => Err(ArrowError::NotYetImplemented(format!("an additive measure of type {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{Field, Schema};

    const SPEC: Additive = Additive { groups: &["product"], count: "orders", max: &["name"] };

    fn batch(rows: &[(&str, &str, i64, i128)]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("product", DataType::Utf8, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("orders", DataType::Int64, false),
            Field::new("revenue", DataType::Decimal128(22, 2), false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
                Arc::new(Int64Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
                Arc::new(Decimal128Array::from(rows.iter().map(|r| r.3).collect::<Vec<_>>()).with_precision_and_scale(22, 2).unwrap()),
            ],
        )
        .unwrap()
    }

    #[test]
    fn adds_the_difference_and_drops_emptied_groups() {
        let existing = batch(&[("P1", "mouse", 3, 3000), ("P2", "desk", 1, 50_000)]);
        // One order of P2 moved to P3; P1 gained an order.
        let before = batch(&[("P2", "desk", 1, 50_000)]);
        let after = batch(&[("P1", "mouse", 1, 1000), ("P3", "lamp", 1, 2500)]);
        let combined = combine(&SPEC, &existing, &before, &after).unwrap().unwrap();
        assert_eq!(combined, batch(&[("P1", "mouse", 4, 4000), ("P3", "lamp", 1, 2500)]));
    }

    #[test]
    fn a_maximum_that_may_have_dropped_asks_for_a_recomputation() {
        let existing = batch(&[("P1", "mouse v2", 2, 2000)]);
        let before = batch(&[("P1", "mouse v2", 1, 1000)]);
        let after = batch(&[("P1", "mouse", 1, 1000)]);
        assert!(combine(&SPEC, &existing, &before, &after).unwrap().is_none());
        // The same name before and after: the maximum stands.
        let after = batch(&[("P1", "mouse v2", 1, 1500)]);
        assert_eq!(combine(&SPEC, &existing, &before, &after).unwrap().unwrap(), batch(&[("P1", "mouse v2", 2, 2500)]));
    }
}
