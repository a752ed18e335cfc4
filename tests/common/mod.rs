//! Helpers for tests against a real Kafka-protocol broker, named by `KAFKA_BOOTSTRAP` (the dev
//! broker by default). Without a reachable broker every broker test fails, saying how to start one.
#![allow(dead_code)]

pub mod azurite;
pub mod dqx;
pub mod faulty_proxy;
pub mod postgres;

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
    assert!(
        listening(&first),
        "no Kafka broker at {bootstrap}: start the dev broker with `scripts/dev-broker start` \
         (or `docker compose up -d` for Redpanda), or point KAFKA_BOOTSTRAP at one; \
         `scripts/test` does all of this by itself"
    );
    bootstrap
}

/// Whether something accepts TCP connections at `address` (`host:port`) within 3 s: the test
/// services' "is it running" check.
pub fn listening(address: &str) -> bool {
    address
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(3)).is_ok())
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

/// How long any single `medallion` run in a test may take before the test fails: a hung process
/// must fail the test, never the whole CI run.
pub const PROCESS_DEADLINE: Duration = Duration::from_secs(240);

/// Runs `command` to completion like `Command::output`, but kills it and fails the test, with its
/// stderr, when it outlives `deadline`.
pub fn output_within(command: &mut Command, deadline: Duration) -> Output {
    use std::process::Stdio;
    let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn medallion");
    collect_output(child, deadline)
}

/// `Child::wait_with_output` for a child spawned with piped stderr (and stdout, unless the test
/// took it to read as it goes), but killing it and failing the test, with its stderr, when it
/// outlives `deadline`.
pub fn collect_output(mut child: std::process::Child, deadline: Duration) -> Output {
    use std::io::Read;
    let stdout_pipe = child.stdout.take();
    let mut stderr_pipe = child.stderr.take().expect("stderr piped");
    let stdout = std::thread::spawn(move || {
        let mut buffer = Vec::new();
        if let Some(mut pipe) = stdout_pipe {
            let _ = pipe.read_to_end(&mut buffer);
        }
        buffer
    });
    let stderr = std::thread::spawn(move || {
        let mut buffer = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut buffer);
        buffer
    });
    let status = wait_or_kill(&mut child, deadline);
    let (stdout, stderr) = (stdout.join().unwrap_or_default(), stderr.join().unwrap_or_default());
    let Some(status) = status else {
        panic!("medallion still running after {deadline:?}, killed; its stderr:\n{}", String::from_utf8_lossy(&stderr));
    };
    Output { status, stdout, stderr }
}

/// Waits for `child` for at most `deadline`; past it, kills the child and fails the test.
pub fn wait_within(child: &mut std::process::Child, deadline: Duration) -> std::process::ExitStatus {
    let pid = child.id();
    wait_or_kill(child, deadline).unwrap_or_else(|| panic!("medallion (pid {pid}) still running after {deadline:?}: killed"))
}

