//! `medallion bronze` against a real broker and real Delta tables read back from storage: every
//! message exactly once, undecodable ones kept with their error, positions in `txn` actions,
//! across restarts, SIGKILLs and consumer-group changes.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{
    BronzeRow, Lake, OutputWithin, PROCESS_DEADLINE, consume_all, medallion, read_bronze, run_ok, send_raw, send_signal, summary, txn_version,
    undecodable_payloads, unique_topic,
};
use rdkafka::message::Message;

/// Produces `events` purchase orders plus `undecodable` raw payloads; returns the raw payloads.
fn load_topic(topic: &str, events: u64, undecodable: usize) -> Vec<Vec<u8>> {
    run_ok(&["produce", "--count", &events.to_string(), "--seed", "99", "--topic", topic]);
    let raw = undecodable_payloads(undecodable);
    send_raw(topic, &raw);
    raw
}

fn bronze(lake: &Lake, topic: &str, group: &str, extra: &[&str]) -> std::process::Command {
    let mut command = medallion();
    command
        .args(["bronze", "--topic", topic, "--group", group, "--lake", &lake.root(), "--json"])
        .args(extra)
        // Small, frequent commits so kills land between and inside them.
        .env("MEDALLION_BRONZE__FLUSH_ROWS", "1500")
        .env("MEDALLION_BRONZE__FLUSH_INTERVAL", "300ms");
    command
}

/// A background worker whose log goes to `<lake>/worker-<name>.log` (printed when a test fails).
fn spawn_bronze(lake: &Lake, topic: &str, group: &str, name: &str) -> Child {
    let log = std::fs::File::create(lake.path().join(format!("worker-{name}.log"))).unwrap();
    bronze(lake, topic, group, &[]).env("MEDALLION_LOG", "warn,medallion=info").stdout(Stdio::null()).stderr(log).spawn().unwrap()
}

/// Exactly one row per message on the topic, undecodable ones with an error and their bytes,
/// and each partition's txn version equal to its last offset.
fn assert_exactly_once(lake: &Lake, topic: &str, expected: usize, raw: &[Vec<u8>]) {
    let messages = consume_all(topic, expected, Duration::from_secs(120));
    assert_eq!(messages.len(), expected, "messages on the topic");
    let rows = read_bronze(&lake.bronze());
    let mut seen = HashMap::new();
    for row in &rows {
        *seen.entry((row.partition, row.offset)).or_insert(0) += 1;
    }
    let duplicates: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(duplicates.is_empty(), "duplicated (partition, offset): {duplicates:?}");
    assert_eq!(rows.len(), expected, "one row per message");
    let by_position: HashMap<(i32, i64), &BronzeRow> = rows.iter().map(|r| ((r.partition, r.offset), r)).collect();
    let mut last_offsets: HashMap<i32, i64> = HashMap::new();
    for message in &messages {
        let row = by_position
            .get(&(message.partition(), message.offset()))
            .unwrap_or_else(|| panic!("missing {}:{}", message.partition(), message.offset()));
        let payload = message.payload().unwrap_or_default();
        assert_eq!(row.raw_payload, payload, "raw bytes kept");
        if raw.iter().any(|r| r.as_slice() == payload) {
            assert!(row.decode_error.is_some(), "undecodable message {}:{} has no error", row.partition, row.offset);
        } else {
            assert_eq!(row.decode_error, None, "{}:{}", row.partition, row.offset);
            assert!(row.order_id.is_some() || message.key().is_none());
        }
        let last = last_offsets.entry(message.partition()).or_insert(-1);
        *last = (*last).max(message.offset());
    }
    for (partition, last) in last_offsets {
        assert_eq!(txn_version(&lake.bronze(), &format!("bronze:{topic}:{partition}")), Some(last), "txn of partition {partition}");
    }
}

#[test]
fn every_message_lands_once_and_a_restart_adds_nothing() {
    let (topic, lake) = (unique_topic("bronze-basic"), Lake::new());
    let raw = load_topic(&topic, 5_000, 50);
    let output = bronze(&lake, &topic, &unique_topic("g"), &["--until-caught-up"]).output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let first = summary(&output);
    assert_eq!((first["messages"].as_u64(), first["undecodable"].as_u64()), (Some(5_050), Some(50)));
    assert_exactly_once(&lake, &topic, 5_050, &raw);
    let errors: Vec<String> = read_bronze(&lake.bronze()).into_iter().filter_map(|r| r.decode_error).collect();
    for expected in ["unknown magic byte", "unknown writer schema id:12345", "unknown writer schema fp:", "datum truncated"] {
        assert!(errors.iter().any(|e| e.contains(expected)), "no error like {expected:?} in {:?}", &errors[..5]);
    }

    // A restart with nothing new (another group even: positions come from the table).
    let output = bronze(&lake, &topic, &unique_topic("g"), &["--until-caught-up"]).output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let second = summary(&output);
    assert_eq!((second["commits"].as_u64(), second["messages"].as_u64()), (Some(0), Some(0)));
    assert_eq!(second["table_version"], first["table_version"], "no new commit");
}

