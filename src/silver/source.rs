//! Reading bronze incrementally: the files the `add` actions of versions `after+1 ..= until`
//! list, straight from the Delta log and the object store (no table scan, no DataFusion).
//!
//! Only the columns silver needs are decoded (never the raw payloads), and only files with
//! `dataChange = true`: a compaction's rewrites would otherwise be read twice.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, new_null_array};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::SchemaRef;
use deltalake::kernel::Action;
use deltalake::{DeltaTable, ObjectStore, Path};
use object_store::ObjectStoreExt;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::SilverError;
use super::refine::BRONZE_VERSION;

/// How large a batch may grow (ignored when replaying a batch whose end is already known).
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_versions: usize,
    pub max_bytes: u64,
}

/// Bronze rows of consecutive versions, in the silver `read` schema.
#[derive(Debug)]
pub struct BronzeSlice {
    pub first_version: u64,
    pub last_version: u64,
    pub batch: RecordBatch,
    pub files: usize,
    pub bytes: u64,
}

/// The bronze table, read-only.
pub struct BronzeSource {
    table: DeltaTable,
    location: String,
    read_schema: SchemaRef,
}

impl BronzeSource {
    /// Opens bronze at `location`; `None` while the table does not exist yet.
    pub async fn open(location: &str, storage_options: HashMap<String, String>, read_schema: SchemaRef) -> Result<Option<Self>, SilverError> {
        let read_error = |source: deltalake::DeltaTableError| SilverError::Bronze { location: location.to_owned(), message: source.to_string() };
        let url = deltalake::ensure_table_uri(location).map_err(read_error)?;
        if url.to_file_path().is_ok_and(|path| !path.join("_delta_log").exists()) {
            return Ok(None);
        }
        match deltalake::open_table_with_storage_options(url, storage_options).await {
            Ok(table) => Ok(Some(Self { table, location: location.to_owned(), read_schema })),
            Err(deltalake::DeltaTableError::NotATable(_)) => Ok(None),
            Err(other) => Err(read_error(other)),
        }
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    /// The newest bronze version, after reloading the log.
    pub async fn latest_version(&mut self) -> Result<u64, SilverError> {
        self.table.update_state().await.map_err(|e| self.error(e.to_string()))?;
        Ok(self.table.version().unwrap_or(0))
    }

    fn error(&self, message: String) -> SilverError {
        SilverError::Bronze { location: self.location.clone(), message }
    }

    /// Reads the versions after `after` (from version 0 when `None`) up to `until`, fewer when
    /// `limits` says the batch is full (always at least one version).
    pub async fn read(&self, after: Option<u64>, until: u64, limits: Option<BatchLimits>) -> Result<BronzeSlice, SilverError> {
        let first_version = after.map_or(0, |v| v + 1);
        let store = self.table.log_store().object_store(None);
        let (mut batches, mut files, mut bytes) = (Vec::new(), 0, 0u64);
        let mut last_version = first_version;
        for version in first_version..=until {
            if let Some(limits) = limits
                && version > first_version
                && ((version - first_version) as usize >= limits.max_versions || bytes >= limits.max_bytes)
            {
                break;
            }
            for (path, size) in self.added_files(version).await? {
                batches.extend(self.read_file(&store, &path, version).await?);
                files += 1;
                bytes += size;
            }
            last_version = version;
        }
        let batch = concat_batches(&self.read_schema, &batches).map_err(|e| self.error(format!("versions {first_version}..={last_version}: {e}")))?;
        Ok(BronzeSlice { first_version, last_version, batch, files, bytes })
    }

    /// Data files (path, size) added by `version`.
    async fn added_files(&self, version: u64) -> Result<Vec<(String, u64)>, SilverError> {
        let log_store = self.table.log_store();
        let entry = log_store.read_commit_entry(version).await.map_err(|e| self.error(format!("version {version}: {e}")))?;
        let Some(bytes) = entry else {
            return Err(self.error(format!("the log entry of version {version} is gone (log retention?); silver cannot resume incrementally")));
        };
        let actions = deltalake::logstore::get_actions(version, &bytes).map_err(|e| self.error(format!("version {version}: {e}")))?;
        Ok(actions
            .into_iter()
            .filter_map(|action| match action {
                Action::Add(add) if add.data_change => Some((add.path, u64::try_from(add.size).unwrap_or(0))),
                _ => None,
            })
            .collect())
    }

    /// The rows of one data file, projected and cast to the `read` schema.
    async fn read_file(&self, store: &Arc<dyn ObjectStore>, path: &str, version: u64) -> Result<Vec<RecordBatch>, SilverError> {
        let file_error = |message: String| SilverError::BronzeFile { location: self.location.clone(), version, file: path.to_owned(), message };
        let object = Path::from_url_path(path).map_err(|e| file_error(e.to_string()))?;
        let bytes = store.get(&object).await.map_err(|e| file_error(e.to_string()))?.bytes().await.map_err(|e| file_error(e.to_string()))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| file_error(e.to_string()))?;
        let wanted: Vec<usize> = builder
            .schema()
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| self.read_schema.field_with_name(f.name()).is_ok())
            .map(|(i, _)| i)
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
        let reader = builder.with_projection(mask).with_batch_size(65_536).build().map_err(|e| file_error(e.to_string()))?;
        reader
            .map(|batch| {
                let batch = batch.map_err(|e| file_error(e.to_string()))?;
                conform(&batch, &self.read_schema, version).map_err(file_error)
            })
            .collect()
    }
}

/// `batch` as `schema`: columns by name, cast where the file's types differ, absent nullable
/// columns as nulls (files written before a column existed), `bronze_version` filled in.
fn conform(batch: &RecordBatch, schema: &SchemaRef, version: u64) -> Result<RecordBatch, String> {
    let rows = batch.num_rows();
    let columns = schema
        .fields()
        .iter()
        .map(|field| -> Result<ArrayRef, String> {
            if field.name() == BRONZE_VERSION {
                return Ok(Arc::new(Int64Array::from(vec![version as i64; rows])));
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
