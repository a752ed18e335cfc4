//! Where a target table stands in its source table, whatever URL reaches either of them.
//!
//! A stage that reads another table records its position there as a `txn` action with the app id
//! `<stage>:<source table id>`, the id being the source's `metaData.id`: the same lake reached as
//! `./lake`, `/srv/lake` or `file:///srv/lake` (or restored elsewhere) resumes where it was, and a
//! source recreated under the same path (a new id) is never mistaken for the old one.
//!
//! Lakes written before this keyed positions by the source's path as typed
//! (`silver:/srv/lake/bronze/purchase_order_items`). Such a position is adopted once, when the
//! target has no position under the new id: the newest commits are searched for a `txn` of the
//! same stage whose path ends with the source's table path. The next commit records the new id.
//!
//! A target that holds rows, or positions in another source, but none in this one was filled from
//! a different table (a recreated source, a lake assembled from two). Resuming it from the start
//! would append everything again, so the stage refuses to start ([`TableError::ForeignSource`]).
//! A target fed by several sources (`quality_daily`: silver and quarantine) names the others as
//! siblings: their positions are its own, and one of them is enough to own its rows.

use deltalake::DeltaTable;

use super::TableError;

/// How many of a target's newest commits are searched for a pre-identity position.
const LEGACY_SEARCH_VERSIONS: u64 = 100;

/// The `metaData.id` of `table`'s loaded version.
pub(crate) fn table_id(table: &DeltaTable, location: &str) -> Result<String, TableError> {
    let error = |message: String| TableError::Read { location: location.to_owned(), message };
    let snapshot = table.snapshot().map_err(|e| error(e.to_string()))?;
    // The kernel keeps `Metadata::id` crate-private; its serde form is the log's `metaData`.
    let metadata = serde_json::to_value(snapshot.metadata()).map_err(|e| error(e.to_string()))?;
    metadata.get("id").and_then(|id| id.as_str()).map(str::to_owned).ok_or_else(|| error("the table's metaData has no id".to_owned()))
}

/// A source table as targets record their positions in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceKey {
    /// The consuming stage's prefix: `silver`, `current`, `gold`.
    pub stage: &'static str,
    /// The source's `metaData.id`.
    pub source_id: String,
    /// The source's location, for messages.
    pub source_location: String,
    /// The source's path under the lake root (`bronze/purchase_order_items`): how a
    /// pre-identity position is recognised whatever the lake root was spelled as.
    pub source_table: String,
}

impl SourceKey {
    /// The key of the table at `source_location` (path `source_table` under the lake root).
    pub fn new(stage: &'static str, source_id: String, source_location: &str, source_table: &str) -> Self {
        Self { stage, source_id, source_location: source_location.to_owned(), source_table: source_table.trim_matches('/').to_owned() }
    }

    /// How silver, quarantine and quality_metrics record their position in bronze.
    pub fn silver(bronze_id: String, bronze_location: &str, bronze_table: &str) -> Self {
        Self::new("silver", bronze_id, bronze_location, bronze_table)
    }

    /// How the current-state table records its position in silver.
    pub fn current(silver_id: String, silver_location: &str, silver_table: &str) -> Self {
        Self::new("current", silver_id, silver_location, silver_table)
    }

    /// How the gold tables record their position in a source table (silver, and quarantine
    /// for `quality_daily`).
    pub fn gold(source_id: String, source_location: &str, source_table: &str) -> Self {
        Self::new("gold", source_id, source_location, source_table)
    }

    /// The `txn` app id targets record this source's position under.
    pub fn app_id(&self) -> String {
        format!("{}:{}", self.stage, self.source_id)
    }

    /// Whether `app_id` is this source's, under its table id or a pre-identity path.
    pub fn matches(&self, app_id: &str) -> bool {
        app_id == self.app_id() || self.is_legacy_app_id(app_id)
    }

    fn is_legacy_app_id(&self, app_id: &str) -> bool {
        app_id
            .strip_prefix(self.stage)
            .and_then(|rest| rest.strip_prefix(':'))
            .is_some_and(|path| path.trim_end_matches('/').ends_with(&format!("/{}", self.source_table)))
    }