/// The exit status of `child`, or `None` (after killing it) when it outlives `deadline`.
fn wait_or_kill(child: &mut std::process::Child, deadline: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for medallion") {
            return Some(status);
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `medallion` with `args` and returns its output, failing with stderr on a non-zero exit.
pub fn run_ok(args: &[&str]) -> Output {
    let output = output_within(medallion().args(args), PROCESS_DEADLINE);
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

/// Reproducible "random" kill moments: `min` plus up to `spread` milliseconds, a new one per
/// call (xorshift over `state`).
pub fn next_pause(state: &mut u64, min_ms: u64, spread_ms: u64) -> Duration {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    Duration::from_millis(min_ms + *state % spread_ms)
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

/// One bronze row as read back from the table's Parquet files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BronzeRow {
    pub partition: i32,
    pub offset: i64,
    pub decode_error: Option<String>,
    pub raw_payload: Vec<u8>,
    pub order_id: Option<String>,
}

/// Every record of the Delta table at `location`, read from its Parquet files by a fresh table
/// handle (never the writer's memory), in one batch.
pub fn read_table(location: &str) -> arrow::array::RecordBatch {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = deltalake::table::builder::ensure_table_uri(location).unwrap();
    let table = runtime.block_on(deltalake::open_table(url)).unwrap();
    let mut batches = Vec::new();
    let mut schema = None;
    for uri in table.get_file_uris().unwrap() {
        let path = match url::Url::parse(&uri) {
            Ok(url) => url.to_file_path().unwrap(),
            Err(_) => std::path::PathBuf::from(&uri),
        };
        let file = std::fs::File::open(path).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
        schema.get_or_insert_with(|| arrow::array::RecordBatchReader::schema(&reader));
        batches.extend(reader.map(Result::unwrap));
    }
    match schema {
        Some(schema) => arrow::compute::concat_batches(&schema, &batches).unwrap(),
        None => arrow::array::RecordBatch::new_empty(std::sync::Arc::new(arrow::datatypes::Schema::empty())),
    }
}

/// Every row of the bronze table at `location`, read from storage by a fresh table handle.
pub fn read_bronze(location: &str) -> Vec<BronzeRow> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int32Type, Int64Type};
    let batch = read_table(location);
    let mut rows = Vec::new();
    if batch.num_rows() > 0 {
        let column = |name: &str| batch.column_by_name(name).unwrap_or_else(|| panic!("no column {name}")).clone();
        let (partitions, offsets) = (column("kafka_partition"), column("kafka_offset"));
        let (errors, raw, order_ids) = (column("decode_error"), column("raw_payload"), column("order_id"));
        for i in 0..batch.num_rows() {
            rows.push(BronzeRow {
                partition: partitions.as_primitive::<Int32Type>().value(i),
                offset: offsets.as_primitive::<Int64Type>().value(i),
                decode_error: (!errors.is_null(i)).then(|| errors.as_string::<i32>().value(i).to_owned()),
                raw_payload: raw.as_binary::<i32>().value(i).to_vec(),
                order_id: (!order_ids.is_null(i)).then(|| order_ids.as_string::<i32>().value(i).to_owned()),
            });
        }
    }
    rows.sort_by_key(|r| (r.partition, r.offset));
    rows
}

/// The `txn` version recorded for `app_id` in the table at `location`.
pub fn txn_version(location: &str, app_id: &str) -> Option<i64> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let url = deltalake::table::builder::ensure_table_uri(location).unwrap();
        let table = deltalake::open_table(url).await.unwrap();
        table.snapshot().unwrap().transaction_version(table.log_store().as_ref(), app_id).await.unwrap()
    })
}

/// The `metaData.id` of the local Delta table at `location`, read from its first log entry.
pub fn table_id(location: &str) -> String {
    let log = std::fs::read_to_string(std::path::Path::new(location).join("_delta_log/00000000000000000000.json")).unwrap();
    log.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find_map(|action| action["metaData"]["id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no metaData id in the log of {location}"))
}

/// Sends raw `payloads` (not medallion's encoding) to `topic`, keyed, to partitions round-robin.
pub fn send_raw(topic: &str, payloads: &[Vec<u8>]) {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", bootstrap()).create().expect("producer");
    for (i, payload) in payloads.iter().enumerate() {
        let key = format!("raw-{i}");
        let mut record = BaseRecord::to(topic).key(&key).payload(payload);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, returned)) => {
                    record = returned;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
}

/// Payloads no decoder can read: garbage, wrong magic, unknown schema id and fingerprint, truncation.
pub fn undecodable_payloads(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| match i % 5 {
            0 => format!("not avro #{i}").into_bytes(),
            1 => vec![0x7B, 0x22, 0x6A, 0x22, 0x3A, (i % 256) as u8],
            2 => vec![0, 0, 0, 0x30, 0x39, 1, 2, 3],
            3 => vec![0xC3, 0x01, 9, 9, 9, 9, 9, 9, 9, (i % 256) as u8, 0],
            _ => vec![0, 0, 0, 0, 2, 0x48],
        })
        .collect()
}

/// `Command::output` with [`PROCESS_DEADLINE`]: a hung `medallion` fails its test instead of
/// hanging the suite.
pub trait OutputWithin {
    fn output_within(&mut self) -> Output;
}

