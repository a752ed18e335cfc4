//! The streams medallion carries (`streams:`): each a topic, the Avro record its messages carry,
//! its tables, DQX rules, current-state key and gold models.
//!
//! Without a `streams:` section medallion carries the built-in purchase-order stream on the
//! tables named by `kafka.topic`, `bronze.table`, `silver.*` and `gold.*`, as before streams
//! existed, so an existing lake keeps working. A stage works on one stream at a time through
//! [`Config::for_stream`], a copy of the configuration whose stage sections name that stream's
//! topic and tables.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Config;

/// The streams built into medallion: their record, rules and gold models need no configuration.
pub const PURCHASE_ORDERS: &str = "purchase_orders";
pub const PAYMENTS: &str = "payments";
/// Point-of-sale sale lines of the retail stores.
pub const POS: &str = "pos";
/// Visits to the web shop and app, click by click.
pub const CLICKSTREAM: &str = "clickstream";
/// Web and app orders, line by line and status by status.
pub const ECOMMERCE: &str = "ecommerce";
/// Stock movements at the stores and warehouses.
pub const INVENTORY: &str = "inventory";
pub const BUILT_IN_STREAMS: [&str; 6] = [PURCHASE_ORDERS, PAYMENTS, POS, CLICKSTREAM, ECOMMERCE, INVENTORY];

/// One stream, as configured. Every key but `name` may be left out for a built-in stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// The stream's name (`--stream NAME`, reports, default table paths): lowercase letters,
    /// digits and `_`. `purchase_orders` and `payments` are built in.
    pub name: String,
    /// Topic it is read from. Default: `kafka.topic` for `purchase_orders`,
    /// `generators.payments.topic` for `payments`, else the stream's name.
    #[serde(default)]
    pub topic: Option<String>,
    /// Full name of the Avro record its messages carry (schemas in `schemas/`, every version of
    /// which resolves against every other); bronze decodes into its newest version. Required
    /// unless the stream is built in.
    #[serde(default)]
    pub record: Option<String>,
    /// Its tables, as paths under `lake.root`.
    #[serde(default)]
    pub tables: StreamTablesConfig,
    /// DQX YAML rules file. Default: the built-in stream's rules (`rules/<name>.yml`); a stream
    /// that is not built in must name one.
    #[serde(default)]
    pub rules: Option<PathBuf>,
    /// How the current-state table tells entities apart and picks their latest event. Required
    /// unless the stream is built in.
    #[serde(default)]
    pub current: Option<CurrentConfig>,
    /// Directory of gold models: one `<table>.sql` file per gold table `gold/<table>` (see
    /// `gold/README.md`). Default: the built-in stream's models (`gold/<name>/`), else none.
    #[serde(default)]
    pub gold_models: Option<PathBuf>,
    /// How a [`Config::for_stream`] copy remembers the other streams of a shared topic.
    #[serde(skip)]
    pub routing: Option<Routing>,
}

/// The other streams of a topic several streams share: each message goes to the stream of its
/// writer schema's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    /// (stream, record) of every other stream on the topic.
    pub others: Vec<(String, String)>,
    /// Whether this stream (the first of the topic's, in `streams:` order) keeps the messages no
    /// stream claims (a record nobody names, an unknown schema, an unreadable frame).
    pub keeps_unclaimed: bool,
}

impl StreamConfig {
    /// A stream given by its name alone (a built-in one takes every default).
    fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            topic: None,
            record: None,
            tables: StreamTablesConfig::default(),
            rules: None,
            current: None,
            gold_models: None,
            routing: None,
        }
    }
}

/// A stream's tables; each defaults to a path derived from the stream's name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamTablesConfig {
    /// Every message of the stream. Default `bronze/<name>`.
    pub bronze: Option<String>,
    /// Checked rows. Default `silver/<name>`.
    pub silver: Option<String>,
    /// Undecodable rows, and rows with errors in `split` mode. Default `silver/<name>_quarantine`.
    pub quarantine: Option<String>,
    /// Per batch and rule counts. Default `silver/<name>_quality_metrics`.
    pub quality_metrics: Option<String>,
    /// The latest error-free event per entity. Default `silver/<name>_current`.
    pub current: Option<String>,
    /// Quality per day. Default `gold/<name>_quality_daily`.
    pub quality_daily: Option<String>,
}

/// The current-state table's key and recency columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurrentConfig {
    /// Columns that identify one entity; its files are kept in sorted ranges of the first.
    pub key: Vec<String>,
    /// Columns that order an entity's events, most significant first (e.g. `[event_time]`);
    /// the Kafka partition and offset always break the remaining ties.
    pub recency: Vec<String>,
}

