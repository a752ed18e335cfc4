//! Kafka connection settings and the librdkafka client configuration each profile implies.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

use super::secret::{PassthroughMap, Secret};

/// Where the brokers are and how to reach them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The dev broker or Redpanda on this machine: PLAINTEXT, topics created on demand.
    #[default]
    Local,
    /// Azure Event Hubs' Kafka endpoint: SASL_SSL, with PLAIN and the connection string as password,
    /// or OAUTHBEARER with `kafka.entra`.
    Eventhubs,
}

/// Which kind of client a configuration is for; producers and consumers get different settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRole {
    Producer,
    Consumer,
    Admin,
}

/// Kafka settings shared by every stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Comma-separated `host:port` list. Overridden by `KAFKA_BOOTSTRAP`. With the `eventhubs`
    /// profile it may be left empty: it is derived from the connection string's namespace
    /// (`<namespace>.servicebus.windows.net:9093`).
    pub bootstrap_servers: String,
    /// Topic carrying purchase-order events. Overridden by `MEDALLION_TOPIC` and `--topic`.
    pub topic: String,
    /// Consumer group of the bronze workers. Overridden by `--group`.
    pub group_id: String,
    /// Partitions of the topic when medallion creates it.
    pub partitions: i32,
    /// Replication factor of the topic when medallion creates it.
    pub replication_factor: i32,
    /// Create the topic when it does not exist. Defaults to `true` for `local` and `false` for
    /// `eventhubs` (event hubs are created with infrastructure tools).
    pub create_topic: Option<bool>,
    /// Event Hubs connection string (`Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...`),
    /// sent as the SASL password. Required by the `eventhubs` profile; best set through
    /// `EVENTHUBS_CONNECTION_STRING` rather than the file. Never printed.
    pub connection_string: Option<Secret>,
    /// Microsoft Entra ID credentials (OAUTHBEARER) for the `eventhubs` profile, instead of
    /// `connection_string`: a service principal's client secret, or the machine's managed
    /// identity. The tokens are fetched and refreshed by librdkafka.
    pub entra: Option<super::entra::EntraConfig>,
    /// File or directory of the CA certificates that verify the brokers over TLS (librdkafka's
    /// `ssl.ca.location`). When unset, a TLS connection (the `eventhubs` profile, or
    /// `security.protocol` ssl/sasl_ssl) uses the system's bundle, the first of
    /// [`SYSTEM_CA_BUNDLES`] present; medallion refuses to start when there is none.
    pub ssl_ca_location: Option<PathBuf>,
    /// How long to wait for the brokers at start-up before reporting them unreachable.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// librdkafka settings applied last, over everything medallion sets (see librdkafka's
    /// CONFIGURATION.md). Credential entries are masked when printed.
    pub librdkafka: PassthroughMap,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            bootstrap_servers: "127.0.0.1:19092".to_owned(),
            topic: "purchase-order-items".to_owned(),
            group_id: "medallion-bronze".to_owned(),
            partitions: 8,
            replication_factor: 1,
            create_topic: None,
            connection_string: None,
            entra: None,
            ssl_ca_location: None,
            connect_timeout: Duration::from_secs(10),
            librdkafka: PassthroughMap::default(),
        }
    }
}

/// Settings Event Hubs needs (see its Kafka endpoint documentation); values as strings because
/// that is what librdkafka takes.
const EVENTHUBS_SETTINGS: &[(&str, &str)] = &[
    ("security.protocol", "SASL_SSL"),
    ("request.timeout.ms", "60000"),
    ("metadata.max.age.ms", "180000"),
    // Azure drops idle TCP flows after 4 minutes; librdkafka only sets this for "azure" hosts.
    ("connections.max.idle.ms", "180000"),
    ("socket.keepalive.enable", "true"),
];

const EVENTHUBS_CONSUMER_SETTINGS: &[(&str, &str)] =
    &[("session.timeout.ms", "30000"), ("heartbeat.interval.ms", "3000"), ("max.poll.interval.ms", "300000")];

const EVENTHUBS_PRODUCER_SETTINGS: &[(&str, &str)] = &[
    // snappy, lz4 and zstd are rejected; gzip only on Premium/Dedicated.
    ("compression.codec", "none"),
    // Requests over 1,046,528 bytes close the connection.
    ("message.max.bytes", "1000000"),
];

