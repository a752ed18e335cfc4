//! Bronze rows: every Kafka message with its coordinates and raw bytes, the decoded business
//! columns (null when undecodable) and why decoding failed. A pure builder: no broker, no storage.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, Date32Array, Int32Array, Int32Builder, Int64Array, Int64Builder, MapBuilder, MapFieldNames, StringArray, StringBuilder,
    TimestampMicrosecondArray, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Timelike, Utc};

use crate::wire::decode::{Decoder, finish_bytes, finish_primitive};
use crate::wire::framing::SchemaRef as WriterSchemaRef;

/// The names of bronze's own columns: owned here, used by every layer that reads bronze.
pub mod column {
    pub const TOPIC: &str = "kafka_topic";
    pub const PARTITION: &str = "kafka_partition";
    pub const OFFSET: &str = "kafka_offset";
    pub const TIMESTAMP: &str = "kafka_timestamp";
    pub const KEY: &str = "kafka_key";
    pub const HEADERS: &str = "kafka_headers";
    pub const RAW_PAYLOAD: &str = "raw_payload";
    pub const PAYLOAD_SIZE: &str = "payload_size_bytes";
    pub const SCHEMA_REF: &str = "schema_ref";
    /// Why the message did not decode (null when it did).
    pub const DECODE_ERROR: &str = "decode_error";
    /// When the message was ingested.
    pub const INGESTION_TIMESTAMP: &str = "ingestion_timestamp";
    /// The consumer group whose worker wrote the row.
    pub const CONSUMER_GROUP: &str = "consumer_group";
    /// The host (the pod, in Kubernetes) of the worker that wrote the row.
    pub const WORKER_HOST: &str = "worker_host";
    /// The process id of the worker that wrote the row.
    pub const WORKER_PID: &str = "worker_pid";
    /// The hour (UTC, 0-23) the message was ingested, beside its day.
    pub const INGESTION_HOUR: &str = "ingestion_hour";
    /// The day the message was ingested: the table's partition column.
    pub const INGESTION_DATE: &str = "ingestion_date";
}

/// Columns bronze adds before the business columns.
pub const KAFKA_COLUMNS: [&str; 10] = [
    column::TOPIC,
    column::PARTITION,
    column::OFFSET,
    column::TIMESTAMP,
    column::KEY,
    column::HEADERS,
    column::RAW_PAYLOAD,
    column::PAYLOAD_SIZE,
    column::SCHEMA_REF,
    column::DECODE_ERROR,
];
/// Columns bronze adds after the business columns: when, and by which worker, a row was written.
pub const INGESTION_COLUMNS: [&str; 6] =
    [column::INGESTION_TIMESTAMP, column::CONSUMER_GROUP, column::WORKER_HOST, column::WORKER_PID, column::INGESTION_HOUR, column::INGESTION_DATE];
/// The partition column of the bronze table.
pub const PARTITION_COLUMN: &str = column::INGESTION_DATE;

/// Why a bronze batch cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("the reader schema has a field `{0}`, which bronze uses for Kafka metadata")]
    ColumnClash(String),
    #[error("cannot assemble the bronze batch: {0}")]
    Arrow(#[from] ArrowError),
}

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from("UTC")))
}

/// Field names of the headers map as Delta (and Spark) name them.
fn header_field_names() -> MapFieldNames {
    MapFieldNames { entry: "key_value".to_owned(), key: "key".to_owned(), value: "value".to_owned() }
}

fn headers_type() -> DataType {
    let names = header_field_names();
    let entries = Field::new(
        names.entry,
        DataType::Struct(vec![Field::new(names.key, DataType::Utf8, false), Field::new(names.value, DataType::Binary, true)].into()),
        false,
    );
    DataType::Map(Arc::new(entries), false)
}

