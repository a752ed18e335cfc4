//! Checks that serde cannot express, and readable descriptions of the errors serde reports.
//! Every problem names its key path and the offending value (never a secret's value).

use super::Framing;
use super::{Config, Profile};

include!(concat!(env!("OUT_DIR"), "/schema_files.rs"));

/// Largest `bronze.flush_bytes`: half of what an Arrow binary column can hold.
const MAX_FLUSH_BYTES: u64 = 1 << 30;
const MAX_FLUSH_ROWS: usize = 10_000_000;
/// Largest `silver.max_batch_bytes` (of compressed bronze files).
const MAX_SILVER_BATCH_BYTES: u64 = 256 << 20;

impl Config {
    /// Every semantic problem of a parsed configuration, one line each.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        self.check_kafka(&mut problems);
        self.check_schema(&mut problems);
        self.check_producer(&mut problems);
        problems.extend(self.generators.payments.problems());
        let payments = &self.generators.payments;
        if schema_file(super::PAYMENT_TRANSACTION, payments.schema_version).is_none() {
            problems.push(format!("generators.payments.schema_version: {} has no schemas/payment_transaction.v{0}.avsc", payments.schema_version));
        }
        check_topic("generators.payments.topic", &payments.topic, &mut problems);
        if self.bronze.flush_rows == 0 || self.bronze.flush_bytes == 0 {
            problems.push("bronze.flush_rows, bronze.flush_bytes: must be at least 1".to_owned());
        }
        // One commit's payloads are one Arrow binary column, whose offsets end at 2 GiB.
        if self.bronze.flush_bytes > MAX_FLUSH_BYTES {
            problems.push(format!(
                "bronze.flush_bytes: {} is more than {MAX_FLUSH_BYTES} (1 GiB): a commit's payloads must fit one Arrow column",
                self.bronze.flush_bytes
            ));
        }
        if self.bronze.flush_rows > MAX_FLUSH_ROWS {
            problems.push(format!("bronze.flush_rows: {} is more than {MAX_FLUSH_ROWS}", self.bronze.flush_rows));
        }
        if self.silver.max_batch_bytes > MAX_SILVER_BATCH_BYTES {
            problems.push(format!(
                "silver.max_batch_bytes: {} is more than {MAX_SILVER_BATCH_BYTES} (256 MiB of bronze files decode to several times that, and a text column ends at 2 GiB)",
                self.silver.max_batch_bytes
            ));
        }
        if self.bronze.flush_interval.is_zero() {
            problems.push("bronze.flush_interval: must be longer than 0".to_owned());
        }
        if self.silver.max_batch_versions == 0 || self.silver.max_batch_bytes == 0 {
            problems.push("silver.max_batch_versions, silver.max_batch_bytes: must be at least 1".to_owned());
        }
        if !(0.0..=1.0).contains(&self.silver.quality_threshold) {
            problems.push(format!(
                "silver.quality_threshold: {} is not a share between 0 and 1 (0.95: 95% of rows pass the error checks)",
                self.silver.quality_threshold
            ));
        }
        if self.silver.poll_interval.is_zero() {
            problems.push("silver.poll_interval: must be longer than 0".to_owned());
        }
        if let Some(rules) = &self.silver.rules
            && !rules.is_file()
        {
            problems.push(format!("silver.rules: {} is not a file", rules.display()));
        }
        if self.gold.interval.is_zero() {
            problems.push("gold.interval: must be longer than 0".to_owned());
        }
        if self.gold.file_rows == 0 {
            problems.push("gold.file_rows: must be at least 1".to_owned());
        }
        if self.gold.batch_bytes == 0 {
            problems.push("gold.batch_bytes: must be at least 1".to_owned());
        }
        if self.lake.root.trim().is_empty() {
            problems.push("lake.root: must not be empty (set it, or MEDALLION_LAKE)".to_owned());
        }
        problems.extend(self.maintenance.problems());
        super::streams::problems(self, |record| SCHEMA_FILES.iter().any(|(_, r, _)| *r == record), &mut problems);
        problems
    }

    fn check_kafka(&self, problems: &mut Vec<String>) {
        let kafka = &self.kafka;
        problems.extend(kafka.ca_problem(self.profile, &super::kafka::SYSTEM_CA_BUNDLES));
        if let Some(entra) = &kafka.entra {
            problems.extend(entra.problems());
            if self.profile != Profile::Eventhubs {
                problems.push("kafka.entra: Entra ID authentication is for profile `eventhubs`".to_owned());
            }
            if kafka.connection_string.is_some() {
                problems.push("kafka.entra: set either kafka.entra or kafka.connection_string, not both".to_owned());
            }
        } else if self.profile == Profile::Eventhubs {
            match &kafka.connection_string {
                None => problems.push(
                    "kafka.connection_string: required by profile `eventhubs` (or kafka.entra for Microsoft Entra ID); set EVENTHUBS_CONNECTION_STRING"
                        .to_owned(),
                ),
                Some(secret) if !secret.expose().trim_start().to_ascii_lowercase().starts_with("endpoint=sb://") => {
                    problems.push(
                        "kafka.connection_string: must look like `Endpoint=sb://<namespace>.servicebus.windows.net/;SharedAccessKeyName=...;SharedAccessKey=...` (value not shown)"
                            .to_owned(),
                    )
                }
                Some(_) => {}
            }
        }
        let bootstrap = kafka.effective_bootstrap();
        if bootstrap.trim().is_empty() {
            problems.push("kafka.bootstrap_servers: must not be empty (set it, or KAFKA_BOOTSTRAP)".to_owned());
        }
        for server in bootstrap.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let server = server.rsplit_once("://").map_or(server, |(_, rest)| rest);
            let port_ok = server.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !port_ok {
                problems.push(format!("kafka.bootstrap_servers: `{server}` is not host:port"));
            }
        }
        check_topic("kafka.topic", &kafka.topic, problems);
        if kafka.group_id.trim().is_empty() {
            problems.push("kafka.group_id: must not be empty".to_owned());
        }
        if kafka.partitions < 1 {
            problems.push(format!("kafka.partitions: {} must be at least 1", kafka.partitions));
        }
        if kafka.replication_factor < 1 {
            problems.push(format!("kafka.replication_factor: {} must be at least 1", kafka.replication_factor));
        }
    }

    fn check_schema(&self, problems: &mut Vec<String>) {
        let schema = &self.schema;
        let writer_file = schema_file(super::PURCHASE_ORDER_ITEM, schema.version);
        if writer_file.is_none() {
            problems.push(format!("schema.version: {} has no schema in schemas/", schema.version));
        }
        if schema.accepted_framings.is_empty() {
            problems.push("schema.accepted_framings: must list at least one framing".to_owned());
        }
        for (index, entry) in schema.static_ids.iter().enumerate() {
            if !SCHEMA_FILES.iter().any(|(file, _, _)| *file == entry.file) {
                problems.push(format!("schema.static_ids[{index}].file: `{}` is not a schema in schemas/", entry.file));
            }
            if schema.static_ids[..index].iter().any(|earlier| earlier.id == entry.id) {
                problems.push(format!("schema.static_ids[{index}].id: {} is listed twice", entry.id));
            }
        }
        if let (Framing::Confluent, None, Some(file)) = (schema.framing, &schema.registry, writer_file)
            && !schema.static_ids.iter().any(|entry| entry.file == file)
        {
            problems.push(format!(
                "schema.static_ids: no id maps to {file}, which schema.version {} writes with the confluent framing and no registry",
                schema.version
            ));
        }
        if let Some(registry) = &schema.registry {
            check_registry_url(registry, problems);
        }
    }

    fn check_producer(&self, problems: &mut Vec<String>) {
        let producer = &self.producer;
        if !(0.0..=1.0).contains(&producer.invalid_ratio) {
            problems.push(format!("producer.invalid_ratio: {} must be between 0 and 1", producer.invalid_ratio));
        }
        if !(producer.time_scale.is_finite() && producer.time_scale > 0.0) {
            problems.push(format!("producer.time_scale: {} must be a positive number", producer.time_scale));
        }
        if producer.max_in_flight == 0 {
            problems.push("producer.max_in_flight: must be at least 1".to_owned());
        }
        if producer.count == Some(0) {
            problems.push("producer.count: must be at least 1 (leave it unset to run until stopped)".to_owned());
        }
        if producer.batch_size_bytes == 0 {
            problems.push("producer.batch_size_bytes: must be at least 1".to_owned());
        }
    }
}