impl OutputWithin for Command {
    fn output_within(&mut self) -> Output {
        output_within(self, PROCESS_DEADLINE)
    }
}

/// A lake in a temporary directory. When a test fails, the end of every `*.log` file in it
/// (background workers' logs) is printed.
pub struct Lake {
    dir: tempfile::TempDir,
}

impl Lake {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }
    pub fn root(&self) -> String {
        self.dir.path().display().to_string()
    }
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
    /// The location of the table at `relative` (e.g. `silver/quality_metrics`).
    pub fn table(&self, relative: &str) -> String {
        format!("{}/{relative}", self.root())
    }
    pub fn bronze(&self) -> String {
        self.table("bronze/purchase_order_items")
    }
    /// Spawns `command` in the background, its stderr in `<lake>/<name>.log` (shown if the test fails).
    pub fn spawn_logged(&self, command: &mut Command, name: &str) -> std::process::Child {
        let log = std::fs::File::create(self.path().join(format!("{name}.log"))).unwrap();
        command.env("MEDALLION_LOG", "warn,medallion=info").stdout(std::process::Stdio::null()).stderr(log).spawn().unwrap()
    }
}

impl Drop for Lake {
    /// A failing test shows the end of every background worker's log.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let Ok(entries) = std::fs::read_dir(self.dir.path()) else { return };
        for entry in entries.flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".log")) {
            let log = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- {} (last lines) ---", entry.file_name().to_string_lossy());
            tail.iter().rev().for_each(|line| eprintln!("{line}"));
        }
    }
}

