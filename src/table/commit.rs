//! One commit of a stage table: its rows encoded into files (a part at a time), its positions
//! as `txn` actions, what it does to the files already there, and how a failure is told apart.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use deltalake::DeltaTableError;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitConflictError, CommitProperties, TransactionError};
use deltalake::kernel::{Action, StructType, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter, WriteMode};

use super::{CommitInfo, StageTable, TableError, partition};

impl StageTable {
    pub(super) async fn commit(&mut self, commit: Commit<'_>) -> Result<CommitInfo, TableError> {
        let started = std::time::Instant::now();
        let write_error = |source| TableError::Write { location: self.location.clone(), source: Box::new(source) };
        let mut writer = self.new_writer().map_err(write_error)?;
        let widening = matches!(commit.change, Change::ReplaceAllWidening);
        let adds = self.write_files(&mut writer, commit.rows, &commit.change, commit.parallel_encoding).await.map_err(write_error)?;
        let info = CommitInfo { version: 0, files: adds.len() as u64, bytes: adds.iter().map(|add| u64::try_from(add.size).unwrap_or(0)).sum() };
        let label = crate::telemetry::TableLabel { table: self.location.clone() };
        for add in &adds {
            crate::telemetry::metrics().file_bytes.get_or_create(&label).observe(add.size as f64);
        }
        let transactions = commit.positions.iter().map(|(app_id, version)| Transaction::new(app_id, *version)).collect();
        let snapshot = self.table.snapshot().map_err(write_error)?;
        let mut actions: Vec<Action> = adds.into_iter().map(Action::Add).collect();
        let widened = if widening { self.widened_schema(snapshot, writer.arrow_schema())? } else { None };
        if let Some((metadata, _)) = &widened {
            actions.push(Action::Metadata(metadata.clone()));
        }
        let mode = match commit.change {
            Change::Append => SaveMode::Append,
            Change::ReplaceAll | Change::ReplaceAllWidening => {
                actions.extend(snapshot.log_data().into_iter().map(|file| Action::Remove(file.remove_action(true))));
                SaveMode::Overwrite
            }
            Change::Rewrite(removes) => {
                actions.extend(removes);
                SaveMode::Overwrite
            }
        };
        let partition_by = Some(snapshot.metadata().partition_columns().to_vec()).filter(|p| !p.is_empty());
        let operation = DeltaOperation::Write { mode, partition_by, predicate: None };
        let properties = without_upkeep().with_application_transactions(transactions).with_metadata(commit.metadata);
        let committed = CommitBuilder::from(properties).with_actions(actions).build(Some(snapshot), self.table.log_store(), operation).await;
        let version = committed.map_err(|error| commit_failure(&self.location, error))?.version();
        self.positions.committed(version, commit.positions);
        self.table.update_state().await.map_err(write_error)?;
        if let Some((_, schema)) = widened {
            self.schema = schema;
        }
        crate::telemetry::metrics().commit_seconds.get_or_create(&label).observe(started.elapsed().as_secs_f64());
        Ok(CommitInfo { version, ..info })
    }

    /// Encodes `rows` into new files with `writer` (and a second writer beside it when
    /// `parallel_encoding` allows), returning their `add` actions.
    async fn write_files(
        &self,
        writer: &mut RecordBatchWriter,
        rows: RowParts<'_>,
        change: &Change,
        parallel_encoding: bool,
    ) -> Result<Vec<deltalake::kernel::Add>, DeltaTableError> {
        let partition_columns = self.table.snapshot()?.metadata().partition_columns().to_vec();
        if parallel_encoding && matches!(change, Change::Append) && multi_threaded_runtime() {
            let second = self.new_writer()?;
            return tokio::task::block_in_place(|| encode_on_two_threads(writer, second, rows, &partition_columns));
        }
        let one_file_per_batch = matches!(change, Change::Rewrite(_));
        let widening = matches!(change, Change::ReplaceAllWidening);
        off_the_async_workers(async {
            let mut adds = Vec::new();
            for batch in rows {
                write_batch(writer, batch?, &partition_columns, widening).await?;
                if one_file_per_batch {
                    adds.extend(writer.flush().await?);
                }
            }
            adds.extend(writer.flush().await?);
            Ok(adds)
        })
        .await
    }

    fn new_writer(&self) -> Result<RecordBatchWriter, DeltaTableError> {
        let writer = RecordBatchWriter::for_table(&self.table)?;
        Ok(match &self.writer_properties {
            Some(properties) => writer.with_writer_properties(properties.clone()),
            None => writer,
        })
    }

    /// The metadata action (and the Arrow schema) that widens the table to `written`, the
    /// schema a [`WriteMode::MergeSchema`] writer ended with; `None` when it adds no column.
    fn widened_schema(
        &self,
        snapshot: &deltalake::table::state::DeltaTableState,
        written: SchemaRef,
    ) -> Result<Option<(deltalake::kernel::Metadata, SchemaRef)>, TableError> {
        use deltalake::kernel::MetadataExt;
        let schema_error = |e: &dyn std::fmt::Display| TableError::Schema { location: self.location.clone(), detail: e.to_string() };
        let columns: StructType = written.as_ref().try_into_kernel().map_err(|e| schema_error(&e))?;
        if columns == *snapshot.schema().as_ref() {
            return Ok(None);
        }
        let metadata = snapshot.metadata().clone().with_schema(&columns).map_err(|e| schema_error(&e))?;
        Ok(Some((metadata, written)))
    }
}

