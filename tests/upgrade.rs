//! A lake written before this version's columns existed resumes after the upgrade: bronze
//! (lineage), silver and quarantine (`dqx_criticality_level`), `quality_metrics` and
//! `quality_daily` (the quality gate) are opened by the new stages, gain the columns in an
//! `ADD COLUMN` commit, and every message still lands exactly once.
//!
//! The previous version's tables are made by taking a lake this version wrote and removing the
//! new columns from each table's schema (a `metaData` commit, the table ids kept): readers and
//! writers see exactly the schema an older medallion left, though its files still hold the
//! columns physically.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::collections::HashSet;

use common::{Lake, OutputWithin, medallion, read_bronze, read_table, run_ok, unique_topic};

/// Each table this version widened, with the columns it added.
const ADDED: [(&str, &[&str]); 5] = [
    ("bronze/purchase_order_items", &["consumer_group", "worker_host", "worker_pid", "ingestion_hour"]),
    ("silver/purchase_order_items", &["dqx_criticality_level"]),
    ("silver/purchase_order_items_quarantine", &["dqx_criticality_level"]),
    ("silver/quality_metrics", &["error_pass_share", "quality_threshold", "below_threshold"]),
    ("gold/quality_daily", &["error_pass_share", "quality_threshold", "below_threshold"]),
];

fn produce_and_run(lake: &Lake, topic: &str, count: u64, seed: u64) {
    run_ok(&["produce", "--count", &count.to_string(), "--seed", &seed.to_string(), "--invalid-ratio", "0.1", "--topic", topic]);
    let output = medallion().args(["run", "--until-caught-up", "--topic", topic, "--group", "upgrade", "--lake", &lake.root()]).output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// The table's column names, from its log.
fn columns(location: &str) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let table = deltalake::open_table(deltalake::table::builder::ensure_table_uri(location).unwrap()).await.unwrap();
        table.snapshot().unwrap().schema().fields().map(|f| f.name().clone()).collect()
    })
}

/// Removes `dropped` from the schema of the table at `location`, as if an older medallion had
/// created it.
fn remove_columns(location: &str, dropped: &[&str]) {
    use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
    use deltalake::kernel::{Action, MetadataExt, StructType};
    use deltalake::protocol::DeltaOperation;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let table = deltalake::open_table(deltalake::table::builder::ensure_table_uri(location).unwrap()).await.unwrap();
        let snapshot = table.snapshot().unwrap();
        let older = StructType::try_new(snapshot.schema().fields().filter(|f| !dropped.contains(&f.name().as_str())).cloned()).unwrap();
        let metadata = snapshot.metadata().clone().with_schema(&older).unwrap();
        let operation = DeltaOperation::SetTableProperties { properties: Default::default() };
        CommitBuilder::from(CommitProperties::default())
            .with_actions(vec![Action::Metadata(metadata)])
            .build(Some(snapshot), table.log_store(), operation)
            .await
            .unwrap();
    });
}

fn long_sum(batch: &arrow::array::RecordBatch, column: &str) -> i64 {
    use arrow::array::AsArray;
    batch.column_by_name(column).unwrap().as_primitive::<arrow::datatypes::Int64Type>().iter().flatten().sum()
}

#[test]
fn a_lake_without_the_new_columns_resumes_exactly_once() {
    let (topic, lake) = (unique_topic("upgrade"), Lake::new());
    produce_and_run(&lake, &topic, 1_500, 1);
    for (table, added) in ADDED {
        remove_columns(&lake.table(table), added);
        let left = columns(&lake.table(table));
        assert!(added.iter().all(|column| !left.iter().any(|c| c == column)), "{table}: {left:?}");
    }

    produce_and_run(&lake, &topic, 700, 2);
    for (table, added) in ADDED {
        let now = columns(&lake.table(table));
        assert!(added.iter().all(|column| now.iter().any(|c| c == column)), "{table} gained {added:?}: {now:?}");
        let log = std::fs::read_dir(std::path::Path::new(&lake.table(table)).join("_delta_log")).unwrap();
        let widened = log.filter_map(|entry| std::fs::read_to_string(entry.unwrap().path()).ok()).any(|text| text.contains("\"ADD COLUMN\""));
        assert!(widened, "{table}: no ADD COLUMN commit");
    }
    let bronze = read_bronze(&lake.bronze());
    let positions: HashSet<(i32, i64)> = bronze.iter().map(|row| (row.partition, row.offset)).collect();
    assert_eq!((bronze.len(), positions.len()), (2_200, 2_200), "every message once in bronze");
    let (silver, quarantine) = (read_table(&lake.table(ADDED[1].0)), read_table(&lake.table(ADDED[2].0)));
    assert_eq!(silver.num_rows() + quarantine.num_rows(), 2_200, "every bronze row once in silver or quarantine");
    let metrics = read_table(&lake.table(ADDED[3].0));
    assert_eq!(long_sum(&metrics, "input_rows"), 2_200, "quality_metrics counts every row once");
    let daily = read_table(&lake.table(ADDED[4].0));
    assert_eq!(long_sum(&daily, "rows"), 2_200, "quality_daily counts every row once");
}
