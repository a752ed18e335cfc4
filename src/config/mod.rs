//! Typed configuration, layered: built-in defaults → YAML file → environment → command-line flags.
//!
//! Every struct denies unknown keys and documents each field; [`Config::load`] reports every
//! problem at once, each with its key path, value and source, and [`Config`] prints with its
//! secrets masked. Environment variables: `KAFKA_BOOTSTRAP`, `MEDALLION_TOPIC`, `MEDALLION_LAKE`,
//! `EVENTHUBS_CONNECTION_STRING`, and any key as `MEDALLION_<SECTION>__<KEY>` (for example
//! `MEDALLION_PRODUCER__RATE=5000`).

mod bronze;
mod generators;
mod entra;
mod export;
mod gold;
mod kafka;
mod health;
mod maintenance;
mod producer;
mod secret;
mod silver;
mod streams;
mod validate;

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Yaml};
use serde::{Deserialize, Serialize};

pub use bronze::{BronzeConfig, OffsetResetPolicy};
pub use entra::{EntraConfig, EntraCredential};
pub use export::{ExportConfig, PostgresExportConfig};
pub use generators::{AmountDistribution, AmountsConfig, COUNTRY_CURRENCIES, GeneratorsConfig, PaymentMethod, PaymentsGeneratorConfig, currency_of};
pub use gold::GoldConfig;
pub use health::HealthConfig;
pub use kafka::{ClientRole, KafkaConfig, Profile};
pub use maintenance::MaintenanceConfig;
pub use producer::{Output, ProducerConfig, parse_start_time};
pub use secret::{MASK, PassthroughMap, Secret, is_sensitive_key};
pub use silver::{SilverConfig, SilverMode};
pub use streams::{
    BUILT_IN_STREAMS, CLICKSTREAM, CurrentConfig, ECOMMERCE, GoldModels, INVENTORY, PAYMENTS, POS, PURCHASE_ORDERS, Routing, RulesSource, Stream,
    StreamConfig, StreamTables, StreamTablesConfig,
};

/// Full name of the purchase-order line-item record (its `schemas/purchase_order_item.v<N>.avsc`).
pub const PURCHASE_ORDER_ITEM: &str = "io.medallion.purchasing.PurchaseOrderItem";
/// Full name of the payment-transaction record (its `schemas/payment_transaction.v<N>.avsc`).
pub const PAYMENT_TRANSACTION: &str = "io.medallion.payments.PaymentTransaction";
/// Full name of the point-of-sale sale-line record (`schemas/pos_sale_line.v<N>.avsc`).
pub const POS_SALE_LINE: &str = "io.medallion.retail.PosSaleLine";
/// Full name of the clickstream event record (`schemas/click_event.v<N>.avsc`).
pub const CLICK_EVENT: &str = "io.medallion.retail.ClickEvent";
/// Full name of the e-commerce order-line record (`schemas/ecommerce_order_line.v<N>.avsc`).
pub const ECOMMERCE_ORDER_LINE: &str = "io.medallion.retail.EcommerceOrderLine";
/// Full name of the stock-movement record (`schemas/inventory_movement.v<N>.avsc`).
pub const INVENTORY_MOVEMENT: &str = "io.medallion.retail.InventoryMovement";

/// A message framing (the functions that read and write frames are in `wire::framing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Framing {
    /// Confluent wire format: magic byte 0 + 4-byte big-endian schema id.
    Confluent,
    /// Avro single-object encoding: C3 01 + 8-byte CRC-64-AVRO fingerprint.
    SingleObject,
}

impl std::fmt::Display for Framing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Confluent => "confluent",
            Self::SingleObject => "single-object",
        })
    }
}

/// Problems found while loading a configuration. Every variant says where to look.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path} does not exist")]
    FileMissing { path: PathBuf },
    #[error("invalid configuration:\n{}", .problems.join("\n"))]
    Invalid { problems: Vec<String> },
}