/// Writes `batch` into the file of its partition (every row of a batch written here shares its
/// partition values, or the writer splits it); `widening` adds the columns the table lacks.
async fn write_batch(
    writer: &mut RecordBatchWriter,
    batch: RecordBatch,
    partition_columns: &[String],
    widening: bool,
) -> Result<(), DeltaTableError> {
    if batch.num_rows() == 0 {
        return Ok(());
    }
    let mode = if widening { WriteMode::MergeSchema } else { WriteMode::Default };
    match partition::uniform_partition_values(&batch, partition_columns).filter(|_| !widening) {
        Some(values) => writer.write_partition(batch, &values, mode).await.map(drop),
        None => writer.write_with_mode(batch, mode).await,
    }
}

/// Encodes `rows` into files of two writers at once, `first` on this thread and `second` on a
/// helper, each taking the next batch when it is done with its last (a batch is built when it
/// is taken), so that building and encoding rows (most of silver's work after the rules, and
/// of bronze's writer) takes both cores instead of one. Files are finished only when every batch is written, so a failure
/// on either side leaves none to commit. Needs a multi-threaded runtime: the writers are driven
/// from outside it.
fn encode_on_two_threads(
    first: &mut RecordBatchWriter,
    mut second: RecordBatchWriter,
    rows: RowParts<'_>,
    partition_columns: &[String],
) -> Result<Vec<deltalake::kernel::Add>, DeltaTableError> {
    let handle = tokio::runtime::Handle::current();
    let rows = std::sync::Mutex::new(rows);
    let encode = |writer: &mut RecordBatchWriter| -> Result<(), DeltaTableError> {
        // A panic while building a batch is reported by its thread's result below.
        let next = || rows.lock().unwrap_or_else(std::sync::PoisonError::into_inner).next();
        while let Some(batch) = next() {
            handle.block_on(write_batch(writer, batch?, partition_columns, false))?;
        }
        Ok(())
    };
    let (own, theirs) = std::thread::scope(|scope| {
        let helper = scope.spawn(|| encode(&mut second));
        let own = encode(first);
        (own, helper.join())
    });
    own?;
    theirs.unwrap_or_else(|_| Err(DeltaTableError::Generic("the second Parquet encoder panicked".to_owned())))?;
    handle.block_on(async {
        let mut adds = first.flush().await?;
        adds.extend(second.flush().await?);
        Ok(adds)
    })
}

fn multi_threaded_runtime() -> bool {
    tokio::runtime::Handle::current().runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
}

/// Rows a commit adds, taken one batch at a time as they are encoded: a batch may be built only
/// when it is taken (see [`StageTable::append_parts`]).
pub type RowParts<'a> = Box<dyn Iterator<Item = Result<RecordBatch, arrow::error::ArrowError>> + Send + 'a>;

pub(super) fn whole(batches: &[RecordBatch]) -> RowParts<'_> {
    Box::new(batches.iter().cloned().map(Ok))
}

/// One commit: the rows it adds, the positions it records, what it does to the live files.
pub(super) struct Commit<'a> {
    pub(super) rows: RowParts<'a>,
    pub(super) positions: &'a [(String, i64)],
    pub(super) change: Change,
    /// Encodes the rows on two threads (into two files) when there are two batches or more.
    pub(super) parallel_encoding: bool,
    pub(super) metadata: Option<(String, serde_json::Value)>,
}

/// What a commit does to the files already there.
pub(super) enum Change {
    /// Keeps them.
    Append,
    /// Removes them all.
    ReplaceAll,
    /// Removes them all, adding the new rows' columns the table lacks to its schema.
    ReplaceAllWidening,
    /// Removes these (and writes each batch as a file of its own).
    Rewrite(Vec<Action>),
}

/// Why a commit to the table at `location` failed: another writer's commit of the same `txn`
/// positions, another conflicting commit (a concurrent writer of a replaced table, two gold
/// refreshes; two compactions of the same files; the metadata), or storage.
pub(super) fn commit_failure(location: &str, error: DeltaTableError) -> TableError {
    match error {
        DeltaTableError::Transaction { source: TransactionError::CommitConflict(CommitConflictError::ConcurrentTransaction) } => {
            TableError::TxnConflict { location: location.to_owned() }
        }
        DeltaTableError::Transaction { source: TransactionError::CommitConflict(conflict) } => {
            TableError::Conflict { location: location.to_owned(), message: conflict.to_string() }
        }
        source => TableError::Write { location: location.to_owned(), source: Box::new(source) },
    }
}

/// Commit properties without delta-rs's post-commit upkeep: its expired-log cleanup lists the
/// whole `_delta_log` after every commit, and its checkpoint makes every hundredth commit slow.
/// Each stage checkpoints and cleans up its tables itself, between commits (see `maintain`).
pub(crate) fn without_upkeep() -> CommitProperties {
    CommitProperties::default().with_create_checkpoint(false).with_cleanup_expired_logs(Some(false))
}

/// Runs `work` (Parquet encoding: CPU-bound, up to hundreds of milliseconds) without holding an
/// async worker: on the multi-threaded runtime the worker is handed to another thread for the
/// duration, so the runtime's other tasks keep being polled (in `medallion run`, bronze's writer
/// task commits while the task running the stages goes on consuming, and the other way round).
/// The calling task itself waits, as it would have anyway. On a current-thread runtime (tests)
/// it simply runs.
pub(super) async fn off_the_async_workers<T>(work: impl std::future::Future<Output = T>) -> T {
    if multi_threaded_runtime() {
        let handle = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| handle.block_on(work))
    } else {
        work.await
    }
}
