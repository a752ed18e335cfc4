//! A Delta table written by one stage: created on first use (racing creators both succeed),
//! positions read back from its `txn` actions, and appends that carry the positions they consumed.

use std::collections::HashMap;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::TransactionError;
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableError};

mod commit;
mod evolve;
mod keyed;
mod maintain;
mod partition;
mod positions;
mod ranged;
mod reader;
mod source;
pub use commit::RowParts;
pub(crate) use commit::without_upkeep;
use commit::{Change, Commit, commit_failure, off_the_async_workers, whole};
pub use keyed::{KeyValue, KeyedFile};
pub use maintain::MaintenanceReport;
pub use reader::{DataFile, TableReader, VersionEntry};
pub use source::SourceKey;

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
    #[error(
        "a commit with positions for the same partitions reached {location} first (another writer's, or this one's whose answer storage lost); positions are read again"
    )]
    TxnConflict { location: String },
    #[error("another writer committed to {location} at the same time ({message}); this commit is retried from the new version")]
    Conflict { location: String, message: String },
    #[error("cannot read the Delta table at {location}: {message}")]
    Read { location: String, message: String },
    #[error("cannot read data file {file} of the Delta table at {location}: {message}")]
    ReadFile { location: String, file: String, message: String },
    #[error(
        "data file {file} of the Delta table at {location} is gone (vacuumed or deleted by hand) although the log still lists it: its rows cannot be read"
    )]
    FileGone { location: String, file: String },
    #[error("data file {file} of the Delta table at {location} cannot be decoded: {message}")]
    BadFile { location: String, file: String, message: String },
    #[error(
        "the log entry of version {version} of the Delta table at {location} is gone (log retention cleaned it up): the versions after the position recorded cannot be read incrementally"
    )]
    LogEntryGone { location: String, version: u64 },
    #[error("cannot maintain the Delta table at {location}: {message}")]
    Maintain { location: String, message: String },
    #[error(
        "the table at {location} has no position in its source {source_location} (app id `{app_id}`) but holds {found}: it was filled from another table (the source was recreated, or the lake mixes tables of two pipelines). Resuming would append the whole source again, so the stage stops. To rebuild it from this source, move the table (and the tables downstream of it) aside; medallion creates them anew"
    )]
    ForeignSource { location: String, source_location: String, app_id: String, found: String },
    #[error(
        "version {version} of the Delta table at {location} ({operation}) deleted or rewrote rows ({removed} file(s) removed): medallion's stages consume appends (and compaction) only, so it stops here rather than read rewritten rows again or miss deleted ones"
    )]
    NotAppendOnly { location: String, version: u64, operation: String, removed: usize },
}

impl TableError {
    /// Worth retrying after a pause (storage or I/O trouble), as opposed to a conflict, a bad
    /// table or data that does not fit it.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Write { source, .. } | Self::Positions { source, .. } | Self::Open { source, .. } => is_storage_error(source.as_ref()),
            // A reader sees storage, or a log being written: both are worth another look.
            Self::Read { .. } | Self::ReadFile { .. } | Self::Conflict { .. } | Self::Maintain { .. } => true,
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

/// The Parquet settings every medallion table starts from: snappy (deltalake's and Spark's
/// default) and medallion named as the writer. Stages adjust columns from there.
pub fn writer_properties_builder() -> parquet::file::properties::WriterPropertiesBuilder {
    parquet::file::properties::WriterProperties::builder()
        .set_created_by(format!("medallion {}", env!("CARGO_PKG_VERSION")))
        .set_compression(parquet::basic::Compression::SNAPPY)
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
    /// Parquet settings for this table's files (deltalake's defaults when None).
    writer_properties: Option<parquet::file::properties::WriterProperties>,
    positions: positions::PositionCache,
    /// Its files hold sorted key ranges (see [`keyed`]): compaction leaves them alone, as
    /// concatenating files would mix their ranges.
    key_ordered: bool,
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
        // A location without a log is not a table yet: skip the load (see `reader::has_log`).
        let table = if !reader::has_log(&url, &storage_options).await.map_err(open_error)? {
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
            // Created with the tombstone retention the default maintenance settings want, so a
            // new table needs no metadata commit for it (see `maintain::tombstone_retention`).
            let retention = maintain::tombstone_retention_property(&crate::config::MaintenanceConfig::default());
            let created = table
                .create()
                .with_columns(columns.fields().cloned())
                .with_configuration([retention].map(|(key, value)| (key, Some(value))))
                .with_partition_columns(partition_columns.iter().copied())
                .with_save_mode(SaveMode::Ignore)
                .await;
            match created {
                Ok(table) => table,
                // Lost the race to another creator: the table now exists.
                Err(_) => deltalake::open_table_with_storage_options(url, storage_options).await.map_err(open_error)?,
            }
        };
        let mut this =
            Self { table, location: location.to_owned(), schema, writer_properties: None, positions: Default::default(), key_ordered: false };
        this.add_missing_columns().await?;
        Ok(this)
    }

