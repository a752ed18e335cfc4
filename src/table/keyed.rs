//! Tables kept as sorted key ranges: which files may hold a key (from the files' Delta
//! statistics), reading some files back, and a commit that replaces some files by others.
//!
//! Gold's current state and `order_status` are laid out this way, so a refresh rewrites only the
//! files holding the keys it touches instead of the whole table.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Int64Type, SchemaRef};
use deltalake::kernel::Action;

use super::reader::{Filled, read_data_file};
use super::{CommitInfo, DataFile, StageTable, TableError};

/// A value of a key column, comparable across files and batches. Text and integer keys are
/// supported; a table keyed otherwise is never pruned (every file may hold every key).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyValue {
    Int(i64),
    Text(String),
}

impl KeyValue {
    /// A bound as Delta statistics write it (JSON): a string or an integer.
    fn from_stats(value: &serde_json::Value) -> Option<Self> {
        match value {
            serde_json::Value::String(text) => Some(Self::Text(text.clone())),
            serde_json::Value::Number(number) => number.as_i64().map(Self::Int),
            _ => None,
        }
    }

    /// The values of `array` (a key column), row by row (`None` for a null); `None` for a type
    /// that is not supported.
    pub fn column(array: &dyn Array) -> Option<Vec<Option<Self>>> {
        match array.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let text = cast(array, &DataType::Utf8).ok()?;
                Some(text.as_string::<i32>().iter().map(|value| value.map(|v| Self::Text(v.to_owned()))).collect())
            }
            kind if kind.is_integer() => {
                let ints = cast(array, &DataType::Int64).ok()?;
                Some(ints.as_primitive::<Int64Type>().iter().map(|value| value.map(Self::Int)).collect())
            }
            _ => None,
        }
    }
}

/// One live file and the range of a key column it holds (`None`: no statistics, may hold any).
#[derive(Debug, Clone)]
pub struct KeyedFile {
    pub file: DataFile,
    pub rows: Option<usize>,
    pub range: Option<(KeyValue, KeyValue)>,
}

impl StageTable {
    /// Every live file with the range of `column` its statistics record.
    pub fn keyed_files(&self, column: &str) -> Result<Vec<KeyedFile>, TableError> {
        let snapshot = self.table.snapshot().map_err(|e| TableError::Read { location: self.location.clone(), message: e.to_string() })?;
        let kind = snapshot.snapshot().arrow_schema().field_with_name(column).ok().map(|f| f.data_type().clone());
        let prunable = kind.is_some_and(|kind| kind.is_integer() || matches!(kind, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View));
        let range = |stats: Option<String>| -> Option<(KeyValue, KeyValue)> {
            let stats: serde_json::Value = serde_json::from_str(&stats?).ok()?;
            let bound = |side: &str| stats.get(side)?.get(column).and_then(KeyValue::from_stats);
            prunable.then(|| bound("minValues").zip(bound("maxValues"))).flatten()
        };
        Ok(snapshot
            .log_data()
            .into_iter()
            .map(|view| {
                let range = range(view.stats());
                let file = DataFile {
                    path: view.path().to_string(),
                    size: u64::try_from(view.size()).unwrap_or(0),
                    partition_values: view.partition_values_map(),
                };
                KeyedFile { file, rows: view.num_records(), range }
            })
            .collect())
    }

    /// Every row of the loaded version, as `schema`.
    pub async fn read_all(&self, schema: &SchemaRef) -> Result<RecordBatch, TableError> {
        let files: Vec<DataFile> = self.keyed_files("")?.into_iter().map(|keyed| keyed.file).collect();
        self.read(&files, schema).await
    }

    /// The rows of `files` (live files of this table) as `schema`.
    pub async fn read(&self, files: &[DataFile], schema: &SchemaRef) -> Result<RecordBatch, TableError> {
        let store = self.table.log_store().object_store(None);
        let mut batches = Vec::new();
        for file in files {
            let filled = Filled { version_column: None, partition_values: &file.partition_values };
            batches.extend(read_data_file(&store, &self.location, file, schema, &filled).await?);
        }
        concat_batches(schema, &batches).map_err(|e| TableError::Read { location: self.location.clone(), message: e.to_string() })
    }

    /// Replaces the live files `removed` by `files` (each batch its own data file) and records
    /// `positions`, in one commit: readers see the old rows or the new ones, never a mix.
    pub async fn rewrite(&mut self, removed: &[DataFile], files: &[RecordBatch], positions: &[(String, i64)]) -> Result<CommitInfo, TableError> {
        let snapshot = self.table.snapshot().map_err(|e| TableError::Read { location: self.location.clone(), message: e.to_string() })?;
        let paths: std::collections::HashSet<&str> = removed.iter().map(|file| file.path.as_str()).collect();
        let removes: Vec<Action> = snapshot
            .log_data()
            .into_iter()
            .filter(|view| paths.contains(view.path().as_ref()))
            .map(|view| Action::Remove(view.remove_action(true)))
            .collect();
        if removes.len() != paths.len() {
            return Err(TableError::Conflict {
                location: self.location.clone(),
                message: format!("{} of the {} files to rewrite are no longer live", paths.len() - removes.len(), paths.len()),
            });
        }
        self.commit(super::Commit {
            rows: super::whole(files),
            positions,
            change: super::Change::Rewrite(removes),
            parallel_encoding: false,
            metadata: None,
        })
        .await
    }
}
