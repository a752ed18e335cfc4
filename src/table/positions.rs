//! `txn` positions without replaying the log at every lookup.
//!
//! delta-rs answers a position by scanning the checkpoint and every commit file after it, so a
//! writer asking for each partition's position before each commit re-reads up to a checkpoint
//! interval of files per partition per commit. Here positions are remembered as of a version and
//! carried forward from the commits in between: the writer's own commits cost nothing (it knows
//! what it recorded), another writer's commit costs one read of its entry. delta-rs is asked only
//! for an app id not seen yet, or when the gap is too wide to walk.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use deltalake::DeltaTable;

use super::TableError;

/// Beyond this many versions between the remembered one and the table's, asking delta-rs is
/// cheaper than reading every entry in between.
const MAX_VERSIONS_WALKED: u64 = 64;

/// Positions (app id → version, `None`: never recorded) as of one table version. Shared by the
/// clones of one table handle.
#[derive(Debug, Clone, Default)]
pub(super) struct PositionCache {
    inner: Arc<Mutex<Known>>,
}

#[derive(Debug, Default, Clone)]
struct Known {
    version: Option<u64>,
    positions: HashMap<String, Option<i64>>,
}

impl PositionCache {
    fn snapshot(&self) -> Known {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn store(&self, known: Known) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        // Never go back to an older version (another clone may have moved on).
        if inner.version.is_none_or(|v| known.version.is_some_and(|k| k >= v)) {
            *inner = known;
        }
    }

    /// The position of `app_id` as of `table`'s loaded version.
    pub(super) async fn lookup(&self, table: &DeltaTable, location: &str, app_id: &str) -> Result<Option<i64>, TableError> {
        let Some(version) = table.version() else {
            return Ok(None);
        };
        let mut known = self.snapshot();
        if known.version == Some(version)
            && let Some(position) = known.positions.get(app_id)
        {
            return Ok(*position);
        }
        if known.version != Some(version) {
            known = walk_forward(table, location, known, version).await?;
        }
        if let Some(position) = known.positions.get(app_id) {
            let position = *position;
            self.store(known);
            return Ok(position);
        }
        let read_error = |e: deltalake::DeltaTableError| TableError::Read { location: location.to_owned(), message: e.to_string() };
        let snapshot = table.snapshot().map_err(read_error)?;
        let position = snapshot.transaction_version(table.log_store().as_ref(), app_id).await.map_err(read_error)?;
        known.positions.insert(app_id.to_owned(), position);
        self.store(known);
        Ok(position)
    }

    /// Records what this handle's own commit `version` wrote, when the cache stood at the
    /// version before it.
    pub(super) fn committed(&self, version: u64, positions: &[(String, i64)]) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if version > 0 && inner.version == Some(version - 1) {
            inner.version = Some(version);
            for (app_id, position) in positions {
                inner.positions.insert(app_id.clone(), Some(*position));
            }
        }
    }
}

/// `known` carried forward to `version` through the entries in between, or started afresh at
/// `version` when that is too far or an entry is gone.
async fn walk_forward(table: &DeltaTable, location: &str, mut known: Known, version: u64) -> Result<Known, TableError> {
    let fresh = Known { version: Some(version), positions: HashMap::new() };
    let Some(from) = known.version.filter(|&from| from < version && version - from <= MAX_VERSIONS_WALKED) else {
        return Ok(fresh);
    };
    for entry_version in from + 1..=version {
        let Some(entry) = super::reader::read_kept_entry(table, location, entry_version).await? else {
            return Ok(fresh);
        };
        for (app_id, position) in entry.positions {
            known.positions.insert(app_id, Some(position));
        }
    }
    known.version = Some(version);
    Ok(known)
}