/// Where Linux distributions keep their CA bundle: Debian, Ubuntu and Alpine; RHEL and Fedora;
/// openSUSE; Alpine and BSDs.
pub const SYSTEM_CA_BUNDLES: [&str; 5] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The first of `candidates` that exists.
pub fn first_existing(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|path| path.exists())
}

impl KafkaConfig {
    /// Whether clients connect over TLS: the `eventhubs` profile, or a passthrough
    /// `security.protocol` of ssl or sasl_ssl.
    pub fn uses_tls(&self, profile: Profile) -> bool {
        let passthrough = self.librdkafka.iter().find(|(key, _)| key.as_str() == "security.protocol").map(|(_, value)| value.to_ascii_lowercase());
        match passthrough {
            Some(protocol) => protocol == "ssl" || protocol == "sasl_ssl",
            None => profile == Profile::Eventhubs,
        }
    }

    /// Whether medallion names the CA certificates: TLS is on and the passthrough map does not
    /// set `ssl.ca.location` itself.
    fn names_ca_certificates(&self, profile: Profile) -> bool {
        self.uses_tls(profile) && !self.librdkafka.iter().any(|(key, _)| key.as_str() == "ssl.ca.location")
    }

    /// The CA certificates TLS clients verify the brokers with: `ssl_ca_location`, else the
    /// system's bundle; `None` when TLS is off, the passthrough map sets it, or there is none.
    pub fn ca_location(&self, profile: Profile) -> Option<PathBuf> {
        if !self.names_ca_certificates(profile) {
            return None;
        }
        self.ssl_ca_location.clone().or_else(|| first_existing(&SYSTEM_CA_BUNDLES))
    }

    /// What is wrong with the CA certificates TLS needs, when something is.
    pub fn ca_problem(&self, profile: Profile, system_bundles: &[&str]) -> Option<String> {
        if !self.names_ca_certificates(profile) {
            return None;
        }
        match &self.ssl_ca_location {
            Some(path) if !Path::new(path).exists() => {
                Some(format!("kafka.ssl_ca_location: {} does not exist (a file or directory of CA certificates)", path.display()))
            }
            Some(_) => None,
            None if first_existing(system_bundles).is_none() => Some(format!(
                "kafka.ssl_ca_location: TLS needs CA certificates and none were found at {}; install the ca-certificates package or set kafka.ssl_ca_location (MEDALLION_KAFKA__SSL_CA_LOCATION)",
                system_bundles.join(", ")
            )),
            None => None,
        }
    }

    /// Whether medallion should create the topic when it is missing.
    pub fn should_create_topic(&self, profile: Profile) -> bool {
        self.create_topic.unwrap_or(profile == Profile::Local)
    }

    /// The bootstrap list, derived from the connection string for Event Hubs when left empty.
    pub fn effective_bootstrap(&self) -> String {
        if self.bootstrap_servers.trim().is_empty() {
            if let Some(entra) = &self.entra {
                return entra.bootstrap();
            }
            if let Some(host) = self.connection_string.as_ref().and_then(eventhubs_host) {
                return format!("{host}:9093");
            }
        }
        self.bootstrap_servers.clone()
    }

    /// The librdkafka configuration for one client: profile settings, then the passthrough map.
    pub fn client_config(&self, profile: Profile, role: ClientRole) -> ClientConfig {
        self.client_config_with(profile, role, &[])
    }