    /// Opens the table at `location` as it is (its own columns); `None` while it does not exist.
    pub async fn open_existing(location: &str, storage_options: HashMap<String, String>) -> Result<Option<Self>, TableError> {
        let open_error = |source| TableError::Open { location: location.to_owned(), source: Box::new(source) };
        let url = deltalake::table::builder::ensure_table_uri(location)
            .map_err(|source| TableError::Location { location: location.to_owned(), source: Box::new(source) })?;
        let Some(table) = reader::open_if_exists(url, storage_options).await.map_err(open_error)? else {
            return Ok(None);
        };
        let schema = table.snapshot().map_err(open_error)?.snapshot().arrow_schema();
        Ok(Some(Self { table, location: location.to_owned(), schema, writer_properties: None, positions: Default::default(), key_ordered: false }))
    }

    /// The columns it reads and writes.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Writes this table's files with `properties` (compression, dictionaries, statistics).
    pub fn with_writer_properties(mut self, properties: parquet::file::properties::WriterProperties) -> Self {
        self.writer_properties = Some(properties);
        self
    }

    /// Marks the table as laid out in sorted key ranges (see [`keyed`]).
    pub fn key_ordered(mut self) -> Self {
        self.key_ordered = true;
        self
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
        self.positions.lookup(&self.table, &self.location, app_id).await
    }

    /// The position recorded for `source`, as of the last load or refresh (see [`SourceKey`]).
    /// `siblings` are the table's other sources, when it has several.
    pub async fn source_position(&self, source: &SourceKey, siblings: &[SourceKey]) -> Result<Option<i64>, TableError> {
        let direct = self.position(&source.app_id()).await?;
        source::resolve(&self.table, &self.location, source, siblings, direct).await
    }

    /// The table's `metaData.id`: what other tables key their positions in it by.
    pub fn table_id(&self) -> Result<String, TableError> {
        source::table_id(&self.table, &self.location)
    }

    /// What commit `version` recorded (files, positions, `commitInfo`).
    pub async fn entry(&self, version: u64) -> Result<VersionEntry, TableError> {
        reader::read_entry(&self.table, &self.location, version).await
    }

    /// [`Self::entry`], `None` when log cleanup removed it (for searches of recent commits).
    pub async fn kept_entry(&self, version: u64) -> Result<Option<VersionEntry>, TableError> {
        reader::read_kept_entry(&self.table, &self.location, version).await
    }

    /// Appends `batches` and records `positions` (app id → version) in the same commit. Empty
    /// batches write no file: a commit with none records only its positions.
    pub async fn append(&mut self, batches: &[RecordBatch], positions: &[(String, i64)]) -> Result<CommitInfo, TableError> {
        self.commit(Commit { rows: whole(batches), positions, change: Change::Append, parallel_encoding: false, metadata: None }).await
    }

    /// [`Self::append`], with `metadata` (a key and a value) in the commit's `commitInfo`: a
    /// decision the commit carries out, readable in the table's history. The batches are
    /// encoded on two threads, into two files (one when there is a single batch).
    pub async fn append_recording(
        &mut self,
        batches: &[RecordBatch],
        positions: &[(String, i64)],
        metadata: Option<(String, serde_json::Value)>,
    ) -> Result<CommitInfo, TableError> {
        self.commit(Commit { rows: whole(batches), positions, change: Change::Append, parallel_encoding: true, metadata }).await
    }

    /// [`Self::append_recording`] of rows built a part at a time while earlier parts are encoded,
    /// so that the commit never holds them all (a part that cannot be built fails the commit).
    /// The parts are encoded on two threads, into two files (one when there is a single part).
    pub async fn append_parts(
        &mut self,
        parts: RowParts<'_>,
        positions: &[(String, i64)],
        metadata: Option<(String, serde_json::Value)>,
    ) -> Result<CommitInfo, TableError> {
        self.commit(Commit { rows: parts, positions, change: Change::Append, parallel_encoding: true, metadata }).await
    }

    /// Replaces every row of the table with `batches` and records `positions`, in one commit
    /// (readers see the old rows or the new ones, never a mix).
    pub async fn replace(&mut self, batches: &[RecordBatch], positions: &[(String, i64)]) -> Result<CommitInfo, TableError> {
        self.commit(Commit { rows: whole(batches), positions, change: Change::ReplaceAll, parallel_encoding: false, metadata: None }).await
    }

    /// [`Self::replace`], adding to the table's schema the columns of `batches` it lacks (in the
    /// same commit): a table whose rows are rebuilt whole when their definition grows (the
    /// dimensions of a new master-data version).
    pub async fn replace_widening(&mut self, batches: &[RecordBatch], positions: &[(String, i64)]) -> Result<CommitInfo, TableError> {
        self.commit(Commit { rows: whole(batches), positions, change: Change::ReplaceAllWidening, parallel_encoding: false, metadata: None }).await
    }
}

#[cfg(test)]
mod tests;
