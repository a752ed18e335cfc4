//! `medallion produce --stream payments`: payments on their own topic against a real broker, and
//! SIGHUP reloading the generator section (a valid file takes effect, an invalid one is refused).
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use common::{PROCESS_DEADLINE, collect_output, consume_all, medallion, run_ok, send_signal, summary, unique_topic, wait_until};
use medallion::framing::{self, SchemaRef};
use medallion::schema::SchemaCatalog;
use rdkafka::Message;

fn field<'a>(value: &'a Value, name: &str) -> &'a Value {
    let Value::Record(fields) = value else { panic!("not a record: {value:?}") };
    let value = &fields.iter().find(|(n, _)| n == name).unwrap().1;
    match value {
        Value::Union(_, inner) => inner,
        other => other,
    }
}

#[test]
fn payments_go_to_their_topic_keyed_by_transaction_and_framed_with_their_schema() {
    let topic = unique_topic("produce-payments");
    let output = run_ok(&["produce", "--stream", "payments", "--count", "2000", "--seed", "4", "--topic", &topic, "--json"]);
    let summary = summary(&output);
    assert_eq!(
        (summary["stream"].as_str(), summary["sent"].as_u64(), summary["topic"].as_str()),
        (Some("payments"), Some(2000), Some(topic.as_str()))
    );
    let kinds = summary["invalid_by_kind"].as_object().unwrap();
    assert!(kinds.contains_key("declined_with_capture") && !kinds.contains_key("wrong_total"), "{kinds:?}");
    let v2 = SchemaCatalog::payments().by_version(2).unwrap();
    let messages = consume_all(&topic, 2000, Duration::from_secs(60));
    assert_eq!(messages.len(), 2000);
    for message in &messages {
        let (schema_ref, datum) = framing::parse(message.payload().unwrap()).unwrap();
        assert_eq!(schema_ref, SchemaRef::RegistryId(12), "payment_transaction.v2.avsc's static id");
        let value = GenericDatumReader::builder(&v2.schema).build().unwrap().read_value(&mut &datum[..]).unwrap();
        match (message.key(), field(&value, "transaction_id")) {
            (Some(key), Value::String(id)) => assert_eq!(key, id.as_bytes()),
            (None, Value::Null) => {}
            (key, id) => panic!("key {key:?} for transaction id {id:?}"),
        }
    }
}

/// The first event of each payment, as `--output stdout` prints it: its method.
fn new_payment_methods(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| matches!(event["status"].as_str(), Some("AUTHORIZED" | "DECLINED")))
        .filter_map(|event| event["payment_method"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn sighup_applies_new_payment_weights_and_refuses_an_invalid_file() {
    let config = tempfile::NamedTempFile::new().unwrap();
    let weights = |methods: &str| format!("generators:\n  payments:\n    invalid_ratio: 0\n    payment_methods: {{{methods}}}\n");
    std::fs::write(config.path(), weights("credit_card: 0.5, debit_card: 0.5")).unwrap();
    let mut child = medallion()
        .args(["produce", "--stream", "payments", "--output", "stdout", "--rate", "2000", "--duration", "8s", "--config"])
        .arg(config.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let (stdout, lines) = (child.stdout.take().unwrap(), lines.clone());
        std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).for_each(|line| lines.lock().unwrap().push(line)))
    };
    let methods = || new_payment_methods(&lines.lock().unwrap());
    assert!(wait_until(Duration::from_secs(30), || methods().len() >= 1_000), "nothing produced");
    std::fs::write(config.path(), weights("bank_transfer: 1.0")).unwrap();
    send_signal(&child, "HUP");
    assert!(
        wait_until(Duration::from_secs(10), || methods().iter().filter(|m| *m == "BANK_TRANSFER").count() >= 500),
        "the new weights never applied"
    );
    std::fs::write(config.path(), weights("crypto: 0.5")).unwrap();
    send_signal(&child, "HUP");
    let output = collect_output(child, PROCESS_DEADLINE);
    reader.join().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("configuration not reloaded") && stderr.contains("generators.payments.payment_methods: the weights sum to 0.5000"),
        "{stderr}"
    );
    let methods = methods();
    let switched = methods.iter().position(|m| m == "BANK_TRANSFER").unwrap();
    assert!(methods[..switched].iter().all(|m| m == "CREDIT_CARD" || m == "DEBIT_CARD"), "before the reload");
    assert!(methods[switched..].iter().all(|m| m == "BANK_TRANSFER"), "after the reload, and after the refused one");
    assert!(methods.len() - switched > 2_000, "the stream went on after the refused reload: {} payments after the switch", methods.len() - switched);
}