    /// As [`KafkaConfig::client_config`], with a stage's own settings between the profile's and
    /// the passthrough map (which always has the last word).
    pub fn client_config_with(&self, profile: Profile, role: ClientRole, stage_settings: &[(&str, String)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", self.effective_bootstrap());
        config.set("client.id", format!("medallion-{}", role_name(role)));
        match profile {
            Profile::Local => {
                config.set("security.protocol", "plaintext");
                if role == ClientRole::Consumer {
                    // Quick group joins on a local broker (Tansu holds JoinGroup for about half
                    // the session timeout).
                    config.set("session.timeout.ms", "6000");
                    config.set("heartbeat.interval.ms", "1000");
                }
            }
            Profile::Eventhubs => {
                for (key, value) in EVENTHUBS_SETTINGS {
                    config.set(*key, *value);
                }
                let role_settings = match role {
                    ClientRole::Consumer => EVENTHUBS_CONSUMER_SETTINGS,
                    ClientRole::Producer => EVENTHUBS_PRODUCER_SETTINGS,
                    ClientRole::Admin => &[],
                };
                for (key, value) in role_settings {
                    config.set(*key, *value);
                }
                match &self.entra {
                    Some(entra) => {
                        for (key, value) in entra.client_settings() {
                            config.set(key, value);
                        }
                    }
                    // The connection string is the password of the user `$ConnectionString`.
                    None => {
                        config.set("sasl.mechanism", "PLAIN").set("sasl.username", "$ConnectionString");
                        if let Some(secret) = &self.connection_string {
                            config.set("sasl.password", secret.expose());
                        }
                    }
                }
            }
        }
        // librdkafka's own default is OpenSSL's build-time directory, which a statically linked
        // OpenSSL may not have: name the certificates explicitly, for the brokers and for the
        // token endpoint of Entra ID.
        if let Some(location) = self.ca_location(profile) {
            config.set("ssl.ca.location", location.display().to_string());
            if self.entra.is_some() && profile == Profile::Eventhubs {
                config.set("https.ca.location", location.display().to_string());
            }
        }
        for (key, value) in stage_settings {
            config.set(*key, value);
        }
        for (key, value) in self.librdkafka.iter() {
            config.set(key, value);
        }
        config
    }
}

fn role_name(role: ClientRole) -> &'static str {
    match role {
        ClientRole::Producer => "producer",
        ClientRole::Consumer => "consumer",
        ClientRole::Admin => "admin",
    }
}