/// Where a stream's rules come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesSource {
    /// The rules built in for this built-in stream (`rules/<name>.yml`).
    BuiltIn(&'static str),
    File(PathBuf),
}

/// Where a stream's gold models come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoldModels {
    /// The models built in for this built-in stream (`gold/<name>/*.sql`).
    BuiltIn(&'static str),
    Directory(PathBuf),
    None,
}

/// A stream with every default applied: what the stages work with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    pub name: String,
    pub topic: String,
    pub record: String,
    pub tables: StreamTables,
    pub rules: RulesSource,
    pub current: CurrentConfig,
    pub gold_models: GoldModels,
    /// Set when other streams read the same topic.
    pub routing: Option<Routing>,
}

/// A stream's table paths under `lake.root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamTables {
    pub bronze: String,
    pub silver: String,
    pub quarantine: String,
    pub quality_metrics: String,
    pub current: String,
    pub quality_daily: String,
}

impl StreamTables {
    /// (role, path) of each table, sources first.
    pub fn all(&self) -> [(&'static str, &str); 6] {
        [
            ("bronze", &self.bronze),
            ("silver", &self.silver),
            ("quarantine", &self.quarantine),
            ("quality_metrics", &self.quality_metrics),
            ("current", &self.current),
            ("quality_daily", &self.quality_daily),
        ]
    }
}

fn built_in(name: &str) -> Option<&'static str> {
    BUILT_IN_STREAMS.iter().copied().find(|built_in| *built_in == name)
}

impl Config {
    /// Every stream this configuration carries, defaults applied: the `streams:` section, or
    /// the built-in purchase-order stream on the stage sections' tables when there is none.
    pub fn streams(&self) -> Vec<Stream> {
        if self.streams.is_empty() {
            return vec![self.legacy_purchase_orders()];
        }
        let mut streams: Vec<Stream> = self.streams.iter().map(|stream| self.resolve(stream)).collect();
        let topics: Vec<(String, String, String)> = streams.iter().map(|s| (s.topic.clone(), s.name.clone(), s.record.clone())).collect();
        for stream in streams.iter_mut().filter(|stream| stream.routing.is_none()) {
            let others: Vec<(String, String)> = topics
                .iter()
                .filter(|(topic, name, _)| *topic == stream.topic && *name != stream.name)
                .map(|(_, name, record)| (name.clone(), record.clone()))
                .collect();
            if !others.is_empty() {
                let first = topics.iter().find(|(topic, _, _)| *topic == stream.topic).map(|(_, name, _)| name);
                stream.routing = Some(Routing { others, keeps_unclaimed: first == Some(&stream.name) });
            }
        }
        streams
    }

    /// The stream a stage works on: the first one (a [`Config::for_stream`] copy holds one).
    pub fn stream(&self) -> Stream {
        self.streams().swap_remove(0)
    }

    /// The stream called `name`, `None` when there is none (the known names are in
    /// [`Config::stream_names`]).
    pub fn stream_named(&self, name: &str) -> Option<Stream> {
        self.streams().into_iter().find(|stream| stream.name == name)
    }

    pub fn stream_names(&self) -> Vec<String> {
        self.streams().into_iter().map(|stream| stream.name).collect()
    }

    /// The stream called `name`: a configured one, or a built-in one with its defaults even when
    /// `streams:` does not list it (what `produce` and `rules check` take).
    pub fn stream_or_built_in(&self, name: &str) -> Option<Stream> {
        self.stream_named(name).or_else(|| built_in(name).map(|name| self.resolve(&StreamConfig::named(name))))
    }

    /// Each stream, with the copy of this configuration its stages work on.
    pub fn views(&self) -> Vec<(Stream, Config)> {
        self.streams()
            .into_iter()
            .map(|stream| {
                let view = self.for_stream(&stream);
                (stream, view)
            })
            .collect()
    }