/// A loopback stand-in for a Confluent schema registry (none can be installed on this machine):
/// answers `GET /schemas/ids/N` with the schema JSON given for N, and 404 for anything else, one
/// request per connection. Returns its URL.
pub fn serve_registry(listener: std::net::TcpListener, schemas: Vec<(u32, String)>) -> String {
    use std::io::{Read, Write};
    let url = format!("http://{}", listener.local_addr().unwrap());
    let bodies: Vec<(String, String)> =
        schemas.into_iter().map(|(id, json)| (format!("GET /schemas/ids/{id} "), serde_json::json!({ "schema": json }).to_string())).collect();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let n = stream.read(&mut request).unwrap_or(0);
            let request = String::from_utf8_lossy(&request[..n]);
            let (status, body) = match bodies.iter().find(|(prefix, _)| request.starts_with(prefix.as_str())) {
                Some((_, body)) => ("200 OK", body.clone()),
                None => ("404 Not Found", r#"{"error_code":40403,"message":"Schema not found"}"#.to_owned()),
            };
            let reply =
                format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    url
}

/// How many rules of `rules_file` (under the crate root) each of `records` fails, after encoding
/// each with the newest schema of `record` and decoding them as bronze does.
pub fn rule_failures_per_row<R: medallion::encode::WireRecord>(record: &str, rules_file: &str, records: &[&R]) -> Vec<usize> {
    use medallion::framing::SchemaRef;
    let entry = medallion::schema::SchemaCatalog::embedded().record(record).latest().expect("the record has a schema");
    let encoder = medallion::encode::RecordEncoder::new(entry, SchemaRef::Fingerprint(entry.fingerprint)).unwrap();
    let mut writers = medallion::decode::WriterSchemas::default();
    writers.insert_fingerprint(entry.fingerprint, entry.schema.clone());
    let framings = [medallion::config::Framing::SingleObject];
    let mut decoder = medallion::decode::Decoder::new(&entry.schema, writers, &framings, records.len()).unwrap();
    for record in records {
        let mut payload = Vec::new();
        encoder.encode(*record, &mut payload).unwrap();
        assert_eq!(decoder.push(&payload).error, None);
    }
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(decoder.arrow_fields()));
    let batch = arrow::array::RecordBatch::try_new(schema.clone(), decoder.finish().unwrap()).unwrap();
    let rules = medallion::rules::RuleSet::load(&format!("{}/{rules_file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let outcomes = rules.compile(schema).unwrap().evaluate(&batch);
    let mut failing = vec![0; records.len()];
    for outcome in &outcomes {
        for (row, _) in &outcome.failures {
            failing[*row] += 1;
        }
    }
    failing
}

/// Asserts that `baskets` (per sale or order: the buyer's segment index, and per line whether it
/// was discounted) hold the master data's segment table: each segment's share of baskets within
/// 1.5 points, its basket sizes in its range with the mean within 2%, and, when `discounts`,
/// its share of discounted lines within 2 points. Prints what it measured.
pub fn assert_segments_hold(what: &str, baskets: &[(usize, Vec<bool>)], discounts: bool) {
    use medallion::generate::master::SEGMENTS;
    for (index, segment) in SEGMENTS.iter().enumerate() {
        let of_segment: Vec<&Vec<bool>> = baskets.iter().filter(|(s, _)| *s == index).map(|(_, lines)| lines).collect();
        let share = of_segment.len() as f64 / baskets.len() as f64;
        let mean = of_segment.iter().map(|lines| lines.len()).sum::<usize>() as f64 / of_segment.len() as f64;
        let expected_mean = f64::from(segment.basket.0 + segment.basket.1) / 2.0;
        let lines: Vec<bool> = of_segment.iter().flat_map(|lines| lines.iter().copied()).collect();
        let discounted = lines.iter().filter(|d| **d).count() as f64 / lines.len() as f64;
        println!(
            "{what} {:8} {:5.2}% (table {:4.1}%)  basket {mean:.3} ({}–{})  discounted lines {:5.2}% (table {:.0}%)",
            segment.name,
            share * 100.0,
            segment.share * 100.0,
            segment.basket.0,
            segment.basket.1,
            discounted * 100.0,
            segment.discount_sensitivity * 100.0
        );
        assert!((share - segment.share).abs() <= 0.015, "{what} {}: share {share}", segment.name);
        assert!(
            of_segment.iter().all(|lines| (segment.basket.0 as usize..=segment.basket.1 as usize).contains(&lines.len())),
            "{what} {}",
            segment.name
        );
        assert!((mean / expected_mean - 1.0).abs() <= 0.02, "{what} {}: mean basket {mean}", segment.name);
        if discounts {
            assert!((discounted - segment.discount_sensitivity).abs() <= 0.02, "{what} {}: discounted {discounted}", segment.name);
        }
    }
}

/// Asserts that every clean record fails no rule, every bad one fails at least one, and every
/// defect kind (of `kinds` in all) occurs; `failing` is [`rule_failures_per_row`]'s answer.
pub fn assert_defects_caught<K: Ord + Copy + std::fmt::Debug>(defects: &[Option<K>], failing: &[usize], kinds: usize) {
    let mut caught: std::collections::BTreeMap<K, usize> = std::collections::BTreeMap::new();
    for (row, (defect, rules)) in defects.iter().zip(failing).enumerate() {
        match defect {
            None => assert_eq!(*rules, 0, "clean row {row} fails a rule"),
            Some(kind) => {
                assert!(*rules > 0, "row {row} with {kind:?} passes every rule");
                *caught.entry(*kind).or_default() += 1;
            }
        }
    }
    assert_eq!(caught.len(), kinds, "defect kinds seen: {caught:?}");
}

/// Produces `count` events of the built-in stream `stream` to `topic` (with `produce_args`, e.g.
/// a seed and a calendar), then runs the pipeline of that one stream over it into `lake` until
/// caught up, consuming in `group`. Panics, with stderr, when either fails.
pub fn produce_and_run(lake: &Lake, stream: &str, topic: &str, group: &str, count: usize, produce_args: &[&str]) {
    let count_text = count.to_string();
    let mut args = vec!["produce", "--stream", stream, "--count", &count_text, "--topic", topic, "--json"];
    args.extend_from_slice(produce_args);
    let produced = run_ok(&args);
    assert_eq!(summary(&produced)["sent"], count, "{}", String::from_utf8_lossy(&produced.stdout));
    let config = lake.path().join(format!("{stream}.yaml"));
    std::fs::write(&config, format!("streams:\n  - name: {stream}\n    topic: {topic}\n")).unwrap();
    let output =
        medallion().args(["run", "--until-caught-up", "--json", "--group", group, "--lake", &lake.root(), "--config"]).arg(&config).output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}
