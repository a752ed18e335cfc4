//! Bronze looks up Confluent schema ids it does not know in the configured schema registry (a
//! loopback endpoint answering `GET /schemas/ids/N` as Confluent's REST API does; no real
//! registry can be installed on this machine), against a real broker and Delta table.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::net::TcpListener;

use common::{OutputWithin, medallion, read_bronze, send_raw, summary, unique_topic};
use medallion::encode::RecordEncoder;
use medallion::framing::SchemaRef;
use medallion::generate::{Generator, GeneratorSettings};
use medallion::schema::SchemaCatalog;

/// Serves `/schemas/ids/77` (the v1 schema) and 404 for anything else, one request per connection.
fn registry() -> String {
    serve_registry(TcpListener::bind("127.0.0.1:0").unwrap())
}

fn serve_registry(listener: TcpListener) -> String {
    let v1 = SchemaCatalog::purchase_orders().by_version(1).unwrap().embedded.json;
    common::serve_registry(listener, vec![(77, v1.to_owned())])
}

/// 60 v1 events framed with registry id 77 (known to the test registry) and 40 with id 78 (not).
fn send_registry_framed(topic: &str) {
    let v1 = SchemaCatalog::purchase_orders().by_version(1).unwrap();
    let mut generator = Generator::new(&GeneratorSettings { seed: 4, invalid_ratio: 0.0, start_time: None, rate: 0, time_scale: 1.0 });
    let mut payloads = Vec::new();
    for (id, count) in [(77, 60), (78, 40)] {
        let encoder = RecordEncoder::new(v1, SchemaRef::RegistryId(id)).unwrap();
        for _ in 0..count {
            let mut payload = Vec::new();
            encoder.encode(&generator.next_event().item, &mut payload).unwrap();
            payloads.push(payload);
        }
    }
    send_raw(topic, &payloads);
}

#[test]
fn unknown_confluent_ids_are_fetched_from_the_registry() {
    let topic = unique_topic("bronze-registry");
    send_registry_framed(&topic);
    let lake = tempfile::tempdir().unwrap();
    let config = lake.path().join("medallion.yaml");
    std::fs::write(&config, format!("schema:\n  registry:\n    url: {}\n    timeout: 5s\n", registry())).unwrap();
    let output = medallion()
        .args(["bronze", "--until-caught-up", "--json", "--topic", &topic, "--group", &unique_topic("g"), "--config"])
        .arg(&config)
        .arg("--lake")
        .arg(lake.path())
        .output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary = summary(&output);
    assert_eq!((summary["decoded"].as_u64(), summary["undecodable"].as_u64()), (Some(60), Some(40)), "{summary}");
    let rows = read_bronze(&format!("{}/bronze/purchase_order_items", lake.path().display()));
    assert_eq!(rows.len(), 100);
    let unknown: Vec<_> = rows.iter().filter_map(|r| r.decode_error.as_deref()).collect();
    assert!(unknown.iter().all(|e| e.contains("unknown writer schema id:78")), "{unknown:?}");
    assert!(rows.iter().filter(|r| r.decode_error.is_none()).all(|r| r.order_id.is_some()));
}

/// `bronze --until-caught-up` against a registry on a loopback port nothing listens on yet;
/// the port, for the test to serve the registry on later.
fn bronze_with_registry_down(topic: &str, lake: &std::path::Path) -> (u16, std::process::Child) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = lake.join("medallion.yaml");
    let settings = format!(
        "schema:\n  registry:\n    url: http://127.0.0.1:{port}\n    timeout: 2s\nbronze:\n  retry_backoff: 200ms\n  flush_interval: 200ms\n"
    );
    std::fs::write(&config, settings).unwrap();
    let bronze = medallion()
        .args(["bronze", "--until-caught-up", "--json", "--topic", topic, "--group", &unique_topic("g"), "--config"])
        .arg(&config)
        .arg("--lake")
        .arg(lake)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    (port, bronze)
}

