//! `--log-format json`: one JSON object per stderr line, each carrying the fields of the spans
//! it was logged in (the stream, the stage), for log shippers.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use common::{Lake, OutputWithin, medallion, run_ok, unique_topic};

#[test]
fn json_log_lines_carry_the_stream_and_stage_spans() {
    let lake = Lake::new();
    let topic = unique_topic("json-logs");
    run_ok(&["produce", "--count", "50", "--seed", "3", "--topic", &topic]);
    let output = medallion()
        .args([
            "bronze",
            "--until-caught-up",
            "--log-format",
            "json",
            "--log",
            "info",
            "--topic",
            &topic,
            "--group",
            &unique_topic("json-logs-g"),
            "--lake",
            &lake.root(),
        ])
        .output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON object ({e}): {line}")))
        .collect();
    let started = lines.iter().find(|line| line["fields"]["message"] == "bronze worker started").expect("the worker logs its start");
    assert_eq!(started["level"], "INFO");
    let spans = started["spans"].as_array().unwrap();
    assert!(spans.iter().any(|span| span["name"] == "stream" && span["stream"] == "purchase_orders"), "{started}");
    assert!(spans.iter().any(|span| span["name"] == "bronze" && span["topic"] == topic.as_str()), "{started}");
    // The writer task's commit logs within the same spans.
    let committed = lines.iter().find(|line| line["span"]["name"] == "bronze_commit").expect("the writer logs its commit");
    let names: Vec<&str> = committed["spans"].as_array().unwrap().iter().map(|span| span["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["stream", "bronze", "bronze_commit"], "{committed}");
}

#[test]
fn with_json_logs_a_failure_is_a_json_line_too() {
    let output = medallion().args(["rules", "check", "/nonexistent/rules.yml", "--log-format", "json"]).output_within();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!((last["level"].as_str(), last["fields"]["exit_code"].as_i64()), (Some("ERROR"), Some(2)), "{last}");
    assert!(last["fields"]["message"].as_str().unwrap().contains("/nonexistent/rules.yml"), "{last}");
}
