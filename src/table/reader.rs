//! Reading a stage's input table without a query engine: the files a version added (for
//! incremental stages) or every live file (for full reads), straight from the Delta log and the
//! object store, only the columns asked for.
//!
//! Only `add` actions with `dataChange = true` count as new data: a compaction's rewrites would
//! otherwise be read twice.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, new_null_array};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::SchemaRef;
use deltalake::kernel::Action;
use deltalake::{DeltaTable, DeltaTableError, ObjectStore, Path};
use futures::StreamExt;
use object_store::ObjectStoreExt;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::ProjectionMask;

use super::TableError;

/// One data file of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Relative to the table root, URL-encoded as in the log.
    pub path: String,
    pub size: u64,
    /// The values of the table's partition columns for the file's rows (kept in the log).
    pub partition_values: HashMap<String, Option<String>>,
}

/// What one commit of the log holds that readers care about.
#[derive(Debug, Clone, Default)]
pub struct VersionEntry {
    /// Data files added with `dataChange = true`.
    pub added: Vec<DataFile>,
    /// Rows in those files, from their statistics; `None` when a file has none.
    pub added_rows: Option<u64>,
    /// Data files removed with `dataChange = true`: rows deleted or rewritten (DELETE, UPDATE,
    /// MERGE, RESTORE, an overwrite; with deletion vectors too). Compaction removes with
    /// `dataChange = false` and is not counted.
    pub removed: usize,
    /// The `txn` positions the commit recorded (app id → version).
    pub positions: Vec<(String, i64)>,
    /// The operation `commitInfo` names (WRITE, DELETE, OPTIMIZE, ...), when it has one.
    pub operation: Option<String>,
    /// When the commit was made (`commitInfo.timestamp`, milliseconds since the epoch).
    pub timestamp: Option<i64>,
    /// What else `commitInfo` holds: the writer's own keys (e.g. `medallion.silverBatch`).
    pub metadata: HashMap<String, serde_json::Value>,
}

impl VersionEntry {
    /// The files the commit appended, or an error when it also deleted or rewrote rows: an
    /// incremental reader would read those rows again (or miss that they are gone).
    pub fn appended_only(self, location: &str, version: u64) -> Result<Vec<DataFile>, TableError> {
        if self.removed == 0 {
            return Ok(self.added);
        }
        Err(TableError::NotAppendOnly {
            location: location.to_owned(),
            version,
            operation: self.operation.unwrap_or_else(|| "an operation without commitInfo".to_owned()),
            removed: self.removed,
        })
    }
}

/// A Delta table opened for reading.
pub struct TableReader {
    table: DeltaTable,
    location: String,
    positions: super::positions::PositionCache,
}

