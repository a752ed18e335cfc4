//! Stopping and pacing `medallion produce` against a real broker: count, duration, rate, SIGTERM
//! and SIGHUP (rate reload).
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{
    PROCESS_DEADLINE, collect_output, consume_all, medallion, message_count, run_ok, send_signal, sorted_timestamps, summary, unique_topic,
    wait_until,
};

#[test]
fn count_stops_after_exactly_that_many() {
    let topic = unique_topic("produce-count");
    let output = run_ok(&["produce", "--count", "1234", "--topic", &topic, "--json"]);
    let summary = summary(&output);
    assert_eq!((summary["sent"].as_u64(), summary["stop_reason"].as_str()), (Some(1234), Some("count")));
    assert_eq!(consume_all(&topic, 1234, Duration::from_secs(60)).len(), 1234);
}

#[test]
fn duration_stops_in_time_and_everything_sent_arrives() {
    let topic = unique_topic("produce-duration");
    let started = Instant::now();
    let output = run_ok(&["produce", "--duration", "2s", "--rate", "1000", "--topic", &topic, "--json"]);
    let elapsed = started.elapsed();
    let summary = summary(&output);
    assert_eq!(summary["stop_reason"], "duration");
    assert!(elapsed < Duration::from_secs(12), "took {elapsed:?}");
    let sent = summary["sent"].as_u64().unwrap() as usize;
    assert!((1_800..=2_200).contains(&sent), "sent {sent} in 2 s at 1000/s");
    assert_eq!(consume_all(&topic, sent, Duration::from_secs(60)).len(), sent);
}

#[test]
fn rate_holds_5000_per_second_within_5_percent_over_10_seconds() {
    let topic = unique_topic("produce-rate");
    let output = run_ok(&["produce", "--rate", "5000", "--duration", "10s", "--topic", &topic, "--json"]);
    let sent = summary(&output)["sent"].as_u64().unwrap() as usize;
    let messages = consume_all(&topic, sent, Duration::from_secs(60));
    assert_eq!(messages.len(), sent);
    assert!((47_500..=52_500).contains(&sent), "{sent} events in 10 s");
    // Measured by the broker's view of the stream: Kafka timestamps of the messages.
    let timestamps = sorted_timestamps(&messages);
    let (first, last) = (timestamps[0], timestamps[timestamps.len() - 1]);
    let rate = (timestamps.len() - 1) as f64 / ((last - first) as f64 / 1000.0);
    assert!((4_750.0..=5_250.0).contains(&rate), "rate {rate:.0}/s");
    // Every whole second but the first holds the pace too, within 10%: a single second on a
    // loaded 2-core machine (other tests run alongside) may lose a scheduling slice; the 10 s
    // rate above is the ±5% requirement.
    for second in 1..9 {
        let start = first + second * 1000;
        let in_window = timestamps.iter().filter(|t| (start..start + 1000).contains(*t)).count();
        assert!((4_500..=5_500).contains(&in_window), "second {second}: {in_window} events");
    }
}

#[test]
fn sigterm_stops_cleanly_after_flushing() {
    let topic = unique_topic("produce-sigterm");
    let child = medallion()
        .args(["produce", "--rate", "2000", "--topic", &topic, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    assert!(wait_until(Duration::from_secs(30), || message_count(&topic) >= 2_000), "nothing produced");
    send_signal(&child, "TERM");
    let started = Instant::now();
    let output = collect_output(child, PROCESS_DEADLINE);
    assert!(started.elapsed() < Duration::from_secs(15), "shutdown took {:?}", started.elapsed());
    assert!(output.status.success(), "exit {:?}: {}", output.status, String::from_utf8_lossy(&output.stderr));
    let summary = summary(&output);
    assert_eq!(summary["stop_reason"], "signal");
    assert_eq!(summary["failed"], 0);
    let sent = summary["sent"].as_u64().unwrap() as usize;
    assert_eq!(consume_all(&topic, sent, Duration::from_secs(60)).len(), sent, "every acknowledged event is on the topic");
}

#[test]
fn sighup_applies_a_new_rate_from_the_config_file() {
    let topic = unique_topic("produce-sighup");
    let mut config = tempfile::NamedTempFile::new().unwrap();
    config.write_all(b"producer:\n  rate: 500\n").unwrap();
    let child = medallion()
        .args(["produce", "--duration", "7s", "--topic", &topic, "--json", "--config"])
        .arg(config.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // About 2 s at 500/s before the reload.
    assert!(wait_until(Duration::from_secs(30), || message_count(&topic) >= 1_000), "nothing produced");
    std::fs::write(config.path(), "producer:\n  rate: 4000\n").unwrap();
    send_signal(&child, "HUP");
    let output = collect_output(child, PROCESS_DEADLINE);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let sent = summary(&output)["sent"].as_u64().unwrap() as usize;
    let timestamps = sorted_timestamps(&consume_all(&topic, sent, Duration::from_secs(60)));
    let (first, last) = (timestamps[0], timestamps[timestamps.len() - 1]);
    let per_second = |from: i64| timestamps.iter().filter(|t| (from..from + 1000).contains(*t)).count();
    let early = per_second(first + 500);
    let late = per_second(last - 1500);
    assert!((400..=600).contains(&early), "before SIGHUP: {early}/s");
    assert!((3_600..=4_400).contains(&late), "after SIGHUP: {late}/s");
}

/// Deliveries that time out (here: a 3 ms delivery budget, so many do, some after the broker
/// stored them) are counted as failed and never sent a second time by medallion: the topic
/// holds no payload twice, and nothing that was reported sent is missing.
#[test]
fn timed_out_deliveries_are_counted_and_never_resent() {
    let topic = unique_topic("produce-timeouts");
    let output = common::output_within(
        medallion()
            .args(["produce", "--count", "20000", "--seed", "13", "--topic", &topic, "--json"])
            .env("MEDALLION_PRODUCER__LINGER", "0ms")
            .env("MEDALLION_PRODUCER__DELIVERY_TIMEOUT", "3ms"),
        PROCESS_DEADLINE,
    );
    let summary = summary(&output);
    let (sent, failed) = (summary["sent"].as_u64().unwrap(), summary["failed"].as_u64().unwrap());
    assert_eq!(sent + failed, 20_000, "every message counted once: {summary}");
    if failed > 0 {
        assert_eq!(output.status.code(), Some(1), "failed deliveries make the run fail");
    }
    let messages = consume_all(&topic, sent as usize, Duration::from_secs(60));
    let mut payloads: Vec<&[u8]> = messages.iter().filter_map(rdkafka::Message::payload).collect();
    let stored = payloads.len();
    payloads.sort_unstable();
    payloads.dedup();
    assert_eq!(payloads.len(), stored, "{} payloads stored twice", stored - payloads.len());
    assert!(stored as u64 >= sent, "every message reported sent is stored: {stored} < {sent}");
}
