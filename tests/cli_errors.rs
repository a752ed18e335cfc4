//! Bad input gets a clear error, the right exit code, and never a secret.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::io::Write;
use std::process::{Command, Output};

use common::OutputWithin;

const SECRET: &str = "SharedAccessKey=NEVER-PRINT-THIS-KEY";

fn medallion_without_broker() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_medallion"));
    command.env_remove("KAFKA_BOOTSTRAP").env_remove("MEDALLION_CONFIG").env_remove("EVENTHUBS_CONNECTION_STRING");
    command
}

fn config_file(yaml: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(yaml.as_bytes()).unwrap();
    file
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_no_secret(output: &Output) {
    for stream in [&output.stdout, &output.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains("NEVER-PRINT-THIS-KEY"), "secret printed: {}", String::from_utf8_lossy(stream));
    }
}

fn check(yaml: &str) -> Output {
    let file = config_file(yaml);
    medallion_without_broker().args(["config", "check"]).arg(file.path()).output_within()
}

#[test]
fn unknown_key_exits_2_naming_it() {
    let output = check("kafka:\n  topik: x\n");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("kafka.topik"), "{}", stderr(&output));
}

#[test]
fn wrong_type_exits_2_naming_key_and_value() {
    let output = check("producer:\n  invalid_ratio: lots\n");
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("producer.invalid_ratio") && message.contains("lots"), "{message}");
}

#[test]
fn eventhubs_without_connection_string_exits_2() {
    let output = check("profile: eventhubs\nkafka:\n  bootstrap_servers: acme.servicebus.windows.net:9093\n");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("kafka.connection_string"), "{}", stderr(&output));
}

#[test]
fn missing_ca_certificates_exit_2_naming_the_key() {
    let file = config_file("profile: eventhubs\nkafka:\n  ssl_ca_location: /nonexistent/corp-ca.pem\n");
    let output = medallion_without_broker()
        .args(["config", "check"])
        .arg(file.path())
        .env("EVENTHUBS_CONNECTION_STRING", format!("Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=send;{SECRET}"))
        .output_within();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("kafka.ssl_ca_location: /nonexistent/corp-ca.pem does not exist"), "{}", stderr(&output));
    assert_no_secret(&output);
}

#[test]
fn config_check_prints_the_config_with_secrets_masked() {
    let file = config_file("profile: eventhubs\nkafka:\n  bootstrap_servers: acme.servicebus.windows.net:9093\n");
    let output = medallion_without_broker()
        .args(["config", "check"])
        .arg(file.path())
        .env("EVENTHUBS_CONNECTION_STRING", format!("Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=send;{SECRET}"))
        .env("MEDALLION_PRODUCER__RATE", "777")
        .output_within();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("connection_string: '***'"), "{printed}");
    assert!(printed.contains("rate: 777"), "environment layer applied: {printed}");
    assert_no_secret(&output);
}

#[test]
fn unreachable_broker_exits_1_naming_the_address() {
    let output = medallion_without_broker()
        .args(["produce", "--count", "10", "--topic", "unreachable"])
        .env("KAFKA_BOOTSTRAP", "127.0.0.1:1")
        .env("MEDALLION_KAFKA__CONNECT_TIMEOUT", "2s")
        .output_within();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("cannot reach Kafka brokers at 127.0.0.1:1"), "{message}");
    // The cause is said once, not once per level of the error chain.
    assert_eq!(message.matches("Broker transport failure").count(), 1, "{message}");
}

#[test]
fn eventhubs_connection_failure_never_prints_the_connection_string() {
    let file = config_file("profile: eventhubs\nkafka:\n  bootstrap_servers: 127.0.0.1:1\n  connect_timeout: 2s\n");
    let output = medallion_without_broker()
        .args(["produce", "--count", "10", "--log", "debug", "--config"])
        .arg(file.path())
        .env("EVENTHUBS_CONNECTION_STRING", format!("Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=send;{SECRET}"))
        .output_within();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("127.0.0.1:1"), "{}", stderr(&output));
    assert_no_secret(&output);
}

#[test]
fn bad_flags_exit_2() {
    let output = medallion_without_broker().args(["produce", "--framing", "protobuf"]).output_within();
    assert_eq!(output.status.code(), Some(2));
    let output = medallion_without_broker().args(["produce", "--output", "s3://bucket"]).output_within();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("kafka, stdout or file:PATH"), "{}", stderr(&output));
}

#[test]
fn an_invalid_metrics_address_is_a_config_error_naming_the_key() {
    let output = medallion_without_broker().args(["status"]).env("MEDALLION_METRICS_ADDR", "not-an-address").output_within();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("metrics_addr"), "{}", stderr(&output));
}

#[test]
fn status_without_a_broker_or_tables_says_so_and_still_reports() {
    let lake = tempfile::tempdir().unwrap();
    let output = medallion_without_broker()
        .args(["status", "--json", "--lake"])
        .arg(lake.path())
        .env("KAFKA_BOOTSTRAP", "127.0.0.1:1")
        .env("MEDALLION_KAFKA__CONNECT_TIMEOUT", "2s")
        .output_within();
    assert!(output.status.success(), "{}", stderr(&output));
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["streams"].as_array().unwrap().len(), 1, "one stream without a streams section: {status}");
    let status = &status["streams"][0];
    assert_eq!(status["stream"], "purchase_orders");
    let error = status["kafka"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("cannot reach Kafka brokers at 127.0.0.1:1"), "{status}");
    assert_eq!(status["tables"].as_array().unwrap().len(), 12, "six stage tables and six gold models");
    assert!(status["tables"].as_array().unwrap().iter().all(|t| t["exists"] == false));
    assert!(!stderr(&output).contains("librdkafka"), "one error line, not librdkafka's retries: {}", stderr(&output));
}