/// A registry that does not answer pauses bronze: nothing is written while it is down (no
/// message becomes undecodable for good), and once it answers every message decodes as it
/// would have.
#[test]
fn a_registry_outage_pauses_bronze_instead_of_leaving_messages_undecoded() {
    let topic = unique_topic("bronze-registry-down");
    send_registry_framed(&topic);
    let lake = tempfile::tempdir().unwrap();
    let (port, bronze) = bronze_with_registry_down(&topic, lake.path());
    let table = format!("{}/bronze/purchase_order_items", lake.path().display());
    std::thread::sleep(std::time::Duration::from_secs(6));
    let written = if std::path::Path::new(&table).join("_delta_log").exists() { read_bronze(&table).len() } else { 0 };
    assert_eq!(written, 0, "nothing is written while the registry is down");
    serve_registry(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let output = common::collect_output(bronze, common::PROCESS_DEADLINE);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary = summary(&output);
    assert_eq!((summary["decoded"].as_u64(), summary["undecodable"].as_u64()), (Some(60), Some(40)), "{summary}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("the schema registry does not answer"), "the pause is said");
}

/// Sends `payloads` to partition `partition` of `topic`.
fn send_to_partition(topic: &str, partition: i32, payloads: &[Vec<u8>]) {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = rdkafka::ClientConfig::new().set("bootstrap.servers", common::bootstrap()).create().unwrap();
    for payload in payloads {
        producer.send(BaseRecord::<(), [u8]>::to(topic).partition(partition).payload(payload)).unwrap();
        producer.poll(std::time::Duration::ZERO);
    }
    producer.flush(std::time::Duration::from_secs(30)).unwrap();
}

/// The lookups run off the consume loop: while the registry does not answer, only the partition
/// whose next message needs it waits; the others are written.
#[test]
fn only_the_partition_that_needs_the_registry_waits_for_it() {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let topic = unique_topic("bronze-registry-partition");
    let admin: AdminClient<rdkafka::client::DefaultClientContext> =
        rdkafka::ClientConfig::new().set("bootstrap.servers", common::bootstrap()).create().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let created = runtime.block_on(admin.create_topics(&[NewTopic::new(&topic, 2, TopicReplication::Fixed(1))], &AdminOptions::new())).unwrap();
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    let mut generator = Generator::new(&GeneratorSettings { seed: 6, invalid_ratio: 0.0, start_time: None, rate: 0, time_scale: 1.0 });
    let encode = |entry, schema_ref, generator: &mut Generator| {
        let encoder = RecordEncoder::new(entry, schema_ref).unwrap();
        (0..30)
            .map(|_| {
                let mut payload = Vec::new();
                encoder.encode(&generator.next_event().item, &mut payload).unwrap();
                payload
            })
            .collect::<Vec<_>>()
    };
    let catalog = SchemaCatalog::purchase_orders();
    let needs_registry = encode(catalog.by_version(1).unwrap(), SchemaRef::RegistryId(77), &mut generator);
    let v2 = catalog.by_version(2).unwrap();
    let self_described = encode(v2, SchemaRef::Fingerprint(v2.fingerprint), &mut generator);
    send_to_partition(&topic, 0, &needs_registry);
    send_to_partition(&topic, 1, &self_described);

    let lake = tempfile::tempdir().unwrap();
    let (port, bronze) = bronze_with_registry_down(&topic, lake.path());
    let table = format!("{}/bronze/purchase_order_items", lake.path().display());
    let first_commit = std::path::Path::new(&table).join(format!("_delta_log/{:020}.json", 1));
    assert!(common::wait_until(std::time::Duration::from_secs(60), || first_commit.exists()), "the partition that needs no registry is written");
    let rows = read_bronze(&table);
    assert!(rows.iter().all(|r| r.partition == 1 && r.decode_error.is_none()), "only partition 1 so far, decoded");
    assert_eq!(rows.len(), 30);
    serve_registry(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let output = common::collect_output(bronze, common::PROCESS_DEADLINE);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let rows = read_bronze(&table);
    assert_eq!((rows.len(), rows.iter().filter(|r| r.decode_error.is_none()).count()), (60, 60), "partition 0 decoded once the registry answered");
}
