//! Compaction: the small files of one partition rewritten as a few larger ones, in one OPTIMIZE
//! commit whose adds and removes carry `dataChange = false`. Incremental readers count only
//! data-changing adds, so they skip it; the rows, their order within each old file, and every
//! column stay as they were.

use std::collections::BTreeMap;

use deltalake::kernel::transaction::CommitBuilder;
use deltalake::kernel::{Action, Remove};
use deltalake::protocol::DeltaOperation;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};

use super::super::reader::{Filled, read_data_file};
use super::super::{DataFile, StageTable, TableError};
use crate::config::MaintenanceConfig;

/// Small files of one partition that become one file.
pub(super) struct Bin {
    pub files: Vec<(DataFile, Remove)>,
    pub bytes: u64,
}

/// A small live file, with what is needed to read it back and to remove it.
struct SmallFile {
    modified: i64,
    file: DataFile,
    remove: Remove,
}

/// The bins one run compacts: per partition holding at least `min_small_files` small files,
/// oldest files first, packed up to `target_file_bytes`, at most `max_compaction_bytes` in all.
pub(super) fn plan(table: &StageTable, config: &MaintenanceConfig) -> Result<Vec<Bin>, TableError> {
    if table.key_ordered {
        return Ok(Vec::new());
    }
    let snapshot = table.table.snapshot().map_err(|e| TableError::Read { location: table.location.clone(), message: e.to_string() })?;
    let mut partitions: BTreeMap<Vec<(String, Option<String>)>, Vec<SmallFile>> = BTreeMap::new();
    for view in snapshot.log_data().into_iter() {
        let size = u64::try_from(view.size()).unwrap_or(0);
        if size >= config.small_file_bytes || view.deletion_vector_descriptor().is_some() {
            continue;
        }
        let partition_values = view.partition_values_map();
        let mut partition: Vec<(String, Option<String>)> = partition_values.clone().into_iter().collect();
        partition.sort();
        let file = DataFile { path: view.path().to_string(), size, partition_values };
        partitions.entry(partition).or_default().push(SmallFile { modified: view.modification_time(), file, remove: view.remove_action(false) });
    }
    let mut budget = config.max_compaction_bytes;
    let mut bins = Vec::new();
    for (_, mut files) in partitions {
        if files.len() < config.min_small_files {
            continue;
        }
        files.sort_by(|a, b| (a.modified, &a.file.path).cmp(&(b.modified, &b.file.path)));
        let mut bin = Bin { files: Vec::new(), bytes: 0 };
        for small in files {
            if small.file.size > budget {
                break;
            }
            if bin.bytes + small.file.size > config.target_file_bytes && !bin.files.is_empty() {
                let full = std::mem::replace(&mut bin, Bin { files: Vec::new(), bytes: 0 });
                bins.extend(Some(full).filter(|b| b.files.len() > 1));
            }
            budget -= small.file.size;
            bin.bytes += small.file.size;
            bin.files.push((small.file, small.remove));
        }
        bins.extend(Some(bin).filter(|b| b.files.len() > 1));
    }
    Ok(bins)
}

/// Rewrites `bins` and commits the result; the number of files written.
pub(super) async fn run(table: &mut StageTable, bins: Vec<Bin>, target_file_bytes: u64) -> Result<u64, TableError> {
    let location = table.location.clone();
    let write_error = |source| TableError::Write { location: location.clone(), source: Box::new(source) };
    let snapshot = table.table.snapshot().map_err(write_error)?.clone();
    let schema = snapshot.snapshot().arrow_schema();
    let store = table.table.log_store().object_store(None);
    let mut actions = Vec::new();
    let mut written = 0;
    for bin in bins {
        let mut writer = RecordBatchWriter::for_table(&table.table).map_err(write_error)?;
        if let Some(properties) = &table.writer_properties {
            writer = writer.with_writer_properties(properties.clone());
        }
        let adds = super::super::off_the_async_workers(async {
            for (file, _) in &bin.files {
                let filled = Filled { version_column: None, partition_values: &file.partition_values };
                for batch in read_data_file(&store, &location, file, &schema, &filled).await? {
                    writer.write(batch).await.map_err(write_error)?;
                }
            }
            writer.flush().await.map_err(write_error)
        })
        .await?;
        written += adds.len() as u64;
        actions.extend(adds.into_iter().map(|add| Action::Add(deltalake::kernel::Add { data_change: false, ..add })));
        actions.extend(bin.files.into_iter().map(|(_, remove)| Action::Remove(remove)));
    }
    let operation = DeltaOperation::Optimize { predicate: None, target_size: i64::try_from(target_file_bytes).unwrap_or(i64::MAX) };
    // A conflict (another maintenance run compacted some of the same files first) loses nothing.
    CommitBuilder::from(super::super::without_upkeep())
        .with_actions(actions)
        .build(Some(&snapshot), table.table.log_store(), operation)
        .await
        .map_err(|error| super::super::commit_failure(&location, error))?;
    table.table.update_state().await.map_err(write_error)?;
    Ok(written)
}