impl TableReader {
    /// Opens the table at `location`; `None` while it does not exist.
    pub async fn open(location: &str, storage_options: HashMap<String, String>) -> Result<Option<Self>, TableError> {
        let read_error = |source: DeltaTableError| TableError::Read { location: location.to_owned(), message: source.to_string() };
        let url = deltalake::ensure_table_uri(location).map_err(read_error)?;
        let table = open_if_exists(url, storage_options).await.map_err(read_error)?;
        Ok(table.map(|table| Self { table, location: location.to_owned(), positions: Default::default() }))
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    fn error(&self, message: String) -> TableError {
        TableError::Read { location: self.location.clone(), message }
    }

    /// The version loaded (0 for a table that only has its creation commit).
    pub fn version(&self) -> u64 {
        self.table.version().unwrap_or(0)
    }

    /// Reloads the log and returns the newest version.
    pub async fn refresh(&mut self) -> Result<u64, TableError> {
        self.table.update_state().await.map_err(|e| self.error(e.to_string()))?;
        Ok(self.version())
    }

    /// The position recorded under `app_id` as of the loaded version.
    pub async fn position(&self, app_id: &str) -> Result<Option<i64>, TableError> {
        self.positions.lookup(&self.table, &self.location, app_id).await
    }

    /// The position recorded for `source` as of the loaded version (see [`super::SourceKey`]).
    /// `siblings` are the table's other sources, when it has several.
    pub async fn source_position(&self, source: &super::SourceKey, siblings: &[super::SourceKey]) -> Result<Option<i64>, TableError> {
        let direct = self.position(&source.app_id()).await?;
        super::source::resolve(&self.table, &self.location, source, siblings, direct).await
    }

    /// The table's `metaData.id`: what other tables key their positions in it by.
    pub fn table_id(&self) -> Result<String, TableError> {
        super::source::table_id(&self.table, &self.location)
    }

    /// The commit time of the loaded version, milliseconds since the epoch.
    pub async fn commit_time_millis(&self) -> Option<i64> {
        let snapshot = self.table.snapshot().ok()?;
        let version = snapshot.version();
        match snapshot.version_timestamp(version) {
            Some(millis) => Some(millis),
            // Loaded from a checkpoint, the snapshot does not know its commits' times: the
            // commit file does.
            None => self.entry(version).await.ok()?.timestamp,
        }
    }

    /// The table's columns as Arrow types, as of the loaded version.
    pub fn schema(&self) -> Result<SchemaRef, TableError> {
        Ok(self.table.snapshot().map_err(|e| self.error(e.to_string()))?.snapshot().arrow_schema())
    }

    /// Every live data file of the loaded version, with the rows its statistics count.
    pub fn live_files(&self) -> Result<Vec<(DataFile, Option<usize>)>, TableError> {
        let snapshot = self.table.snapshot().map_err(|e| self.error(e.to_string()))?;
        Ok(snapshot
            .log_data()
            .into_iter()
            .map(|file| {
                let path = file.path().to_string();
                (DataFile { path, size: u64::try_from(file.size()).unwrap_or(0), partition_values: file.partition_values_map() }, file.num_records())
            })
            .collect())
    }

    /// The files and positions commit `version` recorded.
    pub async fn entry(&self, version: u64) -> Result<VersionEntry, TableError> {
        read_entry(&self.table, &self.location, version).await
    }

    /// [`Self::entry`], `None` when log cleanup removed it.
    pub async fn kept_entry(&self, version: u64) -> Result<Option<VersionEntry>, TableError> {
        read_kept_entry(&self.table, &self.location, version).await
    }

    /// Every row of the loaded version, as `schema`.
    pub async fn read_all(&self, schema: &SchemaRef) -> Result<RecordBatch, TableError> {
        let files: Vec<DataFile> = self.live_files()?.into_iter().map(|(file, _)| file).collect();
        self.read(&files, schema, None).await
    }

    /// The rows of `files` as `schema` (see [`conform`]); `version_column` names an Int64
    /// column to fill with `version` (the version that added the files).
    pub async fn read(&self, files: &[DataFile], schema: &SchemaRef, version_column: Option<(&str, u64)>) -> Result<RecordBatch, TableError> {
        let store = self.table.log_store().object_store(None);
        let mut batches = Vec::new();
        for file in files {
            batches.extend(self.read_file(&store, file, schema, version_column).await?);
        }
        concat_batches(schema, &batches).map_err(|e| self.error(e.to_string()))
    }

    async fn read_file(
        &self,
        store: &Arc<dyn ObjectStore>,
        file: &DataFile,
        schema: &SchemaRef,
        version_column: Option<(&str, u64)>,
    ) -> Result<Vec<RecordBatch>, TableError> {
        read_data_file(store, &self.location, file, schema, &Filled { version_column, partition_values: &file.partition_values }).await
    }
}

/// The Delta table at `url`, `None` while there is none. A local directory without a log is not
/// probed (delta-rs would log an error for it).
pub(super) async fn open_if_exists(url: url::Url, storage_options: HashMap<String, String>) -> Result<Option<DeltaTable>, DeltaTableError> {
    if !has_log(&url, &storage_options).await? {
        return Ok(None);
    }
    match deltalake::open_table_with_storage_options(url, storage_options).await {
        Ok(table) => Ok(Some(table)),
        Err(DeltaTableError::NotATable(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Whether the table at `url` has a log. Asked before loading it: loading a location without one
/// fails inside the Delta kernel, which logs that failure at ERROR (on every probe of a table a
/// stage is about to create, or one downstream that does not exist yet).
pub(super) async fn has_log(url: &url::Url, storage_options: &HashMap<String, String>) -> Result<bool, DeltaTableError> {
    if let Ok(path) = url.to_file_path() {
        return Ok(path.join("_delta_log").exists());
    }
    let table = deltalake::table::builder::DeltaTableBuilder::from_url(url.clone())?.with_storage_options(storage_options.clone()).build()?;
    table.log_store().is_delta_table_location().await
}

/// Columns a data file does not hold but its rows have: the version that added it, and the
/// values of the table's partition columns (which Delta keeps in the log, not in the file).
pub(super) struct Filled<'a> {
    pub version_column: Option<(&'a str, u64)>,
    pub partition_values: &'a HashMap<String, Option<String>>,
}

/// The rows of `file` of the table at `location`, as `schema` (see [`conform`]). Ranged reads:
/// the footer, then only the column chunks `schema` names (silver never fetches bronze's raw
/// payloads).
pub(super) async fn read_data_file(
    store: &Arc<dyn ObjectStore>,
    location: &str,
    file: &DataFile,
    schema: &SchemaRef,
    filled: &Filled<'_>,
) -> Result<Vec<RecordBatch>, TableError> {
    // Storage trouble is worth another try; a file that is gone or does not decode is not.
    let file_error = |message: String| TableError::ReadFile { location: location.to_owned(), file: file.path.clone(), message };
    let bad_file = |message: String| TableError::BadFile { location: location.to_owned(), file: file.path.clone(), message };
    let fetch_error = |error: object_store::Error| match error {
        object_store::Error::NotFound { .. } => TableError::FileGone { location: location.to_owned(), file: file.path.clone() },
        other => file_error(other.to_string()),
    };
    // The parquet reader wraps storage errors; a missing file is told apart up front.
    let object = Path::from_url_path(&file.path).map_err(|e| bad_file(e.to_string()))?;
    let size = match file.size {
        0 => store.head(&object).await.map_err(fetch_error)?.size,
        size => size,
    };
    let parquet_error = |e: parquet::errors::ParquetError| match e {
        parquet::errors::ParquetError::External(inner) => match inner.downcast::<object_store::Error>() {
            Ok(storage) => fetch_error(*storage),
            Err(other) => file_error(other.to_string()),
        },
        other => bad_file(other.to_string()),
    };
    let input = super::ranged::RangedFile { store: store.clone(), path: object, size };
    let builder = ParquetRecordBatchStreamBuilder::new(input).await.map_err(parquet_error)?;
    let wanted: Vec<usize> =
        builder.schema().fields().iter().enumerate().filter(|(_, f)| schema.field_with_name(f.name()).is_ok()).map(|(i, _)| i).collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    let mut stream = builder.with_projection(mask).with_batch_size(65_536).build().map_err(parquet_error)?;
    let mut batches = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(parquet_error)?;
        batches.push(conform(&batch, schema, filled).map_err(bad_file)?);
    }
    Ok(batches)
}

/// What commit `version` of `table` recorded, `None` when log cleanup removed its entry: for
/// searches of recent commits, which look only at what is still there.
pub(super) async fn read_kept_entry(table: &DeltaTable, location: &str, version: u64) -> Result<Option<VersionEntry>, TableError> {
    match read_entry(table, location, version).await {
        Ok(entry) => Ok(Some(entry)),
        Err(TableError::LogEntryGone { .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

/// What commit `version` of `table` recorded.
pub(super) async fn read_entry(table: &DeltaTable, location: &str, version: u64) -> Result<VersionEntry, TableError> {
    let error = |message: String| TableError::Read { location: location.to_owned(), message: format!("version {version}: {message}") };
    let bytes = table.log_store().read_commit_entry(version).await.map_err(|e| error(e.to_string()))?;
    let Some(bytes) = bytes else {
        return Err(TableError::LogEntryGone { location: location.to_owned(), version });
    };
    let mut entry = VersionEntry::default();
    for action in deltalake::logstore::get_actions(version, &bytes).map_err(|e| error(e.to_string()))? {
        match action {
            Action::Add(add) if add.data_change => {
                let rows = add.stats.as_deref().and_then(|stats| serde_json::from_str::<serde_json::Value>(stats).ok()?["numRecords"].as_u64());
                entry.added_rows = if entry.added.is_empty() { rows } else { entry.added_rows.zip(rows).map(|(sum, rows)| sum + rows) };
                entry.added.push(DataFile { path: add.path, size: u64::try_from(add.size).unwrap_or(0), partition_values: add.partition_values })
            }
            Action::Remove(remove) if remove.data_change => entry.removed += 1,
            Action::Txn(txn) => entry.positions.push((txn.app_id, txn.version)),
            Action::CommitInfo(info) => {
                entry.operation = info.operation;
                entry.timestamp = info.timestamp;
                entry.metadata = info.info;
            }
            _ => {}
        }
    }
    if entry.added.is_empty() {
        entry.added_rows = Some(0);
    }
    Ok(entry)
}

/// `batch` as `schema`: columns by name, cast where the file's types differ, absent nullable
/// columns as nulls (files written before a column existed), the `filled` columns filled in.
fn conform(batch: &RecordBatch, schema: &SchemaRef, filled: &Filled<'_>) -> Result<RecordBatch, String> {
    let rows = batch.num_rows();
    let columns = schema
        .fields()
        .iter()
        .map(|field| -> Result<ArrayRef, String> {
            if let Some((name, version)) = filled.version_column
                && field.name() == name
            {
                return Ok(Arc::new(Int64Array::from(vec![version as i64; rows])));
            }
            if let Some(value) = filled.partition_values.get(field.name()) {
                let values: StringArray = std::iter::repeat_n(value.as_deref(), rows).collect();
                return cast(&values, field.data_type()).map_err(|e| format!("partition column {}: {e}", field.name()));
            }
            match batch.column_by_name(field.name()) {
                Some(column) if column.data_type() == field.data_type() => Ok(column.clone()),
                Some(column) => cast(column, field.data_type()).map_err(|e| format!("column {}: {e}", field.name())),
                None if field.is_nullable() => Ok(new_null_array(field.data_type(), rows)),
                None => Err(format!("column {} is missing", field.name())),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())
}
