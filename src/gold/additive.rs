//! Aggregates whose groups span many entities (month × product, quarter × vendor), kept up to
//! date by difference: what the entities a refresh touched contribute now is added, what they
//! contributed before is subtracted. Exact because each measure is a sum over entities (a count,
//! a sum, or a distinct count of the entity column, which counts one per entity) and the
//! refresh sees every row of a touched entity, before and after.
//!
//! A maximum cannot be subtracted: when the rows that held a group's maximum changed and nothing
//! restores it, [`combine`] answers `None` and the aggregate is recomputed whole. A ratio of two
//! measures (a decline rate) is not summed but computed again from the combined measures.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::{SortColumn, interleave, lexsort_to_indices, take_record_batch};
use arrow::datatypes::{DataType, Decimal128Type, Int64Type};
use arrow::error::ArrowError;
use arrow::row::{OwnedRow, RowConverter, SortField};

/// How an additive aggregate's columns combine.
#[derive(Debug, Clone)]
pub struct Additive {
    /// The grouping columns.
    pub groups: Vec<String>,
    /// The measure that is 0 exactly when the group has no rows left (the group is dropped).
    pub count: String,
    /// Text measures that are a maximum; every other column but the ratios is summed.
    pub max: Vec<String>,
    /// `Float64` columns that are one summed measure over another (null when it is 0).
    pub ratios: Vec<Ratio>,
}

/// `column = numerator / denominator`, of summed measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ratio {
    pub column: String,
    pub numerator: String,
    pub denominator: String,
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
    let ratios: Vec<usize> = spec.ratios.iter().map(|ratio| schema.index_of(&ratio.column)).collect::<Result<_, _>>()?;
    let converter = RowConverter::new(groups.iter().map(|&i| SortField::new(schema.field(i).data_type().clone())).collect())?;
    let inputs = [existing, before, after];
    let mut measures: Vec<(usize, Measure)> = (0..schema.fields().len())
        .filter(|i| !groups.contains(i) && !ratios.contains(i))
        .map(|i| (i, if spec.max.contains(schema.field(i).name()) { Measure::Max(Vec::new()) } else { Measure::Sum(Vec::new()) }))
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
    let sums = |name: &str| -> Result<&Vec<i128>, ArrowError> {
        let column = schema.index_of(name)?;
        match measures.iter().find(|(c, _)| *c == column) {
            Some((_, Measure::Sum(values))) => Ok(values),
            _ => Err(ArrowError::SchemaError(format!("{name} is not a summed measure"))),
        }
    };
    let counts = sums(&spec.count)?.clone();
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
    for (ratio, &column) in spec.ratios.iter().zip(&ratios) {
        let (numerators, denominators) = (sums(&ratio.numerator)?, sums(&ratio.denominator)?);
        let values = kept.iter().map(|&slot| (denominators[slot] != 0).then(|| numerators[slot] as f64 / denominators[slot] as f64));
        columns[column] = Some(Arc::new(Float64Array::from_iter(values)));
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

    fn spec() -> Additive {
        Additive { groups: vec!["product".into()], count: "orders".into(), max: vec!["name".into()], ratios: Vec::new() }
    }

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
        let combined = combine(&spec(), &existing, &before, &after).unwrap().unwrap();
        assert_eq!(combined, batch(&[("P1", "mouse", 4, 4000), ("P3", "lamp", 1, 2500)]));
    }

    #[test]
    fn a_maximum_that_may_have_dropped_asks_for_a_recomputation() {
        let existing = batch(&[("P1", "mouse v2", 2, 2000)]);
        let before = batch(&[("P1", "mouse v2", 1, 1000)]);
        let after = batch(&[("P1", "mouse", 1, 1000)]);
        assert!(combine(&spec(), &existing, &before, &after).unwrap().is_none());
        // The same name before and after: the maximum stands.
        let after = batch(&[("P1", "mouse v2", 1, 1500)]);
        assert_eq!(combine(&spec(), &existing, &before, &after).unwrap().unwrap(), batch(&[("P1", "mouse v2", 2, 2500)]));
    }

    #[test]
    fn ratios_are_computed_from_the_combined_measures() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("merchant", DataType::Utf8, true),
            Field::new("payments", DataType::Int64, false),
            Field::new("declined", DataType::Int64, false),
            Field::new("decline_rate", DataType::Float64, true),
        ]));
        let rows = |rows: &[(&str, i64, i64, Option<f64>)]| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                    Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
                    Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
                    Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.3))),
                ],
            )
            .unwrap()
        };
        let ratio = Ratio { column: "decline_rate".into(), numerator: "declined".into(), denominator: "payments".into() };
        let spec = Additive { groups: vec!["merchant".into()], count: "payments".into(), max: Vec::new(), ratios: vec![ratio] };
        let existing = rows(&[("M1", 4, 1, Some(0.25))]);
        // One payment of M1 was declined since; M2 has its first payment.
        let before = rows(&[("M1", 1, 0, Some(0.0))]);
        let after = rows(&[("M1", 1, 1, Some(1.0)), ("M2", 1, 0, Some(0.0))]);
        let combined = combine(&spec, &existing, &before, &after).unwrap().unwrap();
        assert_eq!(combined, rows(&[("M1", 4, 2, Some(0.5)), ("M2", 1, 0, Some(0.0))]));
    }
}