/// The bronze table's Arrow schema for these business columns.
pub fn bronze_schema(business: &[Field]) -> Result<SchemaRef, BatchError> {
    let reserved = |name: &str| KAFKA_COLUMNS.contains(&name) || INGESTION_COLUMNS.contains(&name) || name.starts_with("ingestion_");
    if let Some(clash) = business.iter().find(|f| reserved(f.name())) {
        return Err(BatchError::ColumnClash(clash.name().clone()));
    }
    let mut fields = vec![
        Field::new(column::TOPIC, DataType::Utf8, false),
        Field::new(column::PARTITION, DataType::Int32, false),
        Field::new(column::OFFSET, DataType::Int64, false),
        Field::new(column::TIMESTAMP, utc_micros(), true),
        Field::new(column::KEY, DataType::Binary, true),
        Field::new(column::HEADERS, headers_type(), true),
        Field::new(column::RAW_PAYLOAD, DataType::Binary, false),
        Field::new(column::PAYLOAD_SIZE, DataType::Int32, false),
        Field::new(column::SCHEMA_REF, DataType::Utf8, true),
        Field::new(column::DECODE_ERROR, DataType::Utf8, true),
    ];
    fields.extend(business.iter().cloned());
    fields.push(Field::new(column::INGESTION_TIMESTAMP, utc_micros(), false));
    // Nullable: tables written before bronze recorded them gain them empty (see table::evolve).
    fields.push(Field::new(column::CONSUMER_GROUP, DataType::Utf8, true));
    fields.push(Field::new(column::WORKER_HOST, DataType::Utf8, true));
    fields.push(Field::new(column::WORKER_PID, DataType::Int64, true));
    fields.push(Field::new(column::INGESTION_HOUR, DataType::Int32, true));
    fields.push(Field::new(PARTITION_COLUMN, DataType::Date32, false));
    Ok(Arc::new(Schema::new(fields)))
}

/// One consumed message, borrowed from the consumer.
#[derive(Debug, Clone, Copy)]
pub struct KafkaMessage<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// Kafka timestamp in milliseconds, when the message has one.
    pub timestamp_ms: Option<i64>,
    pub key: Option<&'a [u8]>,
    pub headers: &'a [(&'a str, Option<&'a [u8]>)],
    /// `None` for a tombstone.
    pub payload: Option<&'a [u8]>,
}

/// Which worker writes the rows: the same for every row of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lineage {
    pub consumer_group: Option<String>,
    pub worker_host: Option<String>,
    pub worker_pid: Option<u32>,
}

impl Lineage {
    /// This process, consuming as `consumer_group`.
    pub fn of_this_process(consumer_group: &str) -> Self {
        Self { consumer_group: Some(consumer_group.to_owned()), worker_host: host_name(), worker_pid: Some(std::process::id()) }
    }
}

/// The machine's host name (a pod's name in Kubernetes), as the kernel or the shell knows it.
fn host_name() -> Option<String> {
    let from_kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|name| name.trim().to_owned());
    from_kernel.or_else(|| std::env::var("HOSTNAME").ok()).or_else(|| std::env::var("COMPUTERNAME").ok()).filter(|name| !name.is_empty())
}

/// Counts of what went into a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    pub messages: u64,
    pub decoded: u64,
    pub undecodable: u64,
    pub payload_bytes: u64,
}

/// Accumulates messages into bronze rows.
pub struct BronzeBatchBuilder {
    schema: SchemaRef,
    decoder: Decoder,
    topic: StringBuilder,
    partition: Int32Builder,
    offset: Int64Builder,
    timestamp: TimestampMicrosecondBuilder,
    key: BinaryBuilder,
    headers: MapBuilder<StringBuilder, BinaryBuilder>,
    raw_payload: BinaryBuilder,
    payload_size: Int32Builder,
    schema_ref: StringBuilder,
    decode_error: StringBuilder,
    lineage: Lineage,
    counts: BatchCounts,
    /// The last writer schema seen, and its text (see [`schema_ref_text`]).
    last_schema_ref: Option<(WriterSchemaRef, String)>,
}

impl BronzeBatchBuilder {
    pub fn new(decoder: Decoder) -> Result<Self, BatchError> {
        let schema = bronze_schema(&decoder.arrow_fields())?;
        Ok(Self {
            schema,
            decoder,
            topic: StringBuilder::new(),
            partition: Int32Builder::new(),
            offset: Int64Builder::new(),
            timestamp: TimestampMicrosecondBuilder::new(),
            key: BinaryBuilder::new(),
            headers: MapBuilder::new(Some(header_field_names()), StringBuilder::new(), BinaryBuilder::new()),
            raw_payload: BinaryBuilder::new(),
            payload_size: Int32Builder::new(),
            schema_ref: StringBuilder::new(),
            decode_error: StringBuilder::new(),
            lineage: Lineage::default(),
            counts: BatchCounts::default(),
            last_schema_ref: None,
        })
    }

    /// Stamps every row with `lineage` (no lineage: null columns).
    pub fn with_lineage(mut self, lineage: Lineage) -> Self {
        self.lineage = lineage;
        self
    }

    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    pub fn decoder_mut(&mut self) -> &mut Decoder {
        &mut self.decoder
    }

    pub fn counts(&self) -> BatchCounts {
        self.counts
    }

    pub fn is_empty(&self) -> bool {
        self.counts.messages == 0
    }

