//! Encoding generated events: Avro datum (through serde, the fast path of apache-avro) behind a
//! frame header, and a JSON view for inspection. Each record type says how it is written per
//! schema version ([`WireRecord`]); this file holds the purchase-order line item's.

mod payment;
mod retail;

pub use payment::payment_to_json;
pub use retail::retail_to_json;

use apache_avro::writer::datum::GenericDatumWriter;
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

use crate::generate::{Cents, PurchaseOrderItem};
use crate::wire::framing::{self, SchemaRef};
use crate::wire::schema::CatalogEntry;

/// Why an event could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("schema {file} cannot be used for writing: {source}")]
    Schema { file: &'static str, source: Box<apache_avro::Error> },
    #[error("event {event_id} does not fit schema {file}: {source}")]
    Datum { event_id: String, file: &'static str, source: Box<apache_avro::Error> },
}

/// A generated event as the records of its schema versions.
pub trait WireRecord {
    /// The event's id, for errors.
    fn event_id(&self) -> &str;
    /// The event as the record of schema `version` (apache-avro rejects fields its schema
    /// lacks, so a field is only written from the version that added it).
    fn avro_view(&self, version: u32) -> impl Serialize + '_;
}

/// Encodes events with one writer schema and one frame header.
pub struct RecordEncoder {
    entry: &'static CatalogEntry,
    writer: GenericDatumWriter<'static>,
    header: Vec<u8>,
}

impl RecordEncoder {
    /// An encoder whose messages start with the frame header naming `schema_ref`.
    pub fn new(entry: &'static CatalogEntry, schema_ref: SchemaRef) -> Result<Self, EncodeError> {
        let mut encoder = Self::datum_only(entry)?;
        framing::write_header(schema_ref, &mut encoder.header);
        Ok(encoder)
    }

    /// An encoder of bare Avro datums, without a frame header.
    pub fn datum_only(entry: &'static CatalogEntry) -> Result<Self, EncodeError> {
        let writer = GenericDatumWriter::builder(&entry.schema)
            .human_readable(false)
            .build()
            .map_err(|e| EncodeError::Schema { file: entry.embedded.file_name, source: Box::new(e) })?;
        Ok(Self { entry, writer, header: Vec::new() })
    }

    pub fn schema_version(&self) -> u32 {
        self.entry.embedded.version
    }

    /// Appends the framed message value of `item` to `out`.
    pub fn encode(&self, item: &impl WireRecord, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.extend_from_slice(&self.header);
        self.write_datum(item, out)
    }

    /// The bare Avro datum of `item`.
    pub fn encode_datum(&self, item: &impl WireRecord) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(256);
        self.write_datum(item, &mut out)?;
        Ok(out)
    }

    fn write_datum(&self, item: &impl WireRecord, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let view = item.avro_view(self.schema_version());
        self.writer.write_ser(out, &view).map_err(|e| EncodeError::Datum {
            event_id: item.event_id().to_owned(),
            file: self.entry.embedded.file_name,
            source: Box::new(e),
        })?;
        Ok(())
    }
}

/// Money as Avro `decimal` bytes.
struct AvroDecimal(Cents);

impl Serialize for AvroDecimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0.to_avro_bytes())
    }
}

impl WireRecord for PurchaseOrderItem {
    fn event_id(&self) -> &str {
        &self.event_id
    }

    fn avro_view(&self, version: u32) -> impl Serialize + '_ {
        AvroView { item: self, version }
    }
}

/// An item as the record of one schema version: the v2 fields are only written for v2 and later.
struct AvroView<'a> {
    item: &'a PurchaseOrderItem,
    version: u32,
}

impl Serialize for AvroView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let item = self.item;
        let money = |cents: Option<Cents>| cents.map(AvroDecimal);
        let mut record = serializer.serialize_struct("PurchaseOrderItem", 21)?;
        record.serialize_field("event_id", &item.event_id)?;
        record.serialize_field("order_id", &item.order_id)?;
        record.serialize_field("line_number", &item.line_number)?;
        record.serialize_field("product_id", &item.product_id)?;
        record.serialize_field("product_name", &item.product_name)?;
        record.serialize_field("quantity", &item.quantity)?;
        record.serialize_field("unit_price", &money(item.unit_price))?;
        record.serialize_field("total_amount", &money(item.total_amount))?;
        record.serialize_field("currency", &item.currency)?;
        record.serialize_field("customer_id", &item.customer_id)?;
        record.serialize_field("vendor_id", &item.vendor_id)?;
        record.serialize_field("warehouse_location", &item.warehouse_location)?;
        record.serialize_field("order_status", &item.order_status)?;
        record.serialize_field("payment_status", &item.payment_status)?;
        record.serialize_field("payment_method", &item.payment_method)?;
        record.serialize_field("event_time", &item.event_time)?;
        record.serialize_field("created_at", &item.created_at)?;
        record.serialize_field("order_date", &item.order_date)?;
        record.serialize_field("fiscal_quarter", &item.fiscal_quarter)?;
        if self.version >= 2 {
            record.serialize_field("discount_amount", &money(item.discount_amount))?;
            record.serialize_field("sales_channel", &item.sales_channel)?;
        }
        record.end()
    }
}

/// An item as one JSON object for `--output stdout`: money as decimal strings, times in RFC 3339.
pub fn to_json(item: &PurchaseOrderItem, version: u32) -> serde_json::Value {
    let money = |cents: Option<Cents>| cents.map(|c| c.to_string());
    let time = |micros: i64| chrono::DateTime::from_timestamp_micros(micros).map(|t| t.to_rfc3339());
    let date = chrono::NaiveDate::from_epoch_days(item.order_date).map(|d| d.to_string());
    let mut json = serde_json::json!({
        "event_id": item.event_id,
        "order_id": item.order_id,
        "line_number": item.line_number,
        "product_id": item.product_id,
        "product_name": item.product_name,
        "quantity": item.quantity,
        "unit_price": money(item.unit_price),
        "total_amount": money(item.total_amount),
        "currency": item.currency,
        "customer_id": item.customer_id,
        "vendor_id": item.vendor_id,
        "warehouse_location": item.warehouse_location,
        "order_status": item.order_status,
        "payment_status": item.payment_status,
        "payment_method": item.payment_method,
        "event_time": time(item.event_time),
        "created_at": time(item.created_at),
        "order_date": date,
        "fiscal_quarter": item.fiscal_quarter,
    });
    if version >= 2 {
        json["discount_amount"] = serde_json::json!(money(item.discount_amount));
        json["sales_channel"] = serde_json::json!(item.sales_channel);
    }
    json
}