/// The whole configuration of medallion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Connection profile: `local` (dev broker or Redpanda, PLAINTEXT) or `eventhubs`
    /// (Azure Event Hubs' Kafka endpoint, SASL_SSL).
    pub profile: Profile,
    /// Brokers, topic, consumer group and client settings.
    pub kafka: KafkaConfig,
    /// Avro schemas and message framing.
    pub schema: SchemaConfig,
    /// The producer (`medallion produce`): pace, seed, calendar and output of every generator,
    /// and the purchase-order generator's own settings.
    pub producer: ProducerConfig,
    /// The other built-in generators (`medallion produce --stream NAME`).
    pub generators: GeneratorsConfig,
    /// Where the Delta tables live.
    pub lake: LakeConfig,
    /// The bronze stage (`medallion bronze`).
    pub bronze: BronzeConfig,
    /// The silver stage (`medallion silver`).
    pub silver: SilverConfig,
    /// The current-state and gold tables (`medallion gold`).
    pub gold: GoldConfig,
    /// Checkpoints, log cleanup, compaction and VACUUM of every table (`medallion maintain`,
    /// and each stage for its own tables while it runs).
    pub maintenance: MaintenanceConfig,
    /// What `medallion status --check` tolerates: lag, and how long a stage may go without
    /// committing while it has input waiting.
    pub health: HealthConfig,
    /// Copies of the quality and pipeline metrics in other systems (PostgreSQL), for existing
    /// dashboards.
    pub export: ExportConfig,
    /// The streams carried, each with its topic, record, tables, rules, current-state key and
    /// gold models. When empty, the built-in purchase-order stream on `kafka.topic`,
    /// `bronze.table`, `silver.*` and `gold.*`. Built-in: `purchase_orders`, `payments`.
    pub streams: Vec<StreamConfig>,
    /// Serve Prometheus metrics on `http://ADDR/metrics` (e.g. `127.0.0.1:9898`) while
    /// bronze, silver, gold or run work. Off when unset.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// How messages are framed and how schema ids resolve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchemaConfig {
    /// Framing the producer writes: `confluent` (magic byte + 4-byte schema id) or
    /// `single-object` (C3 01 + CRC-64-AVRO fingerprint).
    pub framing: Framing,
    /// Framings consumers decode; a message in any other framing is kept undecoded with an error.
    pub accepted_framings: Vec<Framing>,
    /// Schema version the producer writes (a `schemas/purchase_order_item.v<N>.avsc`).
    pub version: u32,
    /// Confluent-compatible schema registry. When unset, `static_ids` resolves schema ids.
    pub registry: Option<RegistryConfig>,
    /// Confluent schema ids and the schema files in `schemas/` they stand for, used when no
    /// registry runs.
    pub static_ids: Vec<StaticSchemaId>,
}

/// One schema id of the static map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticSchemaId {
    /// The id written after the Confluent magic byte.
    pub id: u32,
    /// File name in `schemas/`, e.g. `purchase_order_item.v2.avsc`.
    pub file: String,
}

impl Default for SchemaConfig {
    fn default() -> Self {
        Self {
            framing: Framing::Confluent,
            accepted_framings: vec![Framing::Confluent, Framing::SingleObject],
            version: 2,
            registry: None,
            static_ids: vec![
                StaticSchemaId { id: 1, file: "purchase_order_item.v1.avsc".to_owned() },
                StaticSchemaId { id: 2, file: "purchase_order_item.v2.avsc".to_owned() },
                StaticSchemaId { id: 11, file: "payment_transaction.v1.avsc".to_owned() },
                StaticSchemaId { id: 12, file: "payment_transaction.v2.avsc".to_owned() },
                StaticSchemaId { id: 21, file: "pos_sale_line.v1.avsc".to_owned() },
                StaticSchemaId { id: 31, file: "click_event.v1.avsc".to_owned() },
                StaticSchemaId { id: 41, file: "ecommerce_order_line.v1.avsc".to_owned() },
                StaticSchemaId { id: 51, file: "inventory_movement.v1.avsc".to_owned() },
            ],
        }
    }
}