/// Kafka's own rule for topic names.
/// The embedded schema file of `record`'s `version`.
fn schema_file(record: &str, version: u32) -> Option<&'static str> {
    SCHEMA_FILES.iter().find(|(_, r, v)| *r == record && *v == version).map(|(file, _, _)| *file)
}

/// `key` holds a topic name Kafka accepts.
pub(super) fn check_topic(key: &str, topic: &str, problems: &mut Vec<String>) {
    if !is_valid_topic(topic) {
        problems.push(format!("{key}: `{topic}` is not a valid topic name (1-249 of a-z A-Z 0-9 . _ -)"));
    }
}

fn is_valid_topic(topic: &str) -> bool {
    !topic.is_empty()
        && topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// One line for a serde/figment error: the key path, what is wrong, and where the value came from.
pub(super) fn describe_figment_error(error: &figment::Error) -> String {
    let path = &error.path;
    let key = if path.is_empty() { "(top level)".to_owned() } else { path.join(".") };
    // Never echo a value that sits under a credential key.
    let kind = if path.iter().any(|segment| super::is_sensitive_key(segment)) {
        "invalid value (not shown: it is a credential)".to_owned()
    } else {
        describe_kind(&error.kind)
    };
    format!("{key}: {kind}{}", origin(error.metadata.as_ref(), path))
}

/// A semantic problem (`key.path: message`) with where its key's value came from, when the
/// layers know it (a file and line, or the environment).
pub(super) fn with_origin(figment: &figment::Figment, problem: String) -> String {
    let Some((keys, _)) = problem.split_once(": ") else {
        return problem;
    };
    // The first key named, up to any list index (`schema.static_ids[1].file` → `schema.static_ids`).
    let key = keys.split(", ").next().unwrap_or(keys);
    let key = key.split('[').next().unwrap_or(key);
    let path: Vec<String> = key.split('.').map(str::to_owned).collect();
    let origin = origin(figment.find_metadata(key), &path);
    format!("{problem}{origin}")
}

/// Serde's wording, with the key lists spelled out and Rust type names said in words.
fn describe_kind(kind: &figment::error::Kind) -> String {
    use figment::error::Kind;
    let in_words = |expected: &str| match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        other => other.to_owned(),
    };
    match kind {
        Kind::UnknownField(field, expected) => format!("unknown key `{field}`; the keys here are {}", expected.join(", ")),
        Kind::UnknownVariant(value, expected) => format!("unknown value `{value}`; expected one of {}", expected.join(", ")),
        Kind::InvalidType(actual, expected) => {
            format!("found {actual}, expected {}", in_words(expected))
        }
        other => other.to_string(),
    }
}

