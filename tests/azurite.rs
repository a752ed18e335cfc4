//! Every stage on an ADLS Gen2 lake (`az://`), against Azurite (the Azure Storage emulator) and the
//! dev broker: the whole pipeline, `status` and `maintain`; two bronze workers committing to one
//! table at once (conditional puts, no lock service); commits that the service refuses or whose
//! answer is lost; SAS credentials that never appear in what medallion prints. Tables are read
//! back from Azurite by a fresh handle.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::collections::HashSet;
use std::time::Duration;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Int32Type, Int64Type};
use common::azurite::{self, Container};
use common::faulty_proxy::{Fault, FaultyProxy, Planned};
use common::{OutputWithin, PROCESS_DEADLINE, medallion, unique_topic};

const BRONZE: &str = "bronze/purchase_order_items";
const SILVER: &str = "silver/purchase_order_items";
const QUARANTINE: &str = "silver/purchase_order_items_quarantine";

/// A config file for `container` with `options` and `extra` YAML, in a temporary directory.
fn config_file(dir: &tempfile::TempDir, container: &Container, options: &std::collections::BTreeMap<String, String>, extra: &str) -> String {
    let path = dir.path().join("medallion.yaml");
    std::fs::write(&path, container.config(options, extra)).unwrap();
    path.display().to_string()
}

fn produce(topic: &str, count: usize, seed: u64) {
    let (count, seed) = (count.to_string(), seed.to_string());
    let args = ["produce", "--count", &count, "--seed", &seed, "--topic", topic, "--json"];
    let output = common::run_ok(&args);
    assert_eq!(common::summary(&output)["sent"].as_u64(), count.parse().ok());
}

/// The (partition, offset) of every row, asserting that none repeats.
fn coordinates(batch: &RecordBatch, what: &str) -> HashSet<(i32, i64)> {
    let partitions = batch.column_by_name("kafka_partition").unwrap().as_primitive::<Int32Type>().clone();
    let offsets = batch.column_by_name("kafka_offset").unwrap().as_primitive::<Int64Type>().clone();
    let mut seen = HashSet::new();
    for row in 0..batch.num_rows() {
        let key = (partitions.value(row), offsets.value(row));
        assert!(seen.insert(key), "{what}: message {key:?} is there twice");
    }
    seen
}

/// Bronze holds each of the topic's `count` messages once; silver and quarantine together too.
fn assert_exactly_once(container: &Container, count: usize) {
    let bronze = coordinates(&azurite::read_table(container, &container.table(BRONZE)), "bronze");
    assert_eq!(bronze.len(), count, "bronze rows");
    let silver = coordinates(&azurite::read_table(container, &container.table(SILVER)), "silver");
    let quarantine = coordinates(&azurite::read_table(container, &container.table(QUARANTINE)), "quarantine");
    assert!(silver.is_disjoint(&quarantine), "a message is in silver and in quarantine");
    assert_eq!(silver.len() + quarantine.len(), count, "silver + quarantine rows");
    assert!(!quarantine.is_empty(), "the producer's invalid records are quarantined");
}

fn sum_column(batch: &RecordBatch, name: &str) -> i64 {
    batch.column_by_name(name).unwrap().as_primitive::<Int64Type>().iter().flatten().sum()
}

