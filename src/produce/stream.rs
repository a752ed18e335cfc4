//! The built-in streams `medallion produce` generates, behind one face for the source and the
//! sinks: which generator, which topic, schema, rate and defect kinds.

use std::io::Write;

use crate::config::Config;
use crate::generate::payments::{GeneratedPayment, InvalidShape, PaymentDefect, PaymentGenerator, PaymentTransaction};
use crate::generate::retail::RetailRecord;
use crate::generate::retail::clickstream::{ClickDefect, ClickEvent, ClickstreamGenerator, GeneratedClick};
use crate::generate::retail::ecommerce::{EcommerceDefect, EcommerceGenerator, EcommerceOrderLine, GeneratedOrderLine};
use crate::generate::retail::inventory::{GeneratedMovement, InventoryDefect, InventoryGenerator, InventoryMovement};
use crate::generate::retail::pos::{GeneratedSale, PosDefect, PosGenerator, PosSaleLine};
use crate::generate::{DefectKind, GeneratedEvent, Generator, GeneratorSettings, PurchaseOrderItem};
use crate::wire::encode::{EncodeError, RecordEncoder, WireRecord, payment_to_json, retail_to_json, to_json};
use crate::wire::schema::{CatalogEntry, SchemaCatalog};

/// A built-in stream (`--stream`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// Purchase-order line items (`producer:`, `schema.version`, `kafka.topic`).
    #[default]
    PurchaseOrders,
    /// Payment transactions (`generators.payments`).
    Payments,
    /// Point-of-sale sale lines of the retail stores (`producer:`; topic `producer.topic`, else
    /// the stream's).
    Pos,
    /// Clickstream of the web shop and app (as `Pos`).
    Clickstream,
    /// Web and app orders (as `Pos`).
    Ecommerce,
    /// Stock movements at the stores and warehouses (as `Pos`).
    Inventory,
}

impl StreamKind {
    /// Its name in `streams:` and `--stream`.
    pub fn name(self) -> &'static str {
        match self {
            Self::PurchaseOrders => crate::config::PURCHASE_ORDERS,
            Self::Payments => crate::config::PAYMENTS,
            Self::Pos => crate::config::POS,
            Self::Clickstream => crate::config::CLICKSTREAM,
            Self::Ecommerce => crate::config::ECOMMERCE,
            Self::Inventory => crate::config::INVENTORY,
        }
    }

    /// The built-in stream `--stream` names (the default when `None`); `Err` lists the names
    /// known. `purchase-orders` is accepted for `purchase_orders`.
    pub fn from_flag(name: Option<&str>) -> Result<Self, String> {
        match name {
            None | Some("purchase_orders" | "purchase-orders") => Ok(Self::PurchaseOrders),
            Some("payments") => Ok(Self::Payments),
            Some("pos") => Ok(Self::Pos),
            Some("clickstream") => Ok(Self::Clickstream),
            Some("ecommerce") => Ok(Self::Ecommerce),
            Some("inventory") => Ok(Self::Inventory),
            Some(other) => Err(format!("`{other}` is not a built-in stream medallion can generate: {}", crate::config::BUILT_IN_STREAMS.join(", "))),
        }
    }

    /// The full name of its Avro record.
    pub fn record(self) -> &'static str {
        match self {
            Self::PurchaseOrders => crate::config::PURCHASE_ORDER_ITEM,
            Self::Payments => crate::config::PAYMENT_TRANSACTION,
            Self::Pos => crate::config::POS_SALE_LINE,
            Self::Clickstream => crate::config::CLICK_EVENT,
            Self::Ecommerce => crate::config::ECOMMERCE_ORDER_LINE,
            Self::Inventory => crate::config::INVENTORY_MOVEMENT,
        }
    }

    /// The topic it is sent to: its stream's in `streams:`, else its built-in default.
    pub fn topic(self, config: &Config) -> String {
        let retail_topic = match self {
            Self::PurchaseOrders | Self::Payments => None,
            Self::Pos | Self::Clickstream | Self::Ecommerce | Self::Inventory => config.producer.topic.clone(),
        };
        retail_topic.unwrap_or_else(|| config.stream_or_built_in(self.name()).map_or_else(|| config.kafka.topic.clone(), |stream| stream.topic))
    }

    /// Events per second.
    pub fn rate(self, config: &Config) -> u32 {
        match self {
            Self::PurchaseOrders | Self::Pos | Self::Clickstream | Self::Ecommerce | Self::Inventory => config.producer.rate,
            Self::Payments => config.generators.payments.rate.unwrap_or(config.producer.rate),
        }
    }

    /// The schema it is written with, `Err(version)` when there is no such version.
    pub fn writer_schema(self, config: &Config) -> Result<&'static CatalogEntry, u32> {
        let version = match self {
            Self::PurchaseOrders => config.schema.version,
            Self::Payments => config.generators.payments.schema_version,
            // A retail record has one version so far.
            Self::Pos | Self::Clickstream | Self::Ecommerce | Self::Inventory => 1,
        };
        SchemaCatalog::embedded().record(self.record()).by_version(version).ok_or(version)
    }

    /// Every defect kind its generator injects, as counted in the summary.
    pub fn defect_names(self) -> Vec<&'static str> {
        match self {
            Self::PurchaseOrders => DefectKind::ALL.iter().map(|kind| kind.name()).collect(),
            Self::Payments => PaymentDefect::ALL.iter().map(|kind| kind.name()).collect(),
            Self::Pos => PosDefect::ALL.iter().map(|kind| kind.name()).collect(),
            Self::Clickstream => ClickDefect::ALL.iter().map(|kind| kind.name()).collect(),
            Self::Ecommerce => EcommerceDefect::ALL.iter().map(|kind| kind.name()).collect(),
            Self::Inventory => InventoryDefect::ALL.iter().map(|kind| kind.name()).collect(),
        }
    }
}