    /// Adds one message as one row; an undecodable one keeps its bytes and gets its error.
    /// Whether it decoded.
    pub fn push(&mut self, message: &KafkaMessage<'_>) -> bool {
        let error = match message.payload {
            Some(value) => {
                let decoded = self.decoder.push(value);
                match decoded.schema_ref {
                    Some(schema_ref) => self.schema_ref.append_value(schema_ref_text(&mut self.last_schema_ref, schema_ref)),
                    None => self.schema_ref.append_null(),
                }
                decoded.error.map(|e| e.to_string())
            }
            None => {
                self.decoder.push(&[]);
                self.schema_ref.append_null();
                Some("message has no value (tombstone)".to_owned())
            }
        };
        let decoded = error.is_none();
        self.append(message, error);
        decoded
    }

    /// Adds one message as an undecoded row with `error` (its bytes and coordinates kept): a
    /// message bronze must keep without decoding it (a record no stream of the topic claims).
    pub fn push_undecoded(&mut self, message: &KafkaMessage<'_>, schema_ref: Option<String>, error: String) {
        self.decoder.push(&[]);
        self.schema_ref.append_option(schema_ref);
        self.append(message, Some(error));
    }

    /// Appends everything but the decoded columns and the schema reference (appended already).
    fn append(&mut self, message: &KafkaMessage<'_>, error: Option<String>) {
        let payload = message.payload.unwrap_or_default();
        self.topic.append_value(message.topic);
        self.partition.append_value(message.partition);
        self.offset.append_value(message.offset);
        self.timestamp.append_option(message.timestamp_ms.map(|ms| ms.saturating_mul(1000)));
        self.key.append_option(message.key);
        for (name, value) in message.headers {
            self.headers.keys().append_value(name);
            self.headers.values().append_option(*value);
        }
        // Appending an entry list cannot fail for a map without a null key.
        let _ = self.headers.append(true);
        self.raw_payload.append_value(payload);
        self.payload_size.append_value(i32::try_from(payload.len()).unwrap_or(i32::MAX));
        self.counts.messages += 1;
        self.counts.payload_bytes += payload.len() as u64;
        match error {
            Some(error) => {
                self.decode_error.append_value(error);
                self.counts.undecodable += 1;
            }
            None => {
                self.decode_error.append_null();
                self.counts.decoded += 1;
            }
        }
    }

