//! `medallion status --check` against a real broker and a real lake: each breach kind exits
//! with its own code (10 batch quality, 11 day quality, 12 lag, 13 stale stage, 14 unreadable),
//! and a healthy pipeline exits 0.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::process::Output;
use std::time::Duration;

use common::{Lake, OutputWithin, medallion, run_ok, unique_topic};

/// The share of rows the checks here require to pass: the clean events pass it, the defective
/// ones (every event with a defect) do not.
const THRESHOLD: &str = "0.9";

/// `count` events of one simulated day; `invalid_ratio` of them with a defect.
fn produce(topic: &str, count: u64, seed: u64, invalid_ratio: &str) {
    let (count, seed) = (count.to_string(), seed.to_string());
    run_ok(&["produce", "--count", &count, "--seed", &seed, "--invalid-ratio", invalid_ratio, "--start-time", "2026-06-01", "--topic", topic]);
}

fn stage(lake: &Lake, topic: &str, group: &str, command: &str) {
    let output = medallion().args([command, "--until-caught-up", "--topic", topic, "--group", group, "--lake", &lake.root()]).output_within();
    assert!(output.status.success(), "{command}: {}", String::from_utf8_lossy(&output.stderr));
}

/// `status --check --json` with `flags`: (exit code, the health object).
fn check(lake: &Lake, topic: &str, group: &str, flags: &[&str]) -> (Option<i32>, serde_json::Value) {
    let output: Output = medallion()
        .args(["status", "--check", "--json", "--topic", topic, "--group", group, "--lake", &lake.root()])
        .args(flags)
        .env("MEDALLION_SILVER__QUALITY_THRESHOLD", THRESHOLD)
        .output_within();
    let status: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("status --check --json prints JSON ({e}): {}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code(), status["health"].clone())
}

fn kinds(health: &serde_json::Value) -> Vec<String> {
    health["breaches"].as_array().unwrap().iter().map(|b| b["kind"].as_str().unwrap().to_owned()).collect()
}

fn messages(health: &serde_json::Value) -> String {
    health["breaches"].as_array().unwrap().iter().map(|b| b["message"].as_str().unwrap().to_owned()).collect::<Vec<_>>().join("\n")
}

#[test]
fn each_breach_exits_with_its_own_code() {
    let (topic, group, lake) = (unique_topic("health"), unique_topic("g"), Lake::new());
    let relaxed = ["--max-lag", "1000000", "--max-commit-age", "1h"];
    produce(&topic, 2_000, 1, "0");
    stage(&lake, &topic, &group, "run");
    let (code, health) = check(&lake, &topic, &group, &relaxed);
    assert_eq!((code, health["healthy"].as_bool()), (Some(0), Some(true)), "{health}");

    // New messages bronze has not taken in: lag above the bound (0: the dev broker's high
    // watermark trails a partition's last batch, so its lag undercounts)...
    produce(&topic, 1_000, 2, "1");
    let (code, health) = check(&lake, &topic, &group, &["--max-lag", "0", "--max-commit-age", "1h"]);
    assert_eq!((code, kinds(&health)), (Some(12), vec!["lag".to_owned()]), "{health}");
    assert!(messages(&health).contains("are not in bronze yet"), "{health}");
    // ...and bronze, not committing while they wait, stale.
    std::thread::sleep(Duration::from_secs(2));
    let (code, health) = check(&lake, &topic, &group, &["--max-lag", "1000000", "--max-commit-age", "1s"]);
    assert_eq!((code, kinds(&health)), (Some(13), vec!["stale".to_owned()]), "{health}");
    assert!(messages(&health).starts_with("bronze last committed"), "{health}");

    // Bronze catches up; silver, not running, is stale behind it (and the current state behind
    // silver is not: silver has nothing newer).
    stage(&lake, &topic, &group, "bronze");
    std::thread::sleep(Duration::from_secs(2));
    let (code, health) = check(&lake, &topic, &group, &["--max-lag", "1000000", "--max-commit-age", "1s"]);
    assert_eq!((code, kinds(&health)), (Some(13), vec!["stale".to_owned()]), "{health}");
    assert!(messages(&health).starts_with("silver last committed") && messages(&health).contains("bronze has held a newer commit"), "{health}");
    let (code, _) = check(&lake, &topic, &group, &relaxed);
    assert_eq!(code, Some(0), "within the bounds, a stage a little behind is healthy");

    // The defective batch through the pipeline: the latest batch and the day below the
    // threshold; the batch's code (the lower) is the exit code.
    stage(&lake, &topic, &group, "run");
    let (code, health) = check(&lake, &topic, &group, &relaxed);
    assert_eq!((code, kinds(&health)), (Some(10), vec!["batch_quality".to_owned(), "day_quality".to_owned()]), "{health}");
    assert!(messages(&health).contains("below silver.quality_threshold 0.9"), "{health}");

    // A clean batch after it: the latest batch passes, the day (2,000 + 1,000 + 300 rows) not.
    produce(&topic, 300, 3, "0");
    stage(&lake, &topic, &group, "run");
    let (code, health) = check(&lake, &topic, &group, &relaxed);
    assert_eq!((code, kinds(&health)), (Some(11), vec!["day_quality".to_owned()]), "{health}");
    assert!(messages(&health).contains("2026-06-01"), "{health}");

    // Without --check, the same status exits 0; it shows the day's share.
    let output = medallion().args(["status", "--json", "--topic", &topic, "--group", &group, "--lake", &lake.root()]).output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let day = &status["streams"][0]["quality"];
    let share = day["error_pass_share"].as_f64().unwrap();
    let rows = day["rows"].as_f64().unwrap();
    assert_eq!(share, (day["pass_rows"].as_f64().unwrap() + day["warning_rows"].as_f64().unwrap()) / rows, "{day}");
    assert!(share < 0.9 && status.get("health").is_none(), "{status}");
}

#[test]
fn an_unreachable_broker_is_unknown_health() {
    let lake = Lake::new();
    let output = medallion()
        .args(["status", "--check", "--lake", &lake.root(), "--topic", &unique_topic("health-down")])
        .env("KAFKA_BOOTSTRAP", "127.0.0.1:1")
        .env("MEDALLION_KAFKA__CONNECT_TIMEOUT", "2s")
        .output_within();
    assert_eq!(output.status.code(), Some(14), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("unhealthy (14)") && stdout.contains("cannot reach Kafka brokers at 127.0.0.1:1"), "{stdout}");
}
