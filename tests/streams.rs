//! Several streams through one lake: purchase orders and payments from one `medallion run`
//! against a real broker, each stream on its own topic and tables, read back from storage.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use common::{Lake, OutputWithin, medallion, read_table, run_ok, send_raw, summary, undecodable_payloads, unique_topic};

/// A config file naming both built-in streams on their own topics.
fn two_streams(lake: &Lake, orders: &str, payments: &str) -> std::path::PathBuf {
    let path = lake.path().join("streams.yaml");
    let yaml = format!("streams:\n  - name: purchase_orders\n    topic: {orders}\n  - name: payments\n    topic: {payments}\n");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn rows(lake: &Lake, table: &str) -> usize {
    read_table(&lake.table(table)).num_rows()
}

/// Bronze rows kept undecoded.
fn undecoded(lake: &Lake, table: &str) -> usize {
    let batch = read_table(&lake.table(table));
    batch.column_by_name("decode_error").map_or(0, |errors| errors.len() - errors.null_count())
}

/// Quarantine rows that were undecodable in bronze.
fn quarantined_undecodable(lake: &Lake, table: &str) -> usize {
    let batch = read_table(&lake.table(table));
    let reasons = batch.column_by_name("quarantine_reason").unwrap().as_string::<i32>();
    reasons.iter().flatten().filter(|reason| reason.starts_with("undecodable")).count()
}

#[test]
fn both_streams_run_from_one_medallion_run() {
    let lake = Lake::new();
    let (orders, payments) = (unique_topic("streams-orders"), unique_topic("streams-payments"));
    run_ok(&["produce", "--count", "3000", "--seed", "5", "--topic", &orders]);
    run_ok(&["produce", "--stream", "payments", "--count", "4000", "--seed", "6", "--topic", &payments]);
    send_raw(&payments, &undecodable_payloads(7));
    let config = two_streams(&lake, &orders, &payments);
    let group = unique_topic("streams-g");
    let output =
        medallion().args(["run", "--until-caught-up", "--json", "--group", &group, "--lake", &lake.root(), "--config"]).arg(&config).output_within();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let run = summary(&output);
    let names: Vec<&str> = run["streams"].as_array().unwrap().iter().map(|s| s["stream"].as_str().unwrap()).collect();
    assert_eq!(names, ["purchase_orders", "payments"], "{run}");

    // Each stream's bronze holds its messages, and silver + quarantine hold every bronze row.
    for (stream, bronze, silver, quarantine, messages, bad) in [
        ("purchase_orders", "bronze/purchase_order_items", "silver/purchase_order_items", "silver/purchase_order_items_quarantine", 3000, 0),
        ("payments", "bronze/payments", "silver/payments", "silver/payments_quarantine", 4007, 7),
    ] {
        assert_eq!(rows(&lake, bronze), messages, "{stream}: bronze rows");
        assert_eq!(undecoded(&lake, bronze), bad, "{stream}: undecodable rows are kept in bronze");
        assert_eq!(rows(&lake, silver) + rows(&lake, quarantine), messages, "{stream}: silver + quarantine");
        assert_eq!(quarantined_undecodable(&lake, quarantine), bad, "{stream}: undecodable rows land in quarantine");
        assert!(rows(&lake, quarantine) > bad, "{stream}: its rules quarantine the bad records");
    }

    // The payments current state holds one row per transaction; its daily model counts each once.
    let current = read_table(&lake.table("silver/payments_current"));
    let ids = current.column_by_name("transaction_id").unwrap().as_string::<i32>();
    let distinct: std::collections::BTreeSet<&str> = ids.iter().flatten().collect();
    assert_eq!(distinct.len(), current.num_rows(), "one row per transaction");
    let daily = read_table(&lake.table("gold/payments_daily"));
    let counted: i64 = daily.column_by_name("payments").unwrap().as_primitive::<Int64Type>().iter().flatten().sum();
    assert_eq!(counted, current.num_rows() as i64, "every transaction in one day of payments_daily");
    let merchants = read_table(&lake.table("gold/payments_merchant_daily"));
    assert!(merchants.num_rows() > 0 && merchants.column_by_name("decline_rate").is_some());
    assert!(rows(&lake, "gold/order_status") > 0, "the purchase-order models ran too");

    // status and report show both streams.
    let status = medallion().args(["status", "--json", "--group", &group, "--lake", &lake.root(), "--config"]).arg(&config).output_within();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let status = summary(&status);
    for stream in status["streams"].as_array().unwrap() {
        assert_eq!(stream["kafka"]["total_lag"], 0, "{stream}");
        assert!(stream["tables"].as_array().unwrap().iter().all(|t| t["exists"] == true), "{stream}");
    }
    let report = medallion().args(["report", "--json", "--lake", &lake.root(), "--config"]).arg(&config).output_within();
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    let report = summary(&report);
    let titles: Vec<&str> = report["streams"][1]["sections"].as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap()).collect();
    assert!(titles.iter().any(|t| t.starts_with("payments by method")), "{report}");

    // --stream limits a command to one stream.
    let gold = medallion().args(["gold", "--json", "--stream", "payments", "--lake", &lake.root(), "--config"]).arg(&config).output_within();
    assert!(gold.status.success(), "{}", String::from_utf8_lossy(&gold.stderr));
    assert_eq!(summary(&gold)["commits"], 0, "a second refresh commits nothing");
    let unknown = medallion().args(["gold", "--stream", "refunds", "--lake", &lake.root(), "--config"]).arg(&config).output_within();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("--stream refunds: no such stream; the configured streams are purchase_orders, payments")
    );
}

