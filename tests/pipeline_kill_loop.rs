//! `medallion run` SIGKILLed at random moments and restarted, then finished with
//! `--until-caught-up`, ends with the same bronze, silver, quarantine, current and gold tables as
//! one clean run over the same topic (compared row by row as read back from storage, every column
//! but those that record when or in which run a row was written; the failures in `_errors` and
//! `_warnings` without their run id and time).
//!
//! Longer run by hand: `PIPELINE_KILL_LOOP_EVENTS=500000 PIPELINE_KILL_LOOP_KILLS=10
//! PIPELINE_KILL_LOOP_MIN_PAUSE_MS=3500 cargo test --release --test pipeline_kill_loop -- --nocapture`.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, ListArray, RecordBatch, StructArray};
use arrow::datatypes::{Field, FieldRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use common::{Lake, OutputWithin, PROCESS_DEADLINE, medallion, read_table, run_ok, send_raw, send_signal, undecodable_payloads, unique_topic};

/// Columns that say when or in which run a row was written, not what it holds.
const RUN_SPECIFIC: [&str; 8] = [
    "ingestion_timestamp",
    "consumer_group",
    "worker_pid",
    "ingestion_hour",
    "ingestion_date",
    "bronze_version",
    "dqx_validation_timestamp",
    "dqx_lineage_id",
];
/// The fields of `_errors`/`_warnings` entries that name the run, not the failure.
const RUN_FIELDS: [&str; 2] = ["run_time", "run_id"];

/// `column` without [`RUN_FIELDS`] in the structs of a list (`_errors`, `_warnings`); other
/// columns as they are.
fn without_run_fields(column: &ArrayRef) -> ArrayRef {
    let Some(list) = column.as_list_opt::<i32>() else { return column.clone() };
    let Some(items) = list.values().as_struct_opt() else { return column.clone() };
    let (fields, columns): (Vec<FieldRef>, Vec<ArrayRef>) = items
        .fields()
        .iter()
        .zip(items.columns())
        .filter(|(f, _)| !RUN_FIELDS.contains(&f.name().as_str()))
        .map(|(f, c)| (f.clone(), c.clone()))
        .unzip();
    let items = StructArray::new(fields.into(), columns, items.nulls().cloned());
    let item = Arc::new(Field::new("item", items.data_type().clone(), true));
    Arc::new(ListArray::new(item, list.offsets().clone(), Arc::new(items), list.nulls().cloned()))
}

const TABLES: [&str; 8] = [
    "bronze/purchase_order_items",
    "silver/purchase_order_items",
    "silver/purchase_order_items_quarantine",
    "silver/purchase_order_items_current",
    "gold/order_status",
    "gold/product_sales_monthly",
    "gold/vendor_spend_quarterly",
    "gold/quality_daily",
];

/// Every row of `batch` rendered as text (run-specific columns left out), sorted.
fn rows_as_text(batch: &RecordBatch) -> Vec<String> {
    let options = FormatOptions::default();
    let kept: Vec<(String, ArrayRef)> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .filter(|(field, _)| !RUN_SPECIFIC.contains(&field.name().as_str()))
        .map(|(field, column)| (field.name().clone(), without_run_fields(column)))
        .collect();
    let columns: Vec<(&String, ArrayFormatter)> =
        kept.iter().map(|(name, column)| (name, ArrayFormatter::try_new(column.as_ref(), &options).unwrap())).collect();
    let mut rows: Vec<String> = (0..batch.num_rows())
        .map(|row| columns.iter().map(|(name, format)| format!("{name}={}", format.value(row))).collect::<Vec<_>>().join("|"))
        .collect();
    rows.sort_unstable();
    rows
}

fn run_caught_up(lake: &Lake, topic: &str) {
    let output =
        medallion().args(["run", "--until-caught-up", "--topic", topic, "--group", &unique_topic("g"), "--lake", &lake.root()]).output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn sigkilled_runs_end_identical_to_a_clean_run() {
    let events: u64 = std::env::var("PIPELINE_KILL_LOOP_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let kills: usize = std::env::var("PIPELINE_KILL_LOOP_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    // A restarted run needs ~2-3 s (group join) before it commits: longer runs want longer pauses.
    let min_pause: u64 = std::env::var("PIPELINE_KILL_LOOP_MIN_PAUSE_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_500);
    let topic = unique_topic("pipeline-kill");
    send_raw(&topic, &undecodable_payloads((events / 100) as usize));
    run_ok(&["produce", "--count", &events.to_string(), "--seed", "17", "--invalid-ratio", "0.1", "--start-time", "2026-03-01", "--topic", &topic]);

    let clean = Lake::new();
    run_caught_up(&clean, &topic);

    let killed = Lake::new();
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    for round in 0..kills {
        // A new group each time: positions come from the tables, and no dead member holds partitions.
        let mut command = medallion();
        command
            .args(["run", "--topic", &topic, "--group", &unique_topic("g"), "--lake", &killed.root()])
            .env("MEDALLION_BRONZE__FLUSH_ROWS", "700")
            .env("MEDALLION_BRONZE__FLUSH_INTERVAL", "200ms")
            .env("MEDALLION_SILVER__MAX_BATCH_VERSIONS", "2")
            .env("MEDALLION_SILVER__POLL_INTERVAL", "100ms")
            .env("MEDALLION_GOLD__INTERVAL", "300ms")
            // Maintenance as often as it goes, so kills land in compactions and vacuums too.
            .env("MEDALLION_MAINTENANCE__INTERVAL", "1s")
            .env("MEDALLION_MAINTENANCE__MIN_SMALL_FILES", "2")
            .env("MEDALLION_MAINTENANCE__VACUUM_RETENTION", "0s");
        let mut child = killed.spawn_logged(&mut command, &format!("run-{round}"));
        let pause = common::next_pause(&mut seed, min_pause, 3_000);
        std::thread::sleep(pause);
        send_signal(&child, "KILL");
        common::wait_within(&mut child, PROCESS_DEADLINE);
        let versions: Vec<usize> =
            TABLES.iter().map(|t| std::fs::read_dir(killed.path().join(t).join("_delta_log")).map_or(0, |d| d.count())).collect();
        eprintln!("kill {round} after {pause:?}: log entries per table {versions:?}");
    }
    run_caught_up(&killed, &topic);
    let compactions = std::fs::read_dir(killed.path().join("bronze/purchase_order_items/_delta_log"))
        .unwrap()
        .filter_map(|entry| std::fs::read_to_string(entry.unwrap().path()).ok())
        .filter(|log| log.contains("\"operation\":\"OPTIMIZE\""))
        .count();
    assert!(compactions > 0, "no compaction ran during the killed runs");

    for table in TABLES {
        let (expected, actual) = (read_table(&clean.table(table)), read_table(&killed.table(table)));
        assert!(expected.num_rows() > 0, "{table} is empty after the clean run");
        let (expected, actual) = (rows_as_text(&expected), rows_as_text(&actual));
        assert_eq!(actual.len(), expected.len(), "{table}: row count after {kills} SIGKILLs");
        let first_difference = expected.iter().zip(&actual).find(|(e, a)| e != a);
        assert!(first_difference.is_none(), "{table} differs from the clean run: {first_difference:?}");
    }
}
