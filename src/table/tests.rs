//! StageTable against real Delta tables in temporary directories.

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

/// Every `offset` value in the table, read from its Parquet files by a fresh reader.
async fn offsets_in_storage(location: &str) -> Vec<i64> {
    let reader = TableReader::open(location, HashMap::new()).await.unwrap().unwrap();
    let batch = reader.read_all(&schema()).await.unwrap();
    let mut offsets = batch.column_by_name("offset").unwrap().as_primitive::<Int64Type>().values().to_vec();
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
async fn positions_follow_other_writers_commits_without_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("positions").display().to_string();
    let mut table = StageTable::open_or_create(&location, HashMap::new(), schema(), &[]).await.unwrap();
    let mut other = StageTable::open_or_create(&location, HashMap::new(), schema(), &[]).await.unwrap();
    for offset in 0..100 {
        table.append(&[batch(offset..offset + 1)], &[("app:0".to_owned(), offset)]).await.unwrap();
        if offset % 10 == 0 {
            other.refresh().await.unwrap();
            other.append(&[], &[(format!("app:{}", offset / 10 + 1), offset)]).await.unwrap();
            table.refresh().await.unwrap();
        }
        assert_eq!(table.position("app:0").await.unwrap(), Some(offset));
    }
    // Commits leave checkpoints to maintenance.
    assert!(!dir.path().join("positions/_delta_log/_last_checkpoint").exists());
    assert_eq!(table.position("app:10").await.unwrap(), Some(90), "another writer's position, carried forward");
    assert_eq!(table.position("app:11").await.unwrap(), None);
    let reopened = StageTable::open_or_create(&location, HashMap::new(), schema(), &[]).await.unwrap();
    assert_eq!(reopened.position("app:0").await.unwrap(), Some(99));
    assert_eq!(reopened.position("app:5").await.unwrap(), Some(40));
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

#[tokio::test]
async fn replace_swaps_every_row_in_one_commit() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("replaced").display().to_string();
    let mut table = StageTable::open_or_create(&location, HashMap::new(), schema(), &[]).await.unwrap();
    table.append(&[batch(0..5)], &[("app:0".to_owned(), 4)]).await.unwrap();
    table.append(&[batch(5..7)], &[("app:0".to_owned(), 6)]).await.unwrap();
    let info = table.replace(&[batch(10..12)], &[("app:0".to_owned(), 11)]).await.unwrap();
    assert_eq!(info.version, 3);
    assert_eq!(offsets_in_storage(&location).await, vec![10, 11]);
    let reopened = StageTable::open_or_create(&location, HashMap::new(), schema(), &[]).await.unwrap();
    assert_eq!(reopened.position("app:0").await.unwrap(), Some(11));
    // Replacing with nothing leaves an empty table that still records its position.
    table.replace(&[], &[("app:0".to_owned(), 12)]).await.unwrap();
    assert!(offsets_in_storage(&location).await.is_empty());
}

#[tokio::test]
async fn a_widening_replace_adds_the_new_columns() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("widened").display().to_string();
    let mut table = StageTable::open_or_create(&location, HashMap::new(), schema(), &[]).await.unwrap();
    table.append(&[batch(0..3)], &[("app:0".to_owned(), 1)]).await.unwrap();
    let wider = Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, true),
        Field::new("offset", DataType::Int64, false),
        Field::new("extra", DataType::Utf8, false),
    ]));
    let rows = RecordBatch::try_new(
        wider.clone(),
        vec![Arc::new(StringArray::from(vec!["a", "b"])), Arc::new(Int64Array::from(vec![7, 8])), Arc::new(StringArray::from(vec!["x", "y"]))],
    )
    .unwrap();
    assert!(table.replace(std::slice::from_ref(&rows), &[("app:0".to_owned(), 2)]).await.is_err(), "a plain replace keeps the schema");
    table.replace_widening(std::slice::from_ref(&rows), &[("app:0".to_owned(), 2)]).await.unwrap();
    let reopened = StageTable::open_or_create(&location, HashMap::new(), wider.clone(), &[]).await.unwrap();
    assert_eq!(reopened.position("app:0").await.unwrap(), Some(2));
    let read = TableReader::open(&location, HashMap::new()).await.unwrap().unwrap().read_all(&wider).await.unwrap();
    assert_eq!(read.column_by_name("extra").unwrap().as_string::<i32>().iter().flatten().collect::<Vec<_>>(), ["x", "y"]);
    assert_eq!(offsets_in_storage(&location).await, vec![7, 8]);
}

#[tokio::test]
async fn an_older_table_gains_the_nullable_columns_a_stage_added() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("grown").display().to_string();
    let mut old = StageTable::open_or_create(&location, HashMap::new(), schema(), &[]).await.unwrap();
    old.append(&[batch(0..3)], &[("app:0".to_owned(), 2)]).await.unwrap();

    // A later version writes a nullable column between the two.
    let grown = Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, true),
        Field::new("host", DataType::Utf8, true),
        Field::new("offset", DataType::Int64, false),
    ]));
    let mut table = StageTable::open_or_create(&location, HashMap::new(), grown.clone(), &[]).await.unwrap();
    assert_eq!(table.version(), Some(2), "one metadata-only commit adds the column");
    assert_eq!(table.position("app:0").await.unwrap(), Some(2));
    let hosts: StringArray = vec![Some("worker-a"); 2].into_iter().collect();
    let names: StringArray = vec![Some("row-3"), Some("row-4")].into_iter().collect();
    let rows = RecordBatch::try_new(grown.clone(), vec![Arc::new(names), Arc::new(hosts), Arc::new(Int64Array::from(vec![3, 4]))]).unwrap();
    table.append(&[rows], &[("app:0".to_owned(), 4)]).await.unwrap();

    let reader = TableReader::open(&location, HashMap::new()).await.unwrap().unwrap();
    let columns: Vec<String> = reader.schema().unwrap().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(columns, ["name", "host", "offset"]);
    let all = reader.read_all(&grown).await.unwrap();
    let hosts = all.column_by_name("host").unwrap().as_string::<i32>();
    assert_eq!(hosts.iter().filter(|h| h.is_none()).count(), 3, "the older rows read the new column as null");
    assert_eq!(hosts.iter().flatten().collect::<Vec<_>>(), ["worker-a", "worker-a"]);
    // Opening again changes nothing.
    let again = StageTable::open_or_create(&location, HashMap::new(), grown, &[]).await.unwrap();
    assert_eq!(again.version(), Some(3));
}

#[tokio::test]
async fn a_missing_column_that_cannot_be_null_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("strict").display().to_string();
    StageTable::open_or_create(&location, HashMap::new(), schema(), &[]).await.unwrap();
    let stricter = Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, true),
        Field::new("offset", DataType::Int64, false),
        Field::new("partition", DataType::Int32, false),
    ]));
    let error = StageTable::open_or_create(&location, HashMap::new(), stricter, &[]).await.err().expect("a non-nullable column is missing");
    assert!(matches!(&error, TableError::Schema { .. }), "{error}");
    assert!(error.to_string().contains("partition"), "{error}");
}
