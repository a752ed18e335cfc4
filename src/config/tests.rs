use std::io::Write;

use super::*;

fn load_yaml(yaml: &str) -> Result<Config, ConfigError> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(yaml.as_bytes()).unwrap();
    Config::load_with_env(Some(file.path()), Serialized::defaults(serde_json::json!({})), false)
}

fn problems(yaml: &str) -> String {
    match load_yaml(yaml) {
        Ok(config) => panic!("accepted: {config:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn defaults_are_the_local_profile() {
    let config = Config::load_with_env(None, Serialized::defaults(serde_json::json!({})), false).unwrap();
    assert_eq!(config.profile, Profile::Local);
    assert_eq!(config.kafka.bootstrap_servers, "127.0.0.1:19092");
    assert_eq!(config.kafka.topic, "purchase-order-items");
    assert_eq!(config.lake.root, "./lake");
    assert_eq!(config.producer.invalid_ratio, 0.05);
}

#[test]
fn file_values_and_durations_are_typed() {
    let config = load_yaml("kafka:\n  topic: orders\n  connect_timeout: 3s\nproducer:\n  rate: 250\n  duration: 2m\n").unwrap();
    assert_eq!(config.kafka.topic, "orders");
    assert_eq!(config.kafka.connect_timeout, std::time::Duration::from_secs(3));
    assert_eq!(config.producer.rate, 250);
    assert_eq!(config.producer.duration, Some(std::time::Duration::from_secs(120)));
}

#[test]
fn flags_override_the_file() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"kafka:\n  topic: from-file\n").unwrap();
    let flags = serde_json::json!({"kafka": {"topic": "from-flag"}});
    let config = Config::load_with_env(Some(file.path()), Serialized::defaults(flags), false).unwrap();
    assert_eq!(config.kafka.topic, "from-flag");
}

#[test]
fn unknown_keys_are_named_with_their_path() {
    let message = problems("kafka:\n  topic: orders\n  parttions: 4\n");
    assert!(message.contains("kafka.parttions: unknown key `parttions`; the keys here are bootstrap_servers, topic,"), "{message}");
    assert!(message.contains(", line 3)"), "{message}");
}

#[test]
fn semantic_problems_point_at_the_file_line() {
    let message = problems("producer:\n  rate: 5\n  invalid_ratio: 1.5\nkafka:\n  partitions: 0\n");
    assert!(message.contains("producer.invalid_ratio: 1.5 must be between 0 and 1 (in "), "{message}");
    assert!(message.contains("between 0 and 1 (in ") && message.contains(", line 3)"), "{message}");
    assert!(message.contains("kafka.partitions: 0 must be at least 1 (in ") && message.contains(", line 5)"), "{message}");
}

#[test]
fn key_lines_are_found_inside_their_parent_block() {
    let text = "# comment\nbronze:\n  retry_backoff: 1s\n\nsilver:\n  # retry_backoff: 5s\n  retry_backoff: 0s\nschema:\n  static_ids:\n  - id: 1\n    file: x.avsc\n";
    let path = |keys: &[&str]| keys.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>();
    assert_eq!(validate::key_line(text, &path(&["bronze", "retry_backoff"])), Some(3));
    assert_eq!(validate::key_line(text, &path(&["silver", "retry_backoff"])), Some(7));
    assert_eq!(validate::key_line(text, &path(&["schema", "static_ids"])), Some(9));
    // A key that is not there points at the deepest parent found.
    assert_eq!(validate::key_line(text, &path(&["silver", "mode"])), Some(5));
    assert_eq!(validate::key_line(text, &path(&["gold", "interval"])), None);
}

#[test]
fn wrong_types_are_named_with_their_path_and_value() {
    let message = problems("producer:\n  rate: fast\n");
    assert!(message.contains("producer.rate"), "{message}");
    assert!(message.contains("\"fast\""), "{message}");
    assert!(message.contains("expected a whole number, 0 or more (in ") && message.contains(", line 2)"), "{message}");
}

#[test]
fn every_semantic_problem_is_reported_at_once() {
    let message = problems("kafka:\n  topic: 'bad topic'\n  partitions: 0\nproducer:\n  invalid_ratio: 1.5\n  time_scale: 0\n");
    for key in ["kafka.topic", "kafka.partitions", "producer.invalid_ratio", "producer.time_scale"] {
        assert!(message.contains(key), "{key} missing from: {message}");
    }
}