#[test]
fn every_stage_runs_on_an_azurite_lake_exactly_once() {
    let (container, dir, topic, group) = (Container::create(), tempfile::tempdir().unwrap(), unique_topic("az-pipeline"), unique_topic("g"));
    let config = config_file(&dir, &container, &container.key_options(&container.endpoint), "");
    produce(&topic, 6_000, 5);
    let run = ["run", "--until-caught-up", "--config", &config, "--topic", &topic, "--group", &group];
    common::run_ok(&run);
    assert_exactly_once(&container, 6_000);
    let daily = azurite::read_table(&container, &container.table("gold/quality_daily"));
    assert_eq!(sum_column(&daily, "rows"), 6_000, "quality_daily counts every message");
    let current = azurite::read_table(&container, &container.table("silver/purchase_order_items_current"));
    assert!(current.num_rows() > 0, "the current state is built");

    let status = common::run_ok(&["status", "--json", "--config", &config, "--topic", &topic, "--group", &group]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let tables = status["streams"][0]["tables"].as_array().unwrap();
    let rows = |role: &str| tables.iter().find(|t| t["table"] == role).and_then(|t| t["rows"].as_u64());
    assert_eq!(rows("bronze"), Some(6_000), "{status}");
    assert_eq!(rows("silver").unwrap() + rows("quarantine").unwrap(), 6_000, "{status}");
    assert!(tables.iter().all(|t| t["error"].is_null()), "{status}");

    let maintained = common::run_ok(&["maintain", "--config", &config, "--json"]);
    assert!(String::from_utf8_lossy(&maintained.stdout).contains(&container.table(BRONZE)), "maintain covers bronze");
    // A restart after maintenance reads nothing twice; more messages land once.
    produce(&topic, 1_000, 6);
    common::run_ok(&run);
    assert_exactly_once(&container, 7_000);
}

#[test]
fn two_bronze_workers_commit_to_one_azurite_table_at_once() {
    let (container, dir, topic, group) = (Container::create(), tempfile::tempdir().unwrap(), unique_topic("az-workers"), unique_topic("g"));
    let config = config_file(&dir, &container, &container.key_options(&container.endpoint), "bronze:\n  flush_interval: 200ms\n");
    let log = |name: &str| std::fs::File::create(dir.path().join(format!("{name}.log"))).unwrap();
    let spawn = |name: &str| {
        medallion()
            .args(["bronze", "--config", &config, "--topic", &topic, "--group", &group])
            .env("MEDALLION_LOG", "warn,medallion=info")
            .stdout(std::process::Stdio::null())
            .stderr(log(name))
            .spawn()
            .unwrap()
    };
    // Messages keep arriving on every partition while both workers own some: both commit, often
    // at the same moment, to the same log.
    let producer = medallion()
        .args(["produce", "--count", "12000", "--rate", "2000", "--seed", "8", "--topic", &topic])
        .stdout(std::process::Stdio::null())
        .stderr(log("producer"))
        .spawn()
        .unwrap();
    let mut workers = [spawn("first"), spawn("second")];
    let mut producer = producer;
    assert!(common::wait_within(&mut producer, PROCESS_DEADLINE).success(), "the producer sent every message");
    std::thread::sleep(Duration::from_secs(3));
    for worker in &workers {
        common::send_signal(worker, "TERM");
    }
    let pids: Vec<i64> = workers.iter().map(|w| i64::from(w.id())).collect();
    for worker in &mut workers {
        assert!(common::wait_within(worker, PROCESS_DEADLINE).success(), "a worker stopped by SIGTERM exits 0");
    }
    // Whatever the two left is finished by a third (positions come from the table).
    let finish =
        medallion().args(["bronze", "--until-caught-up", "--config", &config, "--topic", &topic, "--group", &unique_topic("g")]).output_within();
    assert!(finish.status.success(), "{}", String::from_utf8_lossy(&finish.stderr));

    let bronze = azurite::read_table(&container, &container.table(BRONZE));
    assert_eq!(coordinates(&bronze, "bronze").len(), 12_000);
    let writers: HashSet<i64> = bronze.column_by_name("worker_pid").unwrap().as_primitive::<Int64Type>().iter().flatten().collect();
    for pid in pids {
        assert!(writers.contains(&pid), "worker {pid} committed rows too (writers: {writers:?}); logs in {}", dir.path().display());
    }
}

#[test]
fn commits_refused_or_unanswered_by_storage_are_retried_without_duplicates() {
    let (container, dir, topic, group) = (Container::create(), tempfile::tempdir().unwrap(), unique_topic("az-faults"), unique_topic("g"));
    // Commit 1 of a table creates it. The bronze commit after is refused once (and retried by the
    // store client); a later one lands unanswered, as does one of silver's.
    let plan = vec![
        Planned::new(BRONZE, 2, Fault::Unavailable),
        Planned::new(BRONZE, 4, Fault::LoseResponse),
        Planned::new(&format!("{SILVER}/"), 3, Fault::LoseResponse),
    ];
    let proxy = FaultyProxy::start(&container.endpoint, plan);
    let extra = "bronze:\n  flush_rows: 1000\n  retry_backoff: 200ms\nsilver:\n  max_batch_versions: 1\n  retry_backoff: 200ms\n";
    let config = config_file(&dir, &container, &container.key_options(&proxy.endpoint), extra);
    produce(&topic, 6_000, 5);
    let output = medallion().args(["run", "--until-caught-up", "--config", &config, "--topic", &topic, "--group", &group]).output_within();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // The retries say what they do (shown with --nocapture).
    eprintln!("{stderr}");
    let injected = proxy.injected();
    assert_eq!(injected.len(), 3, "every planned fault was injected: {injected:?}; commits seen: {:?}", proxy.commits());
    assert_exactly_once(&container, 6_000);
    let metrics = azurite::read_table(&container, &container.table("silver/quality_metrics"));
    let kind = metrics.column_by_name("kind").unwrap().as_string::<i32>().clone();
    let batch_rows: i64 = (0..metrics.num_rows())
        .filter(|&row| kind.value(row) == "batch")
        .map(|row| metrics.column_by_name("input_rows").unwrap().as_primitive::<Int64Type>().value(row))
        .sum();
    assert_eq!(batch_rows, 6_000, "quality_metrics counts each batch once");
}

#[test]
fn a_sas_token_works_and_its_signature_is_never_printed() {
    let (container, dir, topic) = (Container::create(), tempfile::tempdir().unwrap(), unique_topic("az-sas"));
    produce(&topic, 2_000, 5);
    let sas = azurite::account_sas();
    let signature = azurite::sas_signature(&sas);
    let decoded = url::form_urlencoded::parse(format!("s={signature}").as_bytes()).next().unwrap().1.into_owned();
    let printed = |output: &std::process::Output| format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let assert_unprinted = |text: &str| {
        assert!(!text.contains(&signature) && !text.contains(&decoded), "the SAS signature was printed:\n{text}");
    };

    let config = config_file(&dir, &container, &container.sas_options(&sas), "");
    let bronze = ["bronze", "--until-caught-up", "--config", &config, "--topic", &topic, "--group", &unique_topic("g")];
    let output = medallion().args(bronze).env("MEDALLION_LOG", "debug").output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_unprinted(&printed(&output));
    assert_eq!(coordinates(&azurite::read_table(&container, &container.table(BRONZE)), "bronze").len(), 2_000);
    let checked = medallion().args(["config", "check", "--config", &config]).output_within();
    assert_unprinted(&printed(&checked));

    // A signature the service refuses: the error names the table, and neither signature shows.
    let forged = sas.replace(&signature, "Zm9yZ2VkLXNpZ25hdHVyZS1mb3ItdGhlLXRlc3Q%3D");
    let forged_config = config_file(&dir, &container, &container.sas_options(&forged), "");
    let refused = medallion().args(["bronze", "--until-caught-up", "--config", &forged_config, "--topic", &topic]).output_within();
    assert_eq!(refused.status.code(), Some(1), "{}", printed(&refused));
    let text = printed(&refused);
    assert!(text.contains(&container.table(BRONZE)), "the error names the table: {text}");
    assert!(!text.contains("Zm9yZ2VkLXNpZ25hdHVyZS1mb3ItdGhlLXRlc3Q"), "the forged signature was printed:\n{text}");
    assert_unprinted(&text);
    let status = medallion().args(["status", "--config", &forged_config, "--topic", &topic]).output_within();
    assert!(!printed(&status).contains("Zm9yZ2VkLXNpZ25hdHVyZS1mb3ItdGhlLXRlc3Q"), "{}", printed(&status));
}