    /// This configuration for a stage working on `stream`: `kafka.topic`, `bronze.table`,
    /// `silver.*` and `gold.*` name its topic and tables, and it is the only stream. With several
    /// streams, each consumes in a group of its own, `<kafka.group_id>.<stream>`: one group over
    /// several topics rebalances every member whenever one joins or leaves (six streams starting
    /// together waited minutes on each other), and a stream sharing its topic must read every
    /// message of it and keep its own. Positions live in the tables, so the group holds none.
    pub fn for_stream(&self, stream: &Stream) -> Config {
        let mut view = self.clone();
        let tables = &stream.tables;
        view.kafka.topic = stream.topic.clone();
        if self.streams.len() > 1 {
            view.kafka.group_id = format!("{}.{}", self.kafka.group_id, stream.name);
        }
        view.bronze.table = tables.bronze.clone();
        view.silver.table = tables.silver.clone();
        view.silver.quarantine_table = tables.quarantine.clone();
        view.silver.metrics_table = tables.quality_metrics.clone();
        view.gold.current_table = tables.current.clone();
        view.gold.quality_daily_table = tables.quality_daily.clone();
        view.streams = vec![StreamConfig {
            name: stream.name.clone(),
            topic: Some(stream.topic.clone()),
            record: Some(stream.record.clone()),
            tables: StreamTablesConfig {
                bronze: Some(tables.bronze.clone()),
                silver: Some(tables.silver.clone()),
                quarantine: Some(tables.quarantine.clone()),
                quality_metrics: Some(tables.quality_metrics.clone()),
                current: Some(tables.current.clone()),
                quality_daily: Some(tables.quality_daily.clone()),
            },
            rules: match &stream.rules {
                RulesSource::File(path) => Some(path.clone()),
                RulesSource::BuiltIn(_) => None,
            },
            current: Some(stream.current.clone()),
            gold_models: match &stream.gold_models {
                GoldModels::Directory(path) => Some(path.clone()),
                GoldModels::BuiltIn(_) | GoldModels::None => None,
            },
            routing: stream.routing.clone(),
        }];
        view
    }

    /// The purchase-order stream as it was before `streams:`: on the stage sections' tables.
    fn legacy_purchase_orders(&self) -> Stream {
        Stream {
            name: PURCHASE_ORDERS.to_owned(),
            topic: self.kafka.topic.clone(),
            record: super::PURCHASE_ORDER_ITEM.to_owned(),
            tables: self.legacy_tables(),
            rules: self.silver.rules.clone().map_or(RulesSource::BuiltIn(PURCHASE_ORDERS), RulesSource::File),
            current: built_in_current(PURCHASE_ORDERS),
            gold_models: GoldModels::BuiltIn(PURCHASE_ORDERS),
            routing: None,
        }
    }

    fn legacy_tables(&self) -> StreamTables {
        StreamTables {
            bronze: self.bronze.table.clone(),
            silver: self.silver.table.clone(),
            quarantine: self.silver.quarantine_table.clone(),
            quality_metrics: self.silver.metrics_table.clone(),
            current: self.gold.current_table.clone(),
            quality_daily: self.gold.quality_daily_table.clone(),
        }
    }

    fn resolve(&self, stream: &StreamConfig) -> Stream {
        let name = stream.name.clone();
        let built_in = built_in(&name);
        // A [`Config::for_stream`] copy names its own tables; a built-in purchase-order stream
        // otherwise keeps the stage sections' tables, so its lake stays where it was.
        let defaults = match built_in {
            Some(PURCHASE_ORDERS) => self.legacy_tables(),
            _ => StreamTables {
                bronze: format!("bronze/{name}"),
                silver: format!("silver/{name}"),
                quarantine: format!("silver/{name}_quarantine"),
                quality_metrics: format!("silver/{name}_quality_metrics"),
                current: format!("silver/{name}_current"),
                quality_daily: format!("gold/{name}_quality_daily"),
            },
        };
        let table = |given: &Option<String>, default: String| given.clone().unwrap_or(default);
        let given = &stream.tables;
        let tables = StreamTables {
            bronze: table(&given.bronze, defaults.bronze),
            silver: table(&given.silver, defaults.silver),
            quarantine: table(&given.quarantine, defaults.quarantine),
            quality_metrics: table(&given.quality_metrics, defaults.quality_metrics),
            current: table(&given.current, defaults.current),
            quality_daily: table(&given.quality_daily, defaults.quality_daily),
        };
        let default_topic = match built_in {
            Some(PURCHASE_ORDERS) => self.kafka.topic.clone(),
            Some(PAYMENTS) => self.generators.payments.topic.clone(),
            _ => name.clone(),
        };
        let default_record = match built_in {
            Some(PURCHASE_ORDERS) => super::PURCHASE_ORDER_ITEM,
            Some(PAYMENTS) => super::PAYMENT_TRANSACTION,
            Some(POS) => super::POS_SALE_LINE,
            Some(CLICKSTREAM) => super::CLICK_EVENT,
            Some(ECOMMERCE) => super::ECOMMERCE_ORDER_LINE,
            Some(INVENTORY) => super::INVENTORY_MOVEMENT,
            _ => "",
        };
        Stream {
            topic: stream.topic.clone().unwrap_or(default_topic),
            record: stream.record.clone().unwrap_or_else(|| default_record.to_owned()),
            tables,
            rules: match (&stream.rules, built_in) {
                (Some(path), _) => RulesSource::File(path.clone()),
                (None, Some(built_in)) => RulesSource::BuiltIn(built_in),
                (None, None) => RulesSource::File(PathBuf::new()),
            },
            current: stream.current.clone().or_else(|| built_in.map(built_in_current)).unwrap_or(CurrentConfig { key: vec![], recency: vec![] }),
            gold_models: match (&stream.gold_models, built_in) {
                (Some(path), _) => GoldModels::Directory(path.clone()),
                (None, Some(built_in)) => GoldModels::BuiltIn(built_in),
                (None, None) => GoldModels::None,
            },
            routing: stream.routing.clone(),
            name,
        }
    }
}