/// One generated event of any stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    PurchaseOrder(PurchaseOrderItem),
    Payment(PaymentTransaction),
    Pos(PosSaleLine),
    Click(ClickEvent),
    Ecommerce(EcommerceOrderLine),
    Inventory(InventoryMovement),
}

impl Record {
    /// The Kafka key: the entity's id (order id, transaction id), none when it is null.
    pub fn key(&self) -> Option<&[u8]> {
        match self {
            Self::PurchaseOrder(item) => item.key(),
            Self::Payment(payment) => payment.key(),
            Self::Pos(line) => line.key(),
            Self::Click(event) => event.key(),
            Self::Ecommerce(line) => line.key(),
            Self::Inventory(movement) => movement.key(),
        }
    }

    /// Appends the framed message value to `out`.
    pub fn encode(&self, encoder: &RecordEncoder, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Self::PurchaseOrder(item) => encoder.encode(item, out),
            Self::Payment(payment) => encoder.encode(payment, out),
            Self::Pos(line) => encoder.encode(line, out),
            Self::Click(event) => encoder.encode(event, out),
            Self::Ecommerce(line) => encoder.encode(line, out),
            Self::Inventory(movement) => encoder.encode(movement, out),
        }
    }

    /// Appends the record to an Avro object container file written with schema `version`.
    pub fn append_to<W: Write>(&self, writer: &mut apache_avro::Writer<'_, W>, version: u32) -> Result<usize, apache_avro::Error> {
        match self {
            Self::PurchaseOrder(item) => writer.append_ser(item.avro_view(version)),
            Self::Payment(payment) => writer.append_ser(payment.avro_view(version)),
            Self::Pos(line) => writer.append_ser(line.avro_view(version)),
            Self::Click(event) => writer.append_ser(event.avro_view(version)),
            Self::Ecommerce(line) => writer.append_ser(line.avro_view(version)),
            Self::Inventory(movement) => writer.append_ser(movement.avro_view(version)),
        }
    }

    /// The record as one JSON object, with the fields of schema `version`.
    pub fn to_json(&self, version: u32) -> serde_json::Value {
        match self {
            Self::PurchaseOrder(item) => to_json(item, version),
            Self::Payment(payment) => payment_to_json(payment, version),
            Self::Pos(line) => retail_to_json(line),
            Self::Click(event) => retail_to_json(event),
            Self::Ecommerce(line) => retail_to_json(line),
            Self::Inventory(movement) => retail_to_json(movement),
        }
    }
}

/// The generator of one stream.
/// Boxed: generators are large (hundreds of bytes of state) and live for the whole run.
pub enum StreamGenerator {
    PurchaseOrders(Box<Generator>),
    Payments(Box<PaymentGenerator>),
    Pos(Box<PosGenerator>),
    Clickstream(Box<ClickstreamGenerator>),
    Ecommerce(Box<EcommerceGenerator>),
    Inventory(Box<InventoryGenerator>),
}

impl StreamGenerator {
    /// `kind`'s generator with `settings`' seed and calendar, shaped by `config`.
    pub fn new(kind: StreamKind, settings: &GeneratorSettings, config: &Config) -> Result<Self, InvalidShape> {
        Ok(match kind {
            StreamKind::PurchaseOrders => Self::PurchaseOrders(Box::new(Generator::new(settings))),
            StreamKind::Payments => Self::Payments(Box::new(PaymentGenerator::new(settings, &config.generators.payments)?)),
            StreamKind::Pos => Self::Pos(Box::new(PosGenerator::new(settings))),
            StreamKind::Clickstream => Self::Clickstream(Box::new(ClickstreamGenerator::new(settings))),
            StreamKind::Ecommerce => Self::Ecommerce(Box::new(EcommerceGenerator::new(settings))),
            StreamKind::Inventory => Self::Inventory(Box::new(InventoryGenerator::new(settings))),
        })
    }

    /// The next event and the name of the defect it carries, if any.
    pub fn next_record(&mut self) -> (Record, Option<&'static str>) {
        match self {
            Self::PurchaseOrders(generator) => {
                let GeneratedEvent { item, defect } = generator.next_event();
                (Record::PurchaseOrder(item), defect.map(DefectKind::name))
            }
            Self::Payments(generator) => {
                let GeneratedPayment { payment, defect } = generator.next_event();
                (Record::Payment(payment), defect.map(PaymentDefect::name))
            }
            Self::Pos(generator) => {
                let GeneratedSale { line, defect } = generator.next_event();
                (Record::Pos(line), defect.map(PosDefect::name))
            }
            Self::Clickstream(generator) => {
                let GeneratedClick { event, defect } = generator.next_event();
                (Record::Click(event), defect.map(ClickDefect::name))
            }
            Self::Ecommerce(generator) => {
                let GeneratedOrderLine { line, defect } = generator.next_event();
                (Record::Ecommerce(line), defect.map(EcommerceDefect::name))
            }
            Self::Inventory(generator) => {
                let GeneratedMovement { movement, defect } = generator.next_event();
                (Record::Inventory(movement), defect.map(InventoryDefect::name))
            }
        }
    }

    /// Applies a reloaded configuration's generator settings (the purchase-order generator
    /// takes only its rate, which the source applies).
    pub fn reconfigure(&mut self, config: &Config) -> Result<(), InvalidShape> {
        match self {
            Self::PurchaseOrders(_) | Self::Pos(_) | Self::Clickstream(_) | Self::Ecommerce(_) | Self::Inventory(_) => Ok(()),
            Self::Payments(generator) => generator.reconfigure(&config.generators.payments),
        }
    }
}