#[test]
fn eventhubs_requires_a_connection_string() {
    let message = problems("profile: eventhubs\nkafka:\n  bootstrap_servers: ns.servicebus.windows.net:9093\n");
    assert!(message.contains("kafka.connection_string"), "{message}");
    assert!(message.contains("EVENTHUBS_CONNECTION_STRING"), "{message}");
}

#[test]
fn secrets_are_masked_in_debug_and_yaml() {
    let secret = "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=TOPSECRET";
    let config = load_yaml(&format!(
        "profile: eventhubs\nkafka:\n  bootstrap_servers: ''\n  connection_string: '{secret}'\n  librdkafka:\n    ssl.key.password: ALSOSECRET\nlake:\n  storage_options:\n    account_key: KEYSECRET\n"
    ))
    .unwrap();
    assert_eq!(config.kafka.effective_bootstrap(), "acme.servicebus.windows.net:9093");
    for rendered in [format!("{config:?}"), config.to_masked_yaml()] {
        for leaked in ["TOPSECRET", "ALSOSECRET", "KEYSECRET"] {
            assert!(!rendered.contains(leaked), "{leaked} printed in: {rendered}");
        }
        assert!(rendered.contains(MASK));
    }
}

#[test]
fn a_malformed_connection_string_is_rejected_without_echoing_it() {
    let message = problems("profile: eventhubs\nkafka:\n  connection_string: 'password123'\n");
    assert!(message.contains("kafka.connection_string"), "{message}");
    assert!(!message.contains("password123"), "{message}");
}

#[test]
fn confluent_framing_without_registry_needs_a_static_id() {
    let message = problems("schema:\n  static_ids:\n    - {id: 1, file: purchase_order_item.v1.avsc}\n");
    assert!(message.contains("schema.static_ids: no id maps to purchase_order_item.v2.avsc"), "{message}");
}

#[test]
fn missing_file_is_an_error() {
    let error = Config::load_with_env(Some(Path::new("/nonexistent/medallion.yaml")), Serialized::defaults(serde_json::json!({})), false);
    assert!(matches!(error, Err(ConfigError::FileMissing { .. })));
}

#[test]
fn batch_sizes_that_overflow_arrow_columns_are_refused() {
    let message = problems("bronze:\n  flush_bytes: 3000000000\n  flush_rows: 20000000\nsilver:\n  max_batch_bytes: 1073741824\n");
    for expected in
        ["bronze.flush_bytes: 3000000000 is more than", "bronze.flush_rows: 20000000 is more than", "silver.max_batch_bytes: 1073741824 is more than"]
    {
        assert!(message.contains(expected), "{expected:?} missing from: {message}");
    }
}

#[test]
fn registry_credentials_never_travel_in_the_url_or_in_clear() {
    let message = problems("schema:\n  registry: {url: \"https://user:hunter2@registry.example.com\"}\n");
    assert!(message.contains("holds credentials") && !message.contains("hunter2"), "{message}");
    let message = problems("schema:\n  registry: {url: \"http://registry.example.com:8081\", username: u, password: p4ss}\n");
    assert!(message.contains("plain http://") && !message.contains("p4ss"), "{message}");
    for url in ["http://127.0.0.1:18081", "http://localhost:18081", "https://registry.example.com"] {
        load_yaml(&format!("schema:\n  registry: {{url: \"{url}\", username: u, password: p4ss}}\n")).unwrap_or_else(|e| panic!("{url}: {e}"));
    }
}

#[test]
fn the_oauthbearer_config_is_a_secret() {
    assert!(is_sensitive_key("sasl.oauthbearer.config"));
    assert!(is_sensitive_key("sasl.oauthbearer.client.secret"));
    assert!(!is_sensitive_key("sasl.oauthbearer.method"));
}