    fn is_same_stage(&self, app_id: &str) -> bool {
        app_id.strip_prefix(self.stage).is_some_and(|rest| rest.starts_with(':'))
    }
}

/// The position `target` records for `source`: under the table-id app id, else a pre-identity
/// one adopted from its newest commits. A target that belongs to another source is an error;
/// `siblings` are the target's other sources.
/// `direct` is what the target records under the table-id app id.
pub(crate) async fn resolve(
    target: &DeltaTable,
    location: &str,
    source: &SourceKey,
    siblings: &[SourceKey],
    direct: Option<i64>,
) -> Result<Option<i64>, TableError> {
    if direct.is_some() {
        return Ok(direct);
    }
    let read_error = |message: String| TableError::Read { location: location.to_owned(), message };
    let snapshot = target.snapshot().map_err(|e| read_error(e.to_string()))?;
    let recent = recent_positions(target, location, source.stage).await?;
    if let Some((app_id, position)) = recent.iter().find(|(app_id, _)| source.is_legacy_app_id(app_id)) {
        tracing::info!(table = %location, legacy_app_id = %app_id, app_id = %source.app_id(), position, "adopting a position recorded under the source's path; the next commit records it under the source's table id");
        return Ok(Some(*position));
    }
    let is_sibling = |app_id: &str| siblings.iter().any(|s| s.matches(app_id));
    let owned_by_sibling = recent.iter().any(|(app_id, _)| is_sibling(app_id));
    let foreign: Vec<String> =
        recent.into_iter().map(|(app_id, _)| app_id).filter(|app_id| source.is_same_stage(app_id) && !is_sibling(app_id)).collect();
    let has_rows = snapshot.log_data().into_iter().next().is_some();
    if foreign.is_empty() && (owned_by_sibling || !has_rows) {
        return Ok(None);
    }
    Err(TableError::ForeignSource {
        location: location.to_owned(),
        source_location: source.source_location.clone(),
        app_id: source.app_id(),
        found: if foreign.is_empty() { "rows without any position".to_owned() } else { format!("positions of {}", foreign.join(", ")) },
    })
}

/// The `txn` positions of `stage` in the newest commits of `table` (newest value per app id).
async fn recent_positions(table: &DeltaTable, location: &str, stage: &str) -> Result<Vec<(String, i64)>, TableError> {
    let Some(latest) = table.version() else {
        return Ok(Vec::new());
    };
    let mut found: Vec<(String, i64)> = Vec::new();
    for version in (latest.saturating_sub(LEGACY_SEARCH_VERSIONS)..=latest).rev() {
        // Entries before the last checkpoint may be cleaned up: search what is there.
        let Some(entry) = super::reader::read_kept_entry(table, location, version).await? else { break };
        for (app_id, position) in entry.positions {
            if app_id.starts_with(stage) && !found.iter().any(|(seen, _)| *seen == app_id) {
                found.push((app_id, position));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::SourceKey;

    #[test]
    fn legacy_ids_are_recognised_by_the_source_table_path_under_any_root() {
        let key = SourceKey::new("silver", "0b6c".into(), "/srv/lake/bronze/purchase_order_items", "bronze/purchase_order_items");
        assert_eq!(key.app_id(), "silver:0b6c");
        for legacy in [
            "silver:lake/bronze/purchase_order_items",
            "silver:/srv/lake/bronze/purchase_order_items/",
            "silver:file:///srv/lake/bronze/purchase_order_items",
            "silver:az://c/lake/bronze/purchase_order_items",
        ] {
            assert!(key.is_legacy_app_id(legacy), "{legacy}");
        }
        for other in [
            "silver:0b6c",
            "silver:/srv/lake/bronze/purchase_order_items_v2",
            "gold:/srv/lake/bronze/purchase_order_items",
            "silverx:/a/bronze/purchase_order_items",
        ] {
            assert!(!key.is_legacy_app_id(other), "{other}");
        }
        assert!(key.is_same_stage("silver:1234") && !key.is_same_stage("silverx:1234"));
    }
}