#[test]
fn sigkill_at_random_moments_loses_and_duplicates_nothing() {
    let events: u64 = std::env::var("BRONZE_KILL_LOOP_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(24_000);
    let kills: usize = std::env::var("BRONZE_KILL_LOOP_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let (topic, lake, group) = (unique_topic("bronze-kill"), Lake::new(), unique_topic("g"));
    let raw = undecodable_payloads((events / 100) as usize);
    run_ok(&["produce", "--count", "1", "--seed", "1", "--topic", &topic]);
    send_raw(&topic, &raw);
    // The producer streams while the worker is killed, so every kill lands mid-ingest.
    let rate = (events / (kills as u64 * 3)).max(1_000).to_string();
    let mut producer = medallion()
        .args(["produce", "--count", &(events - 1).to_string(), "--rate", &rate, "--seed", "98", "--topic", &topic])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut seed = 0x9E37_79B9_u64;
    let mut previous = 0;
    for round in 0..kills {
        let child = spawn_bronze(&lake, &topic, &group, &format!("round-{round}"));
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let pause = Duration::from_millis(2_000 + (seed >> 33) % 3_000);
        std::thread::sleep(pause);
        send_signal(&child, "KILL");
        let mut child = child;
        common::wait_within(&mut child, PROCESS_DEADLINE);
        let rows = read_bronze_if_exists(&lake).len();
        eprintln!("kill {round} after {pause:?}: {rows} rows in bronze");
        assert!(rows >= previous, "rows never disappear");
        previous = rows;
    }
    assert!(common::wait_within(&mut producer, PROCESS_DEADLINE).success());
    let output = bronze(&lake, &topic, &group, &["--until-caught-up"]).output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_exactly_once(&lake, &topic, (events + events / 100) as usize, &raw);
}

fn read_bronze_if_exists(lake: &Lake) -> Vec<BronzeRow> {
    if std::path::Path::new(&lake.bronze()).join("_delta_log").exists() { read_bronze(&lake.bronze()) } else { Vec::new() }
}

#[test]
fn workers_joining_and_dying_in_one_group_keep_exactly_once() {
    let (topic, lake, group) = (unique_topic("bronze-group"), Lake::new(), unique_topic("g"));
    let raw = load_topic(&topic, 15_000, 150);
    let mut first = spawn_bronze(&lake, &topic, &group, "first");
    let mut second = spawn_bronze(&lake, &topic, &group, "second");
    std::thread::sleep(Duration::from_secs(3));
    let mut third = spawn_bronze(&lake, &topic, &group, "third");
    let group_pids = [first.id(), second.id(), third.id()].map(i64::from);
    std::thread::sleep(Duration::from_secs(2));
    send_signal(&first, "KILL");
    common::wait_within(&mut first, PROCESS_DEADLINE);
    std::thread::sleep(Duration::from_secs(2));
    for child in [&second, &third] {
        send_signal(child, "TERM");
    }
    for child in [&mut second, &mut third] {
        let status = common::wait_within(child, PROCESS_DEADLINE);
        assert!(status.success(), "a worker stopped by SIGTERM exits 0: {status:?}");
    }
    // A last worker finishes whatever the others left. It joins another group: the dev broker
    // (Tansu) sometimes never expires the SIGKILLed member of a group that others left, and a
    // newcomer to that group would wait for its partitions for ever. Positions come from the
    // table, so the group does not matter for what the finisher writes.
    let output = bronze(&lake, &topic, &unique_topic("g"), &["--until-caught-up"]).output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_exactly_once(&lake, &topic, 15_150, &raw);
    assert_rows_name_their_workers(&lake, &group, &group_pids);
}

/// Every row names the worker that wrote it: the group's members wrote theirs as `group`, the
/// finisher (another group, another process) the rest; all on this host.
fn assert_rows_name_their_workers(lake: &Lake, group: &str, group_pids: &[i64]) {
    use arrow::array::{Array, AsArray};
    let batch = common::read_table(&lake.bronze());
    let groups = batch.column_by_name("consumer_group").unwrap().as_string::<i32>().clone();
    let hosts = batch.column_by_name("worker_host").unwrap().as_string::<i32>().clone();
    let pids = batch.column_by_name("worker_pid").unwrap().as_primitive::<arrow::datatypes::Int64Type>().clone();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_owned();
    let mut by_members = 0;
    for row in 0..batch.num_rows() {
        assert!(!pids.is_null(row) && !groups.is_null(row), "row {row} has no lineage");
        assert_eq!(hosts.value(row), host);
        if group_pids.contains(&pids.value(row)) {
            assert_eq!(groups.value(row), group, "row {row} of worker {}", pids.value(row));
            by_members += 1;
        } else {
            assert_ne!(groups.value(row), group, "row {row}: written by the finisher, in a group of its own");
        }
    }
    assert!(by_members > 0, "the group's members wrote rows before the finisher");
}

#[test]
fn unusable_storage_is_a_clear_error_naming_the_table() {
    // Nothing can be created under /proc, not even by root.
    let output = medallion()
        .args(["bronze", "--until-caught-up", "--lake", "/proc/medallion-lake", "--topic", &unique_topic("bronze-storage")])
        .output_within();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/proc/medallion-lake/bronze/purchase_order_items"), "{stderr}");
}

/// Members join while messages arrive and rows are buffered (a long flush interval): the
/// rebalances revoke partitions with rows in the buffers, which are dropped and read again by
/// their new owner, and the table still holds every message exactly once.
#[test]
fn revokes_while_messages_arrive_drop_buffered_rows_for_reread_and_keep_exactly_once() {
    let (topic, lake, group) = (unique_topic("bronze-revoke"), Lake::new(), unique_topic("g"));
    let raw = load_topic(&topic, 2_000, 20);
    let producer = medallion()
        .args(["produce", "--rate", "2000", "--duration", "12s", "--seed", "5", "--topic", &topic])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let worker = |name: &str| {
        let log = std::fs::File::create(lake.path().join(format!("worker-{name}.log"))).unwrap();
        let summary = std::fs::File::create(lake.path().join(format!("summary-{name}.json"))).unwrap();
        bronze(&lake, &topic, &group, &[])
            .env("MEDALLION_BRONZE__FLUSH_INTERVAL", "4s")
            .env("MEDALLION_BRONZE__FLUSH_ROWS", "500000")
            .env("MEDALLION_LOG", "warn,medallion=info")
            .stdout(summary)
            .stderr(log)
            .spawn()
            .unwrap()
    };
    let mut workers = vec![worker("a")];
    for name in ["b", "c"] {
        std::thread::sleep(Duration::from_secs(4));
        workers.push(worker(name));
    }
    let mut producer = producer;
    assert!(common::wait_within(&mut producer, PROCESS_DEADLINE).success(), "producer");
    std::thread::sleep(Duration::from_secs(2));
    for child in &workers {
        send_signal(child, "TERM");
    }
    for child in &mut workers {
        assert!(common::wait_within(child, PROCESS_DEADLINE).success(), "a worker stopped by SIGTERM exits 0");
    }
    let dropped: u64 = ["a", "b", "c"]
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(lake.path().join(format!("summary-{name}.json"))).unwrap();
            let summary: serde_json::Value = serde_json::from_str(text.lines().last().unwrap_or("{}")).unwrap();
            summary["dropped_for_reread"].as_u64().unwrap_or(0)
        })
        .sum();
    assert!(dropped > 0, "a revoke found buffered rows and dropped them for the new owner to read");
    let output = bronze(&lake, &topic, &unique_topic("g"), &["--until-caught-up"]).output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // Counted by reading the topic: the dev broker's watermarks do not count messages.
    let expected = consume_all(&topic, 2_020 + 20_000, Duration::from_secs(120)).len();
    assert!(expected > 2_020 + 20_000, "the producer ran alongside: {expected} messages");
    assert_exactly_once(&lake, &topic, expected, &raw);
}

#[test]
fn a_commit_of_more_than_one_chunk_is_encoded_into_two_files_with_every_message_once() {
    let (topic, lake) = (unique_topic("bronze-two-files"), Lake::new());
    let raw = load_topic(&topic, 20_000, 20);
    // One commit of every message: more than one 8,192-row chunk, so both encoders get rows.
    let output = bronze(&lake, &topic, &unique_topic("g"), &["--until-caught-up"])
        .env("MEDALLION_BRONZE__FLUSH_ROWS", "50000")
        .env("MEDALLION_BRONZE__FLUSH_INTERVAL", "10m")
        .output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary = summary(&output);
    assert_eq!(summary["messages"].as_u64(), Some(20_020), "{summary}");
    let (commits, files) = (summary["commits"].as_u64().unwrap(), summary["files"].as_u64().unwrap());
    assert!(commits >= 1 && files > commits, "a commit of more than one chunk adds two files: {summary}");
    assert_exactly_once(&lake, &topic, 20_020, &raw);
}