/// A record no stream claims, served by the test registry under id 901.
const REFUND_SCHEMA: &str = r#"{"type": "record", "name": "Refund", "namespace": "io.example", "fields": [{"name": "refund_id", "type": "string"}]}"#;

/// `count` Refund records framed with registry id 901.
fn refunds(count: usize) -> Vec<Vec<u8>> {
    let schema = apache_avro::Schema::parse_str(REFUND_SCHEMA).unwrap();
    (0..count)
        .map(|i| {
            let mut value = Vec::new();
            medallion::framing::write_header(medallion::framing::SchemaRef::RegistryId(901), &mut value);
            let record = apache_avro::types::Value::Record(vec![("refund_id".to_owned(), apache_avro::types::Value::String(format!("R-{i}")))]);
            let writer = apache_avro::writer::datum::GenericDatumWriter::builder(&schema).build().unwrap();
            value.extend(writer.write_value_to_vec(record).unwrap());
            value
        })
        .collect()
}

/// (partition, offset) of every row of a bronze table.
fn coordinates(lake: &Lake, table: &str) -> Vec<(i32, i64)> {
    let batch = read_table(&lake.table(table));
    let partitions = batch.column_by_name("kafka_partition").unwrap().as_primitive::<arrow::datatypes::Int32Type>().clone();
    let offsets = batch.column_by_name("kafka_offset").unwrap().as_primitive::<Int64Type>().clone();
    partitions.iter().zip(offsets.iter()).map(|(p, o)| (p.unwrap(), o.unwrap())).collect()
}

#[test]
fn one_topic_with_two_record_types_feeds_two_bronze_tables_and_keeps_what_nobody_claims() {
    let lake = Lake::new();
    let topic = unique_topic("streams-mixed");
    run_ok(&["produce", "--count", "1500", "--seed", "8", "--topic", &topic]);
    run_ok(&["produce", "--stream", "payments", "--count", "2000", "--seed", "9", "--topic", &topic]);
    send_raw(&topic, &undecodable_payloads(5));
    send_raw(&topic, &refunds(12));
    let registry = common::serve_registry(std::net::TcpListener::bind("127.0.0.1:0").unwrap(), vec![(901, REFUND_SCHEMA.to_owned())]);
    let config = lake.path().join("mixed.yaml");
    let yaml = format!(
        "schema:\n  registry:\n    url: {registry}\n    timeout: 5s\nstreams:\n  - name: purchase_orders\n    topic: {topic}\n  - name: payments\n    topic: {topic}\n"
    );
    std::fs::write(&config, yaml).unwrap();
    let group = unique_topic("mixed-g");
    let run = |config: &std::path::Path| {
        let output = medallion()
            .args(["run", "--until-caught-up", "--json", "--group", &group, "--lake", &lake.root(), "--config"])
            .arg(config)
            .output_within();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        summary(&output)
    };
    let first = run(&config);
    let [orders, payments] = [&first["streams"][0]["bronze"], &first["streams"][1]["bronze"]];
    assert_eq!((orders["messages"].as_u64(), orders["passed_over"].as_u64()), (Some(1517), Some(2000)), "{first}");
    assert_eq!((payments["messages"].as_u64(), payments["passed_over"].as_u64()), (Some(2000), Some(1517)), "{first}");

    // Every message of the topic is in exactly one of the two tables.
    let mut seen = coordinates(&lake, "bronze/purchase_order_items");
    seen.extend(coordinates(&lake, "bronze/payments"));
    let total = seen.len();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!((total, seen.len()), (3517, 3517), "no message twice, none lost");
    assert_eq!(undecoded(&lake, "bronze/payments"), 0, "payments holds only payments, all decoded");
    assert_eq!(undecoded(&lake, "bronze/purchase_order_items"), 17, "the unreadable and the unclaimed stay with the first stream");
    let orders_bronze = read_table(&lake.table("bronze/purchase_order_items"));
    let errors = orders_bronze.column_by_name("decode_error").unwrap().as_string::<i32>();
    let unclaimed = errors.iter().flatten().filter(|e| e.starts_with("record io.example.Refund is claimed by no stream of topic")).count();
    assert_eq!(unclaimed, 12, "an unclaimed record says so");
    assert_eq!(rows(&lake, "silver/payments") + rows(&lake, "silver/payments_quarantine"), 2000);

    // Run again: nothing new lands anywhere.
    let again = run(&config);
    for stream in again["streams"].as_array().unwrap() {
        assert_eq!(stream["bronze"]["messages"], 0, "{again}");
    }
    assert_eq!(coordinates(&lake, "bronze/purchase_order_items").len() + coordinates(&lake, "bronze/payments").len(), 3517);
}