/// The current-state key and recency of a built-in stream.
fn built_in_current(name: &str) -> CurrentConfig {
    let names = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
    match name {
        PAYMENTS => CurrentConfig { key: names(&["transaction_id"]), recency: names(&["event_time"]) },
        POS => CurrentConfig { key: names(&["transaction_id", "line_number"]), recency: names(&["event_time"]) },
        INVENTORY => CurrentConfig { key: names(&["movement_id"]), recency: names(&["event_time"]) },
        ECOMMERCE => CurrentConfig { key: names(&["order_id", "line_number"]), recency: names(&["event_time"]) },
        CLICKSTREAM => CurrentConfig { key: names(&["session_id", "event_sequence"]), recency: names(&["event_time"]) },
        _ => CurrentConfig { key: names(&["order_id", "line_number"]), recency: names(&["event_time"]) },
    }
}

/// Problems of the `streams:` section, one line each with its key path.
pub(super) fn problems(config: &Config, known_record: impl Fn(&str) -> bool, problems: &mut Vec<String>) {
    for (index, given) in config.streams.iter().enumerate() {
        let key = |field: &str| format!("streams[{index}].{field}");
        let name = &given.name;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            problems.push(format!("{}: `{name}` must be lowercase letters, digits and _", key("name")));
        }
        if config.streams[..index].iter().any(|earlier| earlier.name == *name) {
            problems.push(format!("{}: `{name}` is listed twice", key("name")));
        }
        let built_in = built_in(name).is_some();
        let stream = config.resolve(given);
        if !built_in {
            for (field, missing) in [("record", given.record.is_none()), ("rules", given.rules.is_none()), ("current", given.current.is_none())] {
                if missing {
                    problems.push(format!("{}: required: `{name}` is not a built-in stream ({})", key(field), BUILT_IN_STREAMS.join(", ")));
                }
            }
        }
        if !stream.record.is_empty() && !known_record(&stream.record) {
            problems.push(format!("{}: `{}` is not the record of any schema in schemas/", key("record"), stream.record));
        }
        super::validate::check_topic(&key("topic"), &stream.topic, problems);
        if let RulesSource::File(path) = &stream.rules
            && given.rules.is_some()
            && !path.is_file()
        {
            problems.push(format!("{}: {} is not a file", key("rules"), path.display()));
        }
        if let GoldModels::Directory(path) = &stream.gold_models
            && !path.is_dir()
        {
            problems.push(format!("{}: {} is not a directory", key("gold_models"), path.display()));
        }
        if given.current.is_some() && stream.current.key.is_empty() {
            problems.push(format!("{}: must list at least one column", key("current.key")));
        }
    }
    let streams = config.streams();
    for (index, stream) in streams.iter().enumerate() {
        for earlier in &streams[..index] {
            if earlier.topic == stream.topic && earlier.record == stream.record {
                problems.push(format!(
                    "streams: `{}` and `{}` both take record `{}` from topic `{}`: a topic's messages go to the stream of their record, so each stream of a shared topic needs a record of its own",
                    earlier.name, stream.name, stream.record, stream.topic
                ));
            }
            for (role, path) in stream.tables.all() {
                if let Some((other_role, _)) = earlier.tables.all().into_iter().find(|(_, other)| *other == path) {
                    problems.push(format!(
                        "streams: `{path}` is both the {other_role} table of `{}` and the {role} table of `{}`",
                        earlier.name, stream.name
                    ));
                }
            }
        }
    }
}
