//! Arrow columns as PostgreSQL columns: the column types of a `CREATE TABLE`, and each row's
//! values as query parameters.

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType};
use tokio_postgres::types::ToSql;

/// One query parameter.
pub type Cell = Box<dyn ToSql + Sync + Send>;

/// The PostgreSQL type of an Arrow column, `None` for the types not exported (structs, maps,
/// decimals: the per-rule lists of `quality_daily` and its exact score sum).
pub fn pg_type(data_type: &DataType) -> Option<&'static str> {
    Some(match data_type {
        DataType::Utf8 => "text",
        DataType::Int64 => "bigint",
        DataType::Int32 => "integer",
        DataType::Float64 => "double precision",
        DataType::Boolean => "boolean",
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => "timestamptz",
        DataType::Date32 => "date",
        DataType::List(item) if item.data_type() == &DataType::Utf8 => "text[]",
        _ => return None,
    })
}

/// The value of `column` at `row`, typed as [`pg_type`] says (null as a typed null).
pub fn cell(column: &ArrayRef, row: usize) -> Cell {
    let valid = column.is_valid(row);
    match column.data_type() {
        DataType::Utf8 => Box::new(valid.then(|| column.as_string::<i32>().value(row).to_owned())),
        DataType::Int64 => Box::new(valid.then(|| column.as_primitive::<Int64Type>().value(row))),
        DataType::Int32 => Box::new(valid.then(|| column.as_primitive::<Int32Type>().value(row))),
        DataType::Float64 => Box::new(valid.then(|| column.as_primitive::<Float64Type>().value(row))),
        DataType::Boolean => Box::new(valid.then(|| column.as_boolean().value(row))),
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => {
            Box::new(valid.then(|| chrono::DateTime::from_timestamp_micros(column.as_primitive::<TimestampMicrosecondType>().value(row))).flatten())
        }
        DataType::Date32 => Box::new(
            valid.then(|| arrow::temporal_conversions::as_date::<Date32Type>(i64::from(column.as_primitive::<Date32Type>().value(row)))).flatten(),
        ),
        DataType::List(_) => Box::new(valid.then(|| {
            let items = column.as_list::<i32>().value(row);
            let items = items.as_string::<i32>();
            (0..items.len()).map(|i| items.value(i).to_owned()).collect::<Vec<String>>()
        })),
        _ => Box::new(None::<String>),
    }
}

/// The columns of `batch` that are exported: (name, PostgreSQL type, column).
pub fn exported_columns(batch: &RecordBatch) -> Vec<(String, &'static str, ArrayRef)> {
    let schema = batch.schema();
    schema
        .fields()
        .iter()
        .zip(batch.columns())
        .filter_map(|(field, column)| pg_type(field.data_type()).map(|pg| (field.name().clone(), pg, column.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Date32Array, Decimal128Array, ListBuilder, StringBuilder, TimestampMicrosecondArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn columns_map_to_postgres_types_and_unexported_ones_are_left_out() {
        let mut list = ListBuilder::new(StringBuilder::new());
        list.values().append_value("rule_a");
        list.append(true);
        let schema = Schema::new(vec![
            Field::new("day", DataType::Date32, false),
            Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
            Field::new("score_sum", DataType::Decimal128(38, 6), false),
            Field::new("rules", DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))), false),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Date32Array::from(vec![20_000])),
                Arc::new(TimestampMicrosecondArray::from(vec![None]).with_timezone("UTC")),
                Arc::new(Decimal128Array::from(vec![1]).with_precision_and_scale(38, 6).unwrap()),
                Arc::new(list.finish()),
            ],
        )
        .unwrap();
        let columns: Vec<(String, &str)> = exported_columns(&batch).into_iter().map(|(name, pg, _)| (name, pg)).collect();
        assert_eq!(columns, [("day".to_owned(), "date"), ("at".to_owned(), "timestamptz"), ("rules".to_owned(), "text[]")]);
        // Rendered as PostgreSQL would receive them (Debug of the boxed value).
        let day = format!("{:?}", cell(batch.column(0), 0));
        assert_eq!(day, "Some(2024-10-04)");
        assert_eq!(format!("{:?}", cell(batch.column(1), 0)), "None");
        assert_eq!(format!("{:?}", cell(batch.column(3), 0)), r#"Some(["rule_a"])"#);
    }
}
