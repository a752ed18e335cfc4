//! Helpers for tests against a real Kafka-protocol broker, named by `KAFKA_BOOTSTRAP` (the dev
//! broker by default). Without a reachable broker every broker test fails, saying how to start one.
#![allow(dead_code)]

use std::net::{TcpStream, ToSocketAddrs};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};

pub const DEFAULT_BOOTSTRAP: &str = "127.0.0.1:19092";

/// The broker under test; panics with instructions when nothing listens there.
pub fn bootstrap() -> String {
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| DEFAULT_BOOTSTRAP.to_owned());
    let first = bootstrap.split(',').next().unwrap_or_default().trim().to_owned();
    let reachable = first
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(3)).is_ok());
    assert!(
        reachable,
        "no Kafka broker at {bootstrap}: start the dev broker with `scripts/dev-broker start` \
         (or `docker compose up -d` for Redpanda), or point KAFKA_BOOTSTRAP at one; \
         `scripts/test` does all of this by itself"
    );
    bootstrap
}

/// A topic name no other test (or earlier run on a persistent broker) uses.
pub fn unique_topic(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// The `medallion` binary with the broker set and a quiet log.
pub fn medallion() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_medallion"));
    command.env("KAFKA_BOOTSTRAP", bootstrap()).env("MEDALLION_LOG", "warn").env_remove("MEDALLION_CONFIG");
    command
}

/// Runs `medallion` with `args` and returns its output, failing with stderr on a non-zero exit.
pub fn run_ok(args: &[&str]) -> Output {
    let output = medallion().args(args).output().expect("run medallion");
    assert!(output.status.success(), "medallion {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    output
}

/// The `--json` summary printed last on standard output.
pub fn summary(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("no JSON summary ({e}) in: {stdout}"))
}

/// Every message of `topic` from the beginning: waits for `expected` messages (up to `timeout`),
/// then keeps polling briefly so that extra messages would show up too.
pub fn consume_all(topic: &str, expected: usize, timeout: Duration) -> Vec<OwnedMessage> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", unique_topic("test-reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).expect("metadata");
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        assignment.add_partition_offset(topic, partition.id(), Offset::Beginning).expect("assign");
    }
    consumer.assign(&assignment).expect("assign");
    let mut messages = Vec::new();
    let started = Instant::now();
    let mut quiet_since = None;
    while started.elapsed() < timeout {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                messages.push(message.detach());
                quiet_since = None;
            }
            Some(Err(error)) => panic!("consuming {topic}: {error}"),
            None if messages.len() >= expected => {
                let since = *quiet_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_secs(1) {
                    break;
                }
            }
            None => {}
        }
    }
    messages
}

/// Polls `condition` until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    condition()
}

/// The payloads of keyed `messages`, per partition in offset order (null-key messages go to a
/// random partition, so they are left out).
pub fn keyed_payloads_by_partition(messages: &[OwnedMessage]) -> std::collections::BTreeMap<i32, Vec<Vec<u8>>> {
    let mut sorted: Vec<&OwnedMessage> = messages.iter().filter(|m| m.key().is_some()).collect();
    sorted.sort_by_key(|m| (m.partition(), m.offset()));
    let mut by_partition = std::collections::BTreeMap::<i32, Vec<Vec<u8>>>::new();
    for message in sorted {
        by_partition.entry(message.partition()).or_default().push(message.payload().unwrap_or_default().to_vec());
    }
    by_partition
}

/// Sum of the high watermarks of every partition of `topic` (0 while it does not exist).
pub fn message_count(topic: &str) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", bootstrap()).create().expect("consumer");
    let Ok(metadata) = consumer.fetch_metadata(Some(topic), Duration::from_secs(5)) else { return 0 };
    let Some(topic_metadata) = metadata.topics().first() else { return 0 };
    topic_metadata
        .partitions()
        .iter()
        .filter_map(|p| consumer.fetch_watermarks(topic, p.id(), Duration::from_secs(5)).ok())
        .map(|(low, high)| high - low)
        .sum()
}

/// Sends `signal` (e.g. "TERM") to a child process.
pub fn send_signal(child: &std::process::Child, signal: &str) {
    let status = Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status().expect("kill");
    assert!(status.success(), "kill -{signal} failed");
}

/// Kafka (CreateTime) timestamps of `messages` in milliseconds, sorted.
pub fn sorted_timestamps(messages: &[OwnedMessage]) -> Vec<i64> {
    let mut timestamps: Vec<i64> = messages.iter().filter_map(|m| m.timestamp().to_millis()).collect();
    timestamps.sort_unstable();
    timestamps
}
