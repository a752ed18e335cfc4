//! A Delta table written by one stage: created on first use (racing creators both succeed),
//! positions read back from its `txn` actions, and appends that carry the positions they consumed.

use std::collections::HashMap;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitConflictError, CommitProperties, TransactionError};
use deltalake::kernel::{Action, StructType, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableError};

/// A storage or table problem, naming the table.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("invalid table location {location}: {source}")]
    Location { location: String, source: Box<DeltaTableError> },
    #[error("cannot open or create the Delta table at {location}: {source}")]
    Open { location: String, source: Box<DeltaTableError> },
    #[error("the table at {location} does not have the expected columns: {detail}")]
    Schema { location: String, detail: String },
    #[error("cannot read positions from the Delta table at {location}: {source}")]
    Positions { location: String, source: Box<DeltaTableError> },
    #[error("cannot write to the Delta table at {location}: {source}")]
    Write { location: String, source: Box<DeltaTableError> },
    #[error("another writer committed positions for the same partitions to {location}")]
    TxnConflict { location: String },
}

impl TableError {
    /// Worth retrying after a pause (storage or I/O trouble), as opposed to a conflict, a bad
    /// table or data that does not fit it.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Write { source, .. } | Self::Positions { source, .. } | Self::Open { source, .. } => is_storage_error(source.as_ref()),
            _ => false,
        }
    }
}

fn is_storage_error(error: &DeltaTableError) -> bool {
    matches!(
        error,
        DeltaTableError::ObjectStore { .. }
            | DeltaTableError::Io { .. }
            | DeltaTableError::Parquet { .. }
            | DeltaTableError::Transaction { source: TransactionError::ObjectStore { .. } | TransactionError::MaxCommitAttempts(_) }
    )
}

/// What one commit added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitInfo {
    pub version: u64,
    pub files: u64,
    pub bytes: u64,
}

/// A Delta table written by one stage, positions kept in `txn` actions.
#[derive(Clone)]
pub struct StageTable {
    table: DeltaTable,
    location: String,
    schema: SchemaRef,
}

impl StageTable {
    /// Opens the table at `location`, creating it with `schema` partitioned by `partition_columns`
    /// when it does not exist. Two processes creating it at once both end up with the table.
    pub async fn open_or_create(
        location: &str,
        storage_options: HashMap<String, String>,
        schema: SchemaRef,
        partition_columns: &[&str],
    ) -> Result<Self, TableError> {
        let url = deltalake::table::builder::ensure_table_uri(location)
            .map_err(|source| TableError::Location { location: location.to_owned(), source: Box::new(source) })?;
        let open_error = |source| TableError::Open { location: location.to_owned(), source: Box::new(source) };
        // A local directory without a log is not a table yet: skip the probe (which logs an error).
        let local_and_new = url.to_file_path().is_ok_and(|path| !path.join("_delta_log").exists());
        let table = if local_and_new {
            deltalake::table::builder::DeltaTableBuilder::from_url(url.clone())
                .and_then(|builder| builder.with_storage_options(storage_options.clone()).build())
                .map_err(open_error)?
        } else {
            DeltaTable::try_from_url_with_storage_options(url.clone(), storage_options.clone()).await.map_err(open_error)?
        };
        let table = if table.version().is_some() {
            table
        } else {
            let columns: StructType = schema.as_ref().try_into_kernel().map_err(|e| open_error(e.into()))?;
            let created = table
                .create()
                .with_columns(columns.fields().cloned())
                .with_partition_columns(partition_columns.iter().copied())
                .with_save_mode(SaveMode::Ignore)
                .await;
            match created {
                Ok(table) => table,
                // Lost the race to another creator: the table now exists.
                Err(_) => deltalake::open_table_with_storage_options(url, storage_options).await.map_err(open_error)?,
            }
        };
        let this = Self { table, location: location.to_owned(), schema };
        this.check_schema()?;
        Ok(this)
    }

