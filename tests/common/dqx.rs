//! Reading DQX result files (`_errors`/`_warnings`, DQX's or `medallion rules apply`'s) for the
//! parity and corpus tests.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, ListArray, MapArray, StructArray};
use arrow::datatypes::{Int64Type, TimestampMicrosecondType};

/// Everything compared for one result item (run_time and run_id differ per run by design).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Item {
    pub name: String,
    pub message: String,
    pub function: String,
    pub columns: Vec<String>,
    pub filter: Option<String>,
    pub user_metadata: Vec<(String, String)>,
    pub rule_fingerprint: String,
    pub rule_set_fingerprint: String,
}

/// A row's failed checks: (errors, warnings), each sorted.
pub type RowResult = (Vec<Item>, Vec<Item>);

fn strings(array: &dyn Array) -> Vec<String> {
    let array = array.as_string::<i32>();
    (0..array.len()).map(|i| array.value(i).to_owned()).collect()
}

fn items(list: &ListArray, row: usize) -> Vec<Item> {
    if list.is_null(row) {
        return Vec::new();
    }
    let value = list.value(row);
    let structs: &StructArray = value.as_struct();
    let text = |name: &str, i: usize| {
        let column = structs.column_by_name(name).unwrap();
        (!column.is_null(i)).then(|| column.as_string::<i32>().value(i).to_owned())
    };
    let mut found: Vec<Item> = (0..structs.len())
        .map(|i| {
            let columns = structs.column_by_name("columns").unwrap().as_list::<i32>().value(i);
            let metadata: &MapArray = structs.column_by_name("user_metadata").unwrap().as_map();
            let entries = metadata.value(i);
            let mut user_metadata: Vec<(String, String)> =
                strings(entries.column(0).as_ref()).into_iter().zip(strings(entries.column(1).as_ref())).collect();
            user_metadata.sort();
            Item {
                name: text("name", i).unwrap(),
                message: text("message", i).unwrap(),
                function: text("function", i).unwrap(),
                columns: strings(columns.as_ref()),
                filter: text("filter", i),
                user_metadata,
                rule_fingerprint: text("rule_fingerprint", i).unwrap(),
                rule_set_fingerprint: text("rule_set_fingerprint", i).unwrap(),
            }
        })
        .collect();
    found.sort();
    found
}

/// `key` → (errors, warnings) of a result file.
pub fn results(path: &str, key: &str) -> BTreeMap<i64, RowResult> {
    let mut by_row = BTreeMap::new();
    for batch in read(path) {
        let ids = batch.column_by_name(key).unwrap().as_primitive::<Int64Type>().clone();
        let errors = batch.column_by_name("_errors").unwrap().as_list::<i32>().clone();
        let warnings = batch.column_by_name("_warnings").unwrap().as_list::<i32>().clone();
        for row in 0..batch.num_rows() {
            by_row.insert(ids.value(row), (items(&errors, row), items(&warnings, row)));
        }
    }
    by_row
}

/// The `run_time` of the first result item in a result file (µs since the epoch, UTC).
pub fn first_run_time(path: &str) -> Option<i64> {
    read(path).into_iter().find_map(|batch| {
        ["_errors", "_warnings"].iter().find_map(|column| {
            let list = batch.column_by_name(column).unwrap().as_list::<i32>();
            let values = list.values().as_struct();
            let times = values.column_by_name("run_time").unwrap().as_primitive::<TimestampMicrosecondType>();
            (!times.is_empty()).then(|| times.value(0))
        })
    })
}

fn read(path: &str) -> Vec<arrow::array::RecordBatch> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap().map(Result::unwrap).collect()
}
