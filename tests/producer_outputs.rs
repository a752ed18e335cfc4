//! The inspection outputs of `medallion produce`: an Avro object container file readable by
//! apache-avro's own reader, and JSON lines on standard output. No broker involved.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::process::Command;

use common::OutputWithin;

fn medallion() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_medallion"));
    command.env_remove("MEDALLION_CONFIG").env("MEDALLION_LOG", "warn");
    command
}

#[test]
fn file_output_is_an_avro_container_with_the_writer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.avro");
    let output = medallion()
        .args(["produce", "--count", "777", "--seed", "5", "--schema-version", "1", "--json", "--output"])
        .arg(format!("file:{}", path.display()))
        .output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let reader = apache_avro::Reader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let apache_avro::Schema::Record(record) = reader.writer_schema() else { panic!("not a record schema") };
    assert_eq!(record.fields.len(), 19, "the v1 writer schema is in the header");
    let records: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len(), 777);
}

#[test]
fn stdout_output_is_one_json_object_per_event() {
    let output = medallion().args(["produce", "--count", "50", "--seed", "5", "--output", "stdout"]).output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let events: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 50);
    let first = &events[0];
    assert_eq!(first["order_status"], "NEW");
    assert!(first["unit_price"].as_str().unwrap().contains('.'), "money as a decimal string: {first}");
    assert!(first["event_time"].as_str().unwrap().ends_with("+00:00"), "RFC 3339 UTC: {first}");
    assert!(first["sales_channel"].is_string(), "v2 by default");
}