    /// The rows pushed so far as one batch, stamped with `ingested_at`; the builder starts over.
    pub fn finish(&mut self, ingested_at: DateTime<Utc>) -> Result<RecordBatch, BatchError> {
        let rows = self.counts.messages as usize;
        // Each builder starts over with room for a batch like this one (see `finish_primitive`).
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(finish_bytes(&mut self.topic)),
            Arc::new(finish_primitive(&mut self.partition)),
            Arc::new(finish_primitive(&mut self.offset)),
            Arc::new(finish_primitive(&mut self.timestamp).with_timezone("UTC")),
            Arc::new(finish_bytes(&mut self.key)),
            Arc::new(self.headers.finish()),
            Arc::new(finish_bytes(&mut self.raw_payload)),
            Arc::new(finish_primitive(&mut self.payload_size)),
            Arc::new(finish_bytes(&mut self.schema_ref)),
            Arc::new(finish_bytes(&mut self.decode_error)),
        ];
        columns.extend(self.decoder.finish()?);
        let micros = ingested_at.timestamp_micros();
        columns.push(Arc::new(TimestampMicrosecondArray::from(vec![micros; rows]).with_timezone("UTC")));
        let lineage = &self.lineage;
        columns.push(Arc::new(StringArray::from(vec![lineage.consumer_group.as_deref(); rows])));
        columns.push(Arc::new(StringArray::from(vec![lineage.worker_host.as_deref(); rows])));
        columns.push(Arc::new(Int64Array::from(vec![lineage.worker_pid.map(i64::from); rows])));
        columns.push(Arc::new(Int32Array::from(vec![ingested_at.hour() as i32; rows])));
        columns.push(Arc::new(Date32Array::from(vec![ingested_at.date_naive().to_epoch_days(); rows])));
        self.counts = BatchCounts::default();
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

/// The text of `schema_ref`, formatted once per run of messages with the same writer schema
/// (formatting a fingerprint as hex for every message was a tenth of the decoding time) and
/// appended without a copy of its own.
fn schema_ref_text(last: &mut Option<(WriterSchemaRef, String)>, schema_ref: WriterSchemaRef) -> &str {
    if last.as_ref().is_none_or(|(seen, _)| *seen != schema_ref) {
        *last = Some((schema_ref, schema_ref.to_string()));
    }
    last.as_ref().map_or("", |(_, text)| text.as_str())
}

/// Parquet settings for bronze files with `schema`'s columns, chosen for the cost of writing
/// them (each measured against the others in `bench/bronze_commit.rs`), since bronze writes
/// every message and is read back only by silver (never its payloads) and by people looking a
/// message up:
/// - no min/max statistics for text and binary columns: comparing every value was a tenth of
///   the encoding, and the lookups that matter (partition and offset, times, amounts) are on
///   numeric columns, which keep theirs;
/// - dictionaries give way to plain encoding once 64 KiB of distinct values are seen (parquet's
///   default, 1 MiB, is never reached in a 50,000-row file, so unique ids were interned in full);
///   the raw payloads never get one;
/// - 64-bit integers and timestamps (offsets, event and ingestion times) as deltas
///   (DELTA_BINARY_PACKED), uncompressed: they rise nearly in step from row to row, so their
///   deltas are small, where a dictionary filled up with distinct values before falling back to
///   plain values that snappy then had to compress. A 50,000-row file 11% smaller, 5% fewer
///   instructions to encode and 8% fewer to read back (callgrind, `bench/bronze_commit.rs`);
/// - the raw payloads in zstd (level 1), the rest in snappy: zstd encodes the payloads as fast
///   as snappy did and makes bronze files a quarter smaller (zstd everywhere: 42% smaller, 12%
///   slower to write). Payloads are a third of the encoding's instructions even so; LZ4 costs
///   about as many and stores them 1.8 times as large.
pub fn writer_properties(schema: &Schema) -> parquet::file::properties::WriterProperties {
    use parquet::basic::{Compression, Encoding, ZstdLevel};
    use parquet::file::properties::EnabledStatistics;
    use parquet::schema::types::ColumnPath;
    let payloads = ColumnPath::from(column::RAW_PAYLOAD);
    let mut builder = crate::table::writer_properties_builder()
        .set_dictionary_page_size_limit(64 * 1024)
        .set_column_dictionary_enabled(payloads.clone(), false)
        .set_column_compression(payloads, Compression::ZSTD(ZstdLevel::default()));
    for field in schema.fields().iter() {
        let path = ColumnPath::from(field.name().as_str());
        builder = match field.data_type() {
            DataType::Utf8 | DataType::Binary => builder.set_column_statistics_enabled(path, EnabledStatistics::None),
            DataType::Int64 | DataType::Timestamp(..) => builder
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path.clone(), Encoding::DELTA_BINARY_PACKED)
                .set_column_compression(path, Compression::UNCOMPRESSED),
            _ => builder,
        };
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;

    use super::*;
    use crate::generate::sample_item;
    use crate::wire::decode::WriterSchemas;
    use crate::wire::encode::RecordEncoder;
    use crate::wire::framing::{Framing, SchemaRef as FrameRef};
    use crate::wire::schema::SchemaCatalog;

    fn builder() -> BronzeBatchBuilder {
        let catalog = SchemaCatalog::purchase_orders();
        let mut writers = WriterSchemas::default();
        writers.insert_id(2, catalog.by_version(2).unwrap().schema.clone());
        let decoder = Decoder::new(&catalog.latest().unwrap().schema, writers, &[Framing::Confluent], 8).unwrap();
        BronzeBatchBuilder::new(decoder).unwrap()
    }

    #[test]
    fn good_and_bad_messages_both_become_rows() {
        let mut builder = builder();
        let mut good = Vec::new();
        let entry = SchemaCatalog::purchase_orders().by_version(2).unwrap();
        RecordEncoder::new(entry, FrameRef::RegistryId(2)).unwrap().encode(&sample_item(), &mut good).unwrap();
        let headers = [("trace", Some(&b"abc"[..]))];
        let message = |offset, payload| KafkaMessage {
            topic: "orders",
            partition: 3,
            offset,
            timestamp_ms: Some(1_700_000_000_000),
            key: Some(b"ORD-000042"),
            headers: &headers,
            payload,
        };
        builder.push(&message(10, Some(&good)));
        builder.push(&message(11, Some(b"garbage")));
        builder.push(&message(12, None));
        assert_eq!(builder.counts(), BatchCounts { messages: 3, decoded: 1, undecodable: 2, payload_bytes: good.len() as u64 + 7 });
        let batch = builder.finish("2026-11-22T10:00:00Z".parse().unwrap()).unwrap();
        assert_eq!(batch.num_rows(), 3);
        let column = |name: &str| batch.column_by_name(name).unwrap().clone();
        assert_eq!(column("kafka_offset").as_primitive::<Int64Type>().values().to_vec(), vec![10, 11, 12]);
        let errors = column("decode_error");
        let errors = errors.as_string::<i32>();
        assert!(errors.is_null(0));
        assert!(errors.value(1).contains("unknown magic byte"), "{}", errors.value(1));
        assert!(errors.value(2).contains("tombstone"));
        assert_eq!(column("raw_payload").as_binary::<i32>().value(1), b"garbage");
        assert_eq!(column("schema_ref").as_string::<i32>().value(0), "id:2");
        let order_ids = column("order_id");
        assert_eq!(order_ids.as_string::<i32>().value(0), "ORD-000042");
        assert!(order_ids.is_null(1));
        assert_eq!(column("ingestion_date").len(), 3);
        assert_eq!(column("ingestion_hour").as_primitive::<arrow::datatypes::Int32Type>().values().to_vec(), vec![10, 10, 10]);
        assert_eq!(column("consumer_group").null_count(), 3, "no lineage given");
        assert!(builder.is_empty(), "finish starts over");
    }

    #[test]
    fn every_row_names_the_worker_that_wrote_it() {
        let mut builder = builder().with_lineage(Lineage::of_this_process("medallion-bronze.pos"));
        let message = KafkaMessage { topic: "t", partition: 0, offset: 0, timestamp_ms: None, key: None, headers: &[], payload: None };
        builder.push(&message);
        builder.push(&KafkaMessage { offset: 1, ..message });
        let batch = builder.finish("2026-11-22T23:59:59Z".parse().unwrap()).unwrap();
        let text = |name: &str| batch.column_by_name(name).unwrap().as_string::<i32>().iter().map(|v| v.map(str::to_owned)).collect::<Vec<_>>();
        assert_eq!(text("consumer_group"), vec![Some("medallion-bronze.pos".to_owned()); 2]);
        let hosts = text("worker_host");
        assert!(hosts.iter().all(|host| host.as_ref().is_some_and(|h| !h.is_empty())), "{hosts:?}");
        let pids = batch.column_by_name("worker_pid").unwrap().as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(pids, vec![i64::from(std::process::id()); 2]);
        assert_eq!(batch.column_by_name("ingestion_hour").unwrap().as_primitive::<arrow::datatypes::Int32Type>().value(1), 23);
        let names: Vec<&str> = batch.schema_ref().fields().iter().rev().take(2).map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["ingestion_date", "ingestion_hour"], "the hour sits next to the day");
    }