    fn check_schema(&self) -> Result<(), TableError> {
        let snapshot = self.table.snapshot().map_err(|source| TableError::Open { location: self.location.clone(), source: Box::new(source) })?;
        let existing: Vec<String> = snapshot.schema().fields().map(|f| f.name().clone()).collect();
        let missing: Vec<&str> =
            self.schema.fields().iter().map(|f| f.name().as_str()).filter(|name| !existing.iter().any(|e| e == name)).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(TableError::Schema { location: self.location.clone(), detail: format!("missing columns {missing:?}") })
        }
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    pub fn version(&self) -> Option<u64> {
        self.table.version()
    }

    /// Reloads the table from storage, to see other writers' commits.
    pub async fn refresh(&mut self) -> Result<(), TableError> {
        self.table.update_state().await.map_err(|source| TableError::Positions { location: self.location.clone(), source: Box::new(source) })
    }

    /// The position recorded under `app_id`, as of the last load or refresh.
    pub async fn position(&self, app_id: &str) -> Result<Option<i64>, TableError> {
        let positions_error = |source| TableError::Positions { location: self.location.clone(), source: Box::new(source) };
        let snapshot = self.table.snapshot().map_err(positions_error)?;
        snapshot.transaction_version(self.table.log_store().as_ref(), app_id).await.map_err(positions_error)
    }

