//! Maintenance of real Delta tables in temporary directories, read back by fresh readers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Date32Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::{SortColumn, lexsort_to_indices, take_record_batch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::config::MaintenanceConfig;
use crate::table::{StageTable, TableReader};

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, true),
        Field::new("offset", DataType::Int64, false),
        Field::new("day", DataType::Date32, false),
    ]))
}

fn batch(offsets: std::ops::Range<i64>) -> RecordBatch {
    let names: StringArray = offsets.clone().map(|o| Some(format!("row-{o}"))).collect();
    let days = Date32Array::from(offsets.clone().map(|o| 20_000 + (o % 2) as i32).collect::<Vec<i32>>());
    RecordBatch::try_new(schema(), vec![Arc::new(names), Arc::new(Int64Array::from_iter_values(offsets)), Arc::new(days)]).unwrap()
}

/// Compacts anything, deletes removed files and expired logs at once (beyond readers' needs).
fn eager() -> MaintenanceConfig {
    MaintenanceConfig { min_small_files: 2, log_retention: Duration::ZERO, vacuum_retention: Duration::ZERO, ..MaintenanceConfig::default() }
}

/// A table partitioned by `day`, one commit per row: 40 small files in two partitions.
async fn small_files(dir: &tempfile::TempDir) -> (String, StageTable) {
    let location = dir.path().join("t").display().to_string();
    let mut table = StageTable::open_or_create(&location, HashMap::new(), schema(), &["day"]).await.unwrap();
    for offset in 0..40 {
        table.append(&[batch(offset..offset + 1)], &[("app:0".to_owned(), offset)]).await.unwrap();
    }
    (location, table)
}

/// Every row as a fresh reader sees it, sorted by offset.
async fn rows(location: &str) -> RecordBatch {
    let reader = TableReader::open(location, HashMap::new()).await.unwrap().unwrap();
    let all = reader.read_all(&schema()).await.unwrap();
    let order = lexsort_to_indices(&[SortColumn { values: all.column(1).clone(), options: None }], None).unwrap();
    take_record_batch(&all, &order).unwrap()
}

async fn live_files(location: &str) -> usize {
    TableReader::open(location, HashMap::new()).await.unwrap().unwrap().live_files().unwrap().len()
}

#[tokio::test]
async fn compaction_keeps_every_row_and_incremental_readers_skip_it() {
    let dir = tempfile::tempdir().unwrap();
    let (location, mut table) = small_files(&dir).await;
    let before = rows(&location).await;
    let keep_logs = MaintenanceConfig { log_retention: Duration::from_secs(3600), ..eager() };
    let report = table.maintain(&keep_logs, None, false).await.unwrap();
    assert_eq!((report.compacted_files, report.written_files), (40, 2), "{report:?}");
    assert_eq!(live_files(&location).await, 2);
    assert_eq!(rows(&location).await, before, "rows, partition values included, unchanged");
    let reader = TableReader::open(&location, HashMap::new()).await.unwrap().unwrap();
    // Version 41 sets the tombstone retention; 42 compacts.
    let retention = reader.entry(41).await.unwrap();
    assert_eq!(retention.operation.as_deref(), Some("SET TBLPROPERTIES"));
    assert!(retention.appended_only(&location, 41).unwrap().is_empty());
    let compaction = reader.entry(42).await.unwrap();
    assert_eq!(compaction.operation.as_deref(), Some("OPTIMIZE"));
    assert!(compaction.appended_only(&location, 42).unwrap().is_empty(), "an incremental reader reads nothing from it");
    assert_eq!(table.position("app:0").await.unwrap(), Some(39));
}

#[tokio::test]
async fn vacuum_and_log_cleanup_keep_what_a_reader_has_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let (location, mut table) = small_files(&dir).await;
    // A downstream reader has read up to version 30: versions 31.. are still to be read.
    let report = table.maintain(&eager(), Some(31), false).await.unwrap();
    assert_eq!(report.vacuumed_files, 0, "every removed file was removed after version 31: {report:?}");
    let reader = TableReader::open(&location, HashMap::new()).await.unwrap().unwrap();
    for version in 31..=40 {
        let files = reader.entry(version).await.unwrap().appended_only(&location, version).unwrap();
        let read = reader.read(&files, &schema(), None).await.unwrap();
        assert_eq!(read.num_rows(), 1, "version {version} still reads");
    }
    // Once the reader is done, removed files go, and logs before the checkpoint.
    let report = table.maintain(&eager(), None, false).await.unwrap();
    assert_eq!(report.vacuumed_files, 40, "{report:?}");
    assert!(report.logs_removed > 0, "{report:?}");
    let log = dir.path().join("t/_delta_log");
    assert!(!log.join(format!("{:020}.json", 1)).exists());
    assert_eq!(rows(&location).await.num_rows(), 40);
    assert_eq!(StageTable::open_or_create(&location, HashMap::new(), schema(), &["day"]).await.unwrap().position("app:0").await.unwrap(), Some(39));
    // The table still takes commits after its old logs are gone.
    table.append(&[batch(40..41)], &[("app:0".to_owned(), 40)]).await.unwrap();
    assert_eq!(rows(&location).await.num_rows(), 41);
}

#[tokio::test]
async fn a_dry_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut table) = small_files(&dir).await;
    table.maintain(&MaintenanceConfig { min_small_files: 1000, log_retention: Duration::from_secs(3600), ..eager() }, None, false).await.unwrap();
    table.append(&[batch(40..41)], &[("app:0".to_owned(), 40)]).await.unwrap();
    let listing = |dir: &std::path::Path| {
        let mut names: Vec<String> = walk(dir);
        names.sort();
        names
    };
    let before = listing(dir.path());
    let report = table.maintain(&eager(), None, true).await.unwrap();
    assert!(report.compacted_files == 41 && report.logs_removed > 0, "the dry run found work: {report:?}");
    assert_eq!(listing(dir.path()), before);
    assert_eq!(table.version(), Some(42), "40 appends, the tombstone retention, one more append");
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path.display().to_string());
        }
    }
    found
}