#[test]
fn a_weight_map_in_the_file_replaces_the_default_one() {
    let yaml = "generators:\n  payments:\n    rate: 1000\n    payment_methods: {credit_card: 0.6, debit_card: 0.3, bank_transfer: 0.1}\n    amounts: {min: 1.00, max: 10000.00, distribution: normal}\n    countries: {US: 0.5, GB: 0.2, DE: 0.2, CA: 0.1}\n    invalid_ratio: 0.05\n";
    let config = load_yaml(yaml).unwrap();
    let methods = config.generators.payments.methods();
    assert_eq!(methods.len(), 3, "{methods:?}");
    assert_eq!(config.generators.payments.rate, Some(1000));
    let message = problems("generators:\n  payments:\n    payment_methods: {crypto: 0.5}\n    amounts: {distribution: uniform, mean: 5}\n");
    assert!(message.contains("generators.payments.payment_methods: the weights sum to 0.5000, not 1"), "{message}");
    assert!(message.contains("generators.payments.amounts: a uniform distribution takes no mean or stddev"), "{message}");
}

#[test]
fn without_streams_the_purchase_order_stream_keeps_its_tables() {
    let config = load_yaml("bronze:\n  table: bronze/po\n").unwrap();
    let streams = config.streams();
    assert_eq!(streams.len(), 1);
    let stream = &streams[0];
    assert_eq!(
        (stream.name.as_str(), stream.topic.as_str(), stream.record.as_str()),
        ("purchase_orders", "purchase-order-items", PURCHASE_ORDER_ITEM)
    );
    assert_eq!(stream.tables.bronze, "bronze/po");
    assert_eq!(stream.tables.silver, "silver/purchase_order_items");
    assert_eq!(stream.tables.current, "silver/purchase_order_items_current");
    assert_eq!(stream.rules, RulesSource::BuiltIn(PURCHASE_ORDERS));
    assert_eq!(stream.current.key, ["order_id", "line_number"]);
}

#[test]
fn built_in_streams_need_only_their_name() {
    let config = load_yaml("streams:\n  - name: purchase_orders\n  - name: payments\n    tables:\n      bronze: bronze/cards\n").unwrap();
    let [orders, payments] = config.streams().try_into().unwrap();
    assert_eq!(orders.tables, Config::default().streams()[0].tables, "the same paths as without a streams section");
    assert_eq!((payments.topic.as_str(), payments.record.as_str()), ("payments", PAYMENT_TRANSACTION));
    assert_eq!(payments.tables.bronze, "bronze/cards");
    assert_eq!(payments.tables.silver, "silver/payments");
    assert_eq!(payments.tables.quality_daily, "gold/payments_quality_daily");
    assert_eq!(payments.gold_models, GoldModels::BuiltIn(PAYMENTS));
    // A stage's copy names the stream's tables in its sections and holds that stream only.
    let view = config.for_stream(&payments);
    assert_eq!((view.kafka.topic.as_str(), view.bronze.table.as_str(), view.silver.table.as_str()), ("payments", "bronze/cards", "silver/payments"));
    assert_eq!(view.streams(), vec![payments.clone()]);
    assert_eq!(config.for_stream(&orders).streams(), vec![orders]);
}

#[test]
fn stream_problems_are_named_with_their_index() {
    let rules = tempfile::NamedTempFile::new().unwrap();
    let text = problems(&format!(
        "streams:\n  - name: payments\n  - name: Refunds\n    record: io.example.Refund\n  - name: payments\n    topic: other\n  - name: more_payments\n    topic: payments\n    record: {PAYMENT_TRANSACTION}\n    rules: {}\n    current: {{key: [], recency: []}}\n",
        rules.path().display()
    ));
    for expected in [
        "streams[1].name: `Refunds` must be lowercase",
        "streams[1].rules: required",
        "streams[1].current: required",
        "streams[1].record: `io.example.Refund` is not the record of any schema",
        "streams[2].name: `payments` is listed twice",
        "streams[3].current.key: must list at least one column",
        "`payments` and `more_payments` both take record `io.medallion.payments.PaymentTransaction` from topic `payments`",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let text = problems("streams:\n  - name: payments\n    tables: {silver: silver/purchase_order_items}\n  - name: purchase_orders\n");
    assert!(
        text.contains("`silver/purchase_order_items` is both the silver table of `payments` and the silver table of `purchase_orders`"),
        "{text}"
    );
}