/// ` (in FILE, line N)` for a value from a file, ` (in `MEDALLION_` environment variable(s))` for
/// the environment; empty for built-in defaults and flags.
fn origin(metadata: Option<&figment::Metadata>, path: &[String]) -> String {
    let Some(metadata) = metadata else {
        return String::new();
    };
    match &metadata.source {
        Some(figment::Source::File(file)) => {
            let line = std::fs::read_to_string(file).ok().and_then(|text| key_line(&text, path));
            match line {
                Some(line) => format!(" (in {}, line {line})", file.display()),
                None => format!(" (in {})", file.display()),
            }
        }
        _ if metadata.name.contains("environment") => format!(" (in {})", metadata.name),
        // Built-in defaults and flags are provided from code: their source location means nothing to a user.
        _ => String::new(),
    }
}

/// The 1-based line of a key path in a YAML text of block mappings, found by indentation: each
/// segment is looked for inside the block of the one before. Points at the deepest segment found,
/// so a key in a flow mapping (`kafka: {topic: x}`) still gets its parent's line.
pub(super) fn key_line(text: &str, path: &[String]) -> Option<usize> {
    let (mut found, mut start, mut parent_indent) = (None, 0, None);
    for segment in path {
        let mut matched = None;
        for (index, line) in text.lines().enumerate().skip(start) {
            let content = line.trim_start();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            // Only lines inside the parent's block: stop at the first one indented no deeper.
            let indent = line.len() - content.len();
            if parent_indent.is_some_and(|parent| indent <= parent) {
                break;
            }
            let key = content.strip_prefix("- ").unwrap_or(content);
            if key.strip_prefix(segment.as_str()).is_some_and(|rest| rest.trim_start().starts_with(':')) {
                matched = Some((index, indent));
                break;
            }
        }
        let Some((index, indent)) = matched else {
            break;
        };
        (found, start, parent_indent) = (Some(index + 1), index + 1, Some(indent));
    }
    found
}

/// The registry URL is printed (config check, errors), so credentials go in `username` and
/// `password`; and a password is never sent in clear over the network.
fn check_registry_url(registry: &super::RegistryConfig, problems: &mut Vec<String>) {
    let Ok(url) = url::Url::parse(&registry.url) else {
        problems.push("schema.registry.url: not a URL (expected http:// or https://)".to_owned());
        return;
    };
    if !url.username().is_empty() || url.password().is_some() {
        problems.push(
            "schema.registry.url: holds credentials; give them as schema.registry.username and password (the URL is printed, they are not)"
                .to_owned(),
        );
        return;
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = matches!(url.host(), Some(url::Host::Domain("localhost")))
                || url.host_str().and_then(|h| h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok()).is_some_and(|ip| ip.is_loopback());
            if registry.password.is_some() && !loopback {
                problems.push(format!(
                    "schema.registry.url: `{url}` is plain http:// but a password is set: basic auth would send it in clear; use https://"
                ));
            }
        }
        _ => problems.push(format!("schema.registry.url: `{url}` must start with http:// or https://")),
    }
}