    #[test]
    fn file_settings_follow_the_column_types() {
        use parquet::basic::Compression;
        use parquet::file::properties::EnabledStatistics;
        use parquet::schema::types::ColumnPath;
        let properties = writer_properties(&builder().schema());
        let path = |name: &str| ColumnPath::from(name);
        assert!(matches!(properties.compression(&path(column::RAW_PAYLOAD)), Compression::ZSTD(_)));
        assert!(!properties.dictionary_enabled(&path(column::RAW_PAYLOAD)));
        assert_eq!(properties.compression(&path("order_id")), Compression::SNAPPY);
        assert!(properties.dictionary_enabled(&path("order_status")));
        assert_eq!(properties.dictionary_page_size_limit(), 64 * 1024);
        for text in [column::KEY, "order_id", column::DECODE_ERROR] {
            assert_eq!(properties.statistics_enabled(&path(text)), EnabledStatistics::None, "{text}");
        }
        for number in [column::OFFSET, column::TIMESTAMP, "unit_price", "event_time"] {
            assert_eq!(properties.statistics_enabled(&path(number)), EnabledStatistics::Page, "{number}");
        }
        for long in [column::OFFSET, column::TIMESTAMP, column::INGESTION_TIMESTAMP, "event_time"] {
            assert!(!properties.dictionary_enabled(&path(long)), "{long}");
            assert_eq!(properties.encoding(&path(long)), Some(parquet::basic::Encoding::DELTA_BINARY_PACKED), "{long}");
            assert_eq!(properties.compression(&path(long)), Compression::UNCOMPRESSED, "{long}");
        }
        assert!(properties.dictionary_enabled(&path(column::PARTITION)), "32-bit ints keep their dictionaries");
    }

    #[test]
    fn business_columns_must_not_shadow_kafka_columns() {
        let clash = [Field::new("kafka_offset", DataType::Int64, true)];
        assert!(matches!(bronze_schema(&clash), Err(BatchError::ColumnClash(name)) if name == "kafka_offset"));
    }
}
