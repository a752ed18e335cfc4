//! Expired commit files: what delta-rs's own cleanup does, with a floor below which nothing is
//! deleted (a downstream reader's next version), and a dry run.

use std::time::SystemTime;

use deltalake::Path;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;

use super::super::{StageTable, TableError};

/// A file of `_delta_log` named after a version: a commit, a checkpoint (single or part) or a
/// checksum.
struct LogFile {
    path: Path,
    version: u64,
    checkpoint: bool,
    modified: SystemTime,
}

fn parse(meta: object_store::ObjectMeta) -> Option<LogFile> {
    let name = meta.location.filename()?;
    let (digits, rest) = name.split_once('.')?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let checkpoint = rest.starts_with("checkpoint") && rest.ends_with(".parquet");
    if !(checkpoint || rest == "json" || rest == "crc") {
        return None;
    }
    Some(LogFile { version: digits.parse().ok()?, checkpoint, modified: meta.last_modified.into(), path: meta.location })
}

async fn list(table: &StageTable) -> Result<Vec<LogFile>, TableError> {
    let store = table.table.log_store().object_store(None);
    let listed: Vec<object_store::ObjectMeta> = store
        .list(Some(&Path::from("_delta_log")))
        .try_collect()
        .await
        .map_err(|e| TableError::Read { location: table.location.clone(), message: format!("listing _delta_log: {e}") })?;
    Ok(listed.into_iter().filter_map(parse).collect())
}

/// Deletes the files of versions older than `cutoff` and below the newest checkpoint at or
/// before `keep_from` (and before every version younger than `cutoff`): every version from
/// there on stays readable. Returns how many files were (with `dry_run`: would be) deleted.
pub(super) async fn remove_expired(table: &StageTable, keep_from: u64, cutoff: SystemTime, dry_run: bool) -> Result<u64, TableError> {
    let files = list(table).await?;
    let oldest_retained = files.iter().filter(|f| f.modified >= cutoff && !f.checkpoint).map(|f| f.version).min();
    let keep_from = oldest_retained.map_or(keep_from, |young| young.min(keep_from));
    let Some(safe_checkpoint) = files.iter().filter(|f| f.checkpoint && f.version <= keep_from).map(|f| f.version).max() else {
        return Ok(0);
    };
    let expired: Vec<&LogFile> = files.iter().filter(|f| f.version < safe_checkpoint && f.modified < cutoff).collect();
    if dry_run {
        return Ok(expired.len() as u64);
    }
    let store = table.table.log_store().object_store(None);
    for file in &expired {
        match store.delete(&file.path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                return Err(TableError::Maintain { location: table.location.clone(), message: format!("deleting {}: {e}", file.path) });
            }
        }
    }
    Ok(expired.len() as u64)
}

/// When `version` was committed (its commit file's modification time); `None` when the file
/// is gone.
pub(super) async fn commit_time(table: &StageTable, version: u64) -> Result<Option<SystemTime>, TableError> {
    let store = table.table.log_store().object_store(None);
    match store.head(&Path::from(format!("_delta_log/{version:020}.json"))).await {
        Ok(meta) => Ok(Some(meta.last_modified.into())),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(TableError::Read { location: table.location.clone(), message: format!("version {version}: {e}") }),
    }
}