/// A Confluent-compatible schema registry (Confluent, Redpanda, Karapace, Apicurio's ccompat API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// Base URL, e.g. `http://127.0.0.1:18081`.
    pub url: String,
    /// Basic-auth user, if the registry needs one.
    #[serde(default)]
    pub username: Option<String>,
    /// Basic-auth password. Never printed.
    #[serde(default)]
    pub password: Option<Secret>,
    /// Timeout of each registry request.
    #[serde(default = "default_registry_timeout", with = "humantime_serde")]
    pub timeout: std::time::Duration,
}

fn default_registry_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(10)
}

/// Location of the lake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LakeConfig {
    /// Root of the lake: a local path, `file://`, `abfss://` or `az://` URL. Overridden by
    /// `MEDALLION_LAKE` and `--lake`.
    pub root: String,
    /// Object-store options (`account_name`, `account_key`, `sas_key`, `client_id`, ...);
    /// credentials are masked when printed.
    pub storage_options: PassthroughMap,
}

impl Default for LakeConfig {
    fn default() -> Self {
        Self { root: "./lake".to_owned(), storage_options: PassthroughMap::default() }
    }
}

impl LakeConfig {
    /// Location of a table given relative to the root.
    pub fn table_location(&self, relative: &str) -> String {
        format!("{}/{}", self.root.trim_end_matches('/'), relative.trim_start_matches('/'))
    }

    /// The object-store options as deltalake takes them.
    pub fn storage_options(&self) -> std::collections::HashMap<String, String> {
        self.storage_options.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

impl Config {
    /// Loads defaults, then `file` (when given), then the environment, then `overrides` (the
    /// command line), and validates the result.
    pub fn load(file: Option<&Path>, overrides: Serialized<impl Serialize>) -> Result<Self, ConfigError> {
        Self::load_with_env(file, overrides, true)
    }

    /// As [`Config::load`]; `with_env = false` ignores the environment (for tests).
    pub fn load_with_env(file: Option<&Path>, overrides: Serialized<impl Serialize>, with_env: bool) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::FileMissing { path: path.to_owned() });
            }
            figment = figment.merge(Yaml::file_exact(path));
        }
        if with_env {
            figment = figment.merge(environment());
        }
        let figment = figment.merge(overrides);
        let config: Config = figment
            .extract()
            .map_err(|error| ConfigError::Invalid { problems: error.into_iter().map(|e| validate::describe_figment_error(&e)).collect() })?;
        let problems = config.problems();
        if problems.is_empty() {
            return Ok(config);
        }
        Err(ConfigError::Invalid { problems: problems.into_iter().map(|p| validate::with_origin(&figment, p)).collect() })
    }

    /// The configuration as YAML, secrets masked.
    pub fn to_masked_yaml(&self) -> String {
        serde_yaml::to_string(self).unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }
}

/// The environment variables medallion reads, as one provider.
fn environment() -> Figment {
    let renamed = |name: &'static str, key: &'static str| Env::raw().only(&[name]).map(move |_| key.into());
    Figment::new()
        .merge(Env::prefixed("MEDALLION_").filter(|key| key.as_str().contains("__")).split("__"))
        .merge(Env::prefixed("MEDALLION_").only(&["profile", "metrics_addr"]))
        .merge(renamed("KAFKA_BOOTSTRAP", "kafka.bootstrap_servers"))
        .merge(renamed("MEDALLION_TOPIC", "kafka.topic"))
        .merge(renamed("MEDALLION_LAKE", "lake.root"))
        .merge(renamed("EVENTHUBS_CONNECTION_STRING", "kafka.connection_string"))
}

#[cfg(test)]
mod tests;