    /// Appends `batches` and records `positions` (app id → version) in the same commit.
    pub async fn append(&mut self, batches: &[RecordBatch], positions: &[(String, i64)]) -> Result<CommitInfo, TableError> {
        let write_error = |source| TableError::Write { location: self.location.clone(), source: Box::new(source) };
        let mut writer = RecordBatchWriter::for_table(&self.table).map_err(write_error)?;
        for batch in batches {
            writer.write(batch.clone()).await.map_err(write_error)?;
        }
        let adds = writer.flush().await.map_err(write_error)?;
        let info = CommitInfo {
            version: 0,
            files: adds.len() as u64,
            bytes: adds.iter().map(|add| u64::try_from(add.size).unwrap_or(0)).sum(),
        };
        let transactions = positions.iter().map(|(app_id, version)| Transaction::new(app_id, *version)).collect();
        let snapshot = self.table.snapshot().map_err(write_error)?;
        let partition_by = Some(snapshot.metadata().partition_columns().to_vec()).filter(|p| !p.is_empty());
        let operation = DeltaOperation::Write { mode: SaveMode::Append, partition_by, predicate: None };
        let committed = CommitBuilder::from(CommitProperties::default().with_application_transactions(transactions))
            .with_actions(adds.into_iter().map(Action::Add).collect())
            .build(Some(snapshot), self.table.log_store(), operation)
            .await;
        let version = match committed {
            Ok(finalized) => finalized.version(),
            Err(DeltaTableError::Transaction { source: TransactionError::CommitConflict(CommitConflictError::ConcurrentTransaction) }) => {
                return Err(TableError::TxnConflict { location: self.location.clone() });
            }
            Err(source) => return Err(write_error(source)),
        };
        self.table.update_state().await.map_err(write_error)?;
        Ok(CommitInfo { version, ..info })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{AsArray, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, true), Field::new("offset", DataType::Int64, false)]))
    }

    fn batch(offsets: std::ops::Range<i64>) -> RecordBatch {
        let names: StringArray = offsets.clone().map(|o| Some(format!("row-{o}"))).collect();
        RecordBatch::try_new(schema(), vec![Arc::new(names), Arc::new(Int64Array::from_iter_values(offsets))]).unwrap()
    }

    /// Every `offset` value in the table, read from its Parquet files by a fresh handle.
    async fn offsets_in_storage(location: &str) -> Vec<i64> {
        let url = deltalake::table::builder::ensure_table_uri(location).unwrap();
        let table = deltalake::open_table(url).await.unwrap();
        let mut offsets = Vec::new();
        for uri in table.get_file_uris().unwrap() {
            let path = match url::Url::parse(&uri) {
                Ok(url) => url.to_file_path().unwrap(),
                Err(_) => std::path::PathBuf::from(&uri),
            };
            let file = std::fs::File::open(path).unwrap();
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
            for batch in reader {
                offsets.extend(batch.unwrap().column_by_name("offset").unwrap().as_primitive::<Int64Type>().values().iter().copied());
            }
        }
        offsets.sort_unstable();
        offsets
    }

    #[tokio::test]
    async fn positions_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let location = dir.path().join("t").display().to_string();
        let mut table = StageTable::open_or_create(&location, HashMap::new(), schema(), &[]).await.unwrap();
        assert_eq!(table.position("app:0").await.unwrap(), None);
        let info = table.append(&[batch(0..5)], &[("app:0".to_owned(), 4)]).await.unwrap();
        assert_eq!((info.version, info.files), (1, 1));
        table.append(&[batch(5..8)], &[("app:0".to_owned(), 7), ("app:1".to_owned(), 0)]).await.unwrap();

        let reopened = StageTable::open_or_create(&location, HashMap::new(), schema(), &[]).await.unwrap();
        assert_eq!(reopened.position("app:0").await.unwrap(), Some(7));
        assert_eq!(reopened.position("app:1").await.unwrap(), Some(0));
        assert_eq!(offsets_in_storage(&location).await, (0..8).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn checkpoints_are_written_at_the_table_interval() {
        let dir = tempfile::tempdir().unwrap();
        let location = dir.path().join("checkpointed").display().to_string();
        let mut table = StageTable::open_or_create(&location, HashMap::new(), schema(), &[]).await.unwrap();
        for offset in 0..100 {
            table.append(&[batch(offset..offset + 1)], &[("app:0".to_owned(), offset)]).await.unwrap();
        }
        // delta-rs checkpoints when (version + 1) is a multiple of delta.checkpointInterval (100).
        let log = dir.path().join("checkpointed/_delta_log");
        assert!(log.join("00000000000000000099.checkpoint.parquet").exists(), "no checkpoint at version 99");
        assert!(log.join("_last_checkpoint").exists());
        let reopened = StageTable::open_or_create(&location, HashMap::new(), schema(), &[]).await.unwrap();
        assert_eq!(reopened.position("app:0").await.unwrap(), Some(99), "positions survive checkpointing");
    }

    #[tokio::test]
    async fn racing_creators_both_get_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let location = dir.path().join("race").display().to_string();
        let (a, b) = tokio::join!(
            StageTable::open_or_create(&location, HashMap::new(), schema(), &[]),
            StageTable::open_or_create(&location, HashMap::new(), schema(), &[]),
        );
        assert!(a.is_ok() && b.is_ok(), "{:?} {:?}", a.err(), b.err());
    }

    #[tokio::test]
    async fn same_position_from_the_same_snapshot_conflicts() {
        let dir = tempfile::tempdir().unwrap();
        let location = dir.path().join("conflict").display().to_string();
        let mut first = StageTable::open_or_create(&location, HashMap::new(), schema(), &[]).await.unwrap();
        let mut second = StageTable::open_or_create(&location, HashMap::new(), schema(), &[]).await.unwrap();
        first.append(&[batch(0..3)], &[("app:0".to_owned(), 2)]).await.unwrap();
        let error = second.append(&[batch(0..3)], &[("app:0".to_owned(), 2)]).await.unwrap_err();
        assert!(matches!(error, TableError::TxnConflict { .. }), "{error}");
        // Different partitions from the same snapshot both land.
        second.refresh().await.unwrap();
        let mut third = StageTable::open_or_create(&location, HashMap::new(), schema(), &[]).await.unwrap();
        second.append(&[batch(3..4)], &[("app:1".to_owned(), 3)]).await.unwrap();
        third.append(&[batch(4..5)], &[("app:2".to_owned(), 4)]).await.unwrap();
        assert_eq!(offsets_in_storage(&location).await, (0..5).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_table_with_another_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let location = dir.path().join("other").display().to_string();
        StageTable::open_or_create(&location, HashMap::new(), schema(), &[]).await.unwrap();
        let wider = Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, true), Field::new("extra", DataType::Int64, true)]));
        let error = StageTable::open_or_create(&location, HashMap::new(), wider, &[]).await.err().unwrap();
        assert!(error.to_string().contains("missing columns [\"extra\"]") && error.to_string().contains(&location), "{error}");
    }
}