/// The namespace host of an Event Hubs connection string (`Endpoint=sb://HOST/;...`).
fn eventhubs_host(connection_string: &Secret) -> Option<String> {
    connection_string.expose().split(';').find_map(|part| {
        let (name, value) = part.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("endpoint") {
            return None;
        }
        let host = value.trim().trim_start_matches("sb://").trim_end_matches('/');
        (!host.is_empty()).then(|| host.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONNECTION_STRING: &str = "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=s3cr3t";

    fn eventhubs() -> KafkaConfig {
        KafkaConfig { bootstrap_servers: String::new(), connection_string: Some(Secret::new(CONNECTION_STRING)), ..KafkaConfig::default() }
    }

    #[test]
    fn eventhubs_consumer_gets_sasl_ssl_and_timeouts() {
        let config = eventhubs().client_config(Profile::Eventhubs, ClientRole::Consumer);
        assert_eq!(config.get("bootstrap.servers"), Some("acme.servicebus.windows.net:9093"));
        assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(config.get("sasl.mechanism"), Some("PLAIN"));
        assert_eq!(config.get("sasl.username"), Some("$ConnectionString"));
        assert_eq!(config.get("sasl.password"), Some(CONNECTION_STRING));
        assert_eq!(config.get("session.timeout.ms"), Some("30000"));
        assert_eq!(config.get("heartbeat.interval.ms"), Some("3000"));
        assert_eq!(config.get("max.poll.interval.ms"), Some("300000"));
        assert_eq!(config.get("request.timeout.ms"), Some("60000"));
        assert_eq!(config.get("connections.max.idle.ms"), Some("180000"));
        assert_eq!(config.get("compression.codec"), None, "producer-only setting");
    }

    #[test]
    fn eventhubs_producer_limits_compression_and_size() {
        let config = eventhubs().client_config(Profile::Eventhubs, ClientRole::Producer);
        assert_eq!(config.get("compression.codec"), Some("none"));
        assert_eq!(config.get("message.max.bytes"), Some("1000000"));
        assert_eq!(config.get("session.timeout.ms"), None, "consumer-only setting");
    }

    #[test]
    fn eventhubs_client_config_builds_with_ssl_support() {
        // Creating the client proves the rdkafka build accepts SASL_SSL; no connection is made.
        let client: Result<rdkafka::producer::BaseProducer, _> = eventhubs().client_config(Profile::Eventhubs, ClientRole::Producer).create();
        assert!(client.is_ok(), "SASL_SSL refused: {:?}", client.err());
    }

    #[test]
    fn entra_id_replaces_the_connection_string_and_the_build_supports_it() {
        use crate::config::{EntraConfig, EntraCredential};
        let kafka = KafkaConfig {
            bootstrap_servers: String::new(),
            entra: Some(EntraConfig {
                namespace: "acme.servicebus.windows.net".to_owned(),
                // A closed local port: the token fetch librdkafka starts at once fails fast.
                credential: EntraCredential::ClientSecret {
                    tenant_id: "tenant".to_owned(),
                    client_id: "app".to_owned(),
                    client_secret: Secret::new("s3cr3t"),
                    authority: "http://127.0.0.1:9".to_owned(),
                },
            }),
            ..KafkaConfig::default()
        };
        let config = kafka.client_config(Profile::Eventhubs, ClientRole::Consumer);
        assert_eq!(config.get("bootstrap.servers"), Some("acme.servicebus.windows.net:9093"));
        assert_eq!(config.get("sasl.mechanism"), Some("OAUTHBEARER"));
        assert_eq!(config.get("sasl.username"), None, "no $ConnectionString user");
        assert_eq!(config.get("sasl.password"), None);
        assert_eq!(config.get("https.ca.location"), config.get("ssl.ca.location"), "the token endpoint is verified like the brokers");
        assert_eq!(config.get("session.timeout.ms"), Some("30000"), "Event Hubs' settings stay");
        // librdkafka refuses `sasl.oauthbearer.method=oidc` when built without libcurl.
        let client: Result<rdkafka::consumer::BaseConsumer, _> = config.create();
        assert!(client.is_ok(), "OIDC refused: {:?}", client.err());
    }

    #[test]
    fn tls_clients_name_their_ca_certificates() {
        let mut kafka = eventhubs();
        let system = first_existing(&SYSTEM_CA_BUNDLES).expect("this machine has a CA bundle (ca-certificates)");
        let config = kafka.client_config(Profile::Eventhubs, ClientRole::Consumer);
        assert_eq!(config.get("ssl.ca.location"), Some(system.display().to_string().as_str()), "the system bundle by default");
        kafka.ssl_ca_location = Some(PathBuf::from("/etc/ssl/certs"));
        assert_eq!(kafka.client_config(Profile::Eventhubs, ClientRole::Consumer).get("ssl.ca.location"), Some("/etc/ssl/certs"));
        assert_eq!(KafkaConfig::default().client_config(Profile::Local, ClientRole::Consumer).get("ssl.ca.location"), None, "plaintext");
        let mut local_tls = KafkaConfig::default();
        local_tls.librdkafka.0.insert("security.protocol".to_owned(), "SSL".to_owned());
        assert!(local_tls.client_config(Profile::Local, ClientRole::Admin).get("ssl.ca.location").is_some(), "TLS set by passthrough");
    }

    #[test]
    fn missing_ca_certificates_are_a_clear_problem() {
        let mut kafka = eventhubs();
        let problem = kafka.ca_problem(Profile::Eventhubs, &["/nonexistent/ca.crt"]).expect("no bundle, no location");
        assert!(
            problem.contains("kafka.ssl_ca_location") && problem.contains("/nonexistent/ca.crt") && problem.contains("ca-certificates"),
            "{problem}"
        );
        assert_eq!(kafka.ca_problem(Profile::Local, &["/nonexistent/ca.crt"]), None, "plaintext needs none");
        kafka.ssl_ca_location = Some(PathBuf::from("/nonexistent/corp-ca.pem"));
        let problem = kafka.ca_problem(Profile::Eventhubs, &SYSTEM_CA_BUNDLES).unwrap();
        assert!(problem.contains("/nonexistent/corp-ca.pem does not exist"), "{problem}");
        kafka.librdkafka.0.insert("ssl.ca.location".to_owned(), "probe".to_owned());
        assert_eq!(kafka.ca_problem(Profile::Eventhubs, &SYSTEM_CA_BUNDLES), None, "the passthrough map has the last word");
    }

    #[test]
    fn passthrough_overrides_profile_settings() {
        let mut kafka = eventhubs();
        kafka.librdkafka.0.insert("request.timeout.ms".to_owned(), "90000".to_owned());
        let config = kafka.client_config(Profile::Eventhubs, ClientRole::Admin);
        assert_eq!(config.get("request.timeout.ms"), Some("90000"));
    }

    #[test]
    fn local_profile_is_plaintext_and_creates_topics() {
        let kafka = KafkaConfig::default();
        let config = kafka.client_config(Profile::Local, ClientRole::Producer);
        assert_eq!(config.get("security.protocol"), Some("plaintext"));
        assert_eq!(config.get("bootstrap.servers"), Some("127.0.0.1:19092"));
        assert!(kafka.should_create_topic(Profile::Local));
        assert!(!kafka.should_create_topic(Profile::Eventhubs));
    }
}
