//! The wire contract: the Avro schemas of `schemas/`, embedded at build time (see `build.rs`),
//! parsed once, and looked up by version, file name or single-object fingerprint.

use std::sync::OnceLock;

use apache_avro::Schema;
use apache_avro::rabin::Rabin;

/// One schema file embedded from `schemas/`.
#[derive(Debug)]
pub struct EmbeddedSchema {
    /// File name in `schemas/`, e.g. `purchase_order_item.v2.avsc`.
    pub file_name: &'static str,
    /// Full name of the record, e.g. `io.medallion.purchasing.PurchaseOrderItem`.
    pub full_name: &'static str,
    /// The `N` of `.v<N>.avsc`.
    pub version: u32,
    /// The schema text.
    pub json: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/schemas.rs"));

/// A parsed schema with what consumers need to recognise it on the wire.
#[derive(Debug)]
pub struct CatalogEntry {
    pub embedded: &'static EmbeddedSchema,
    pub schema: Schema,
    /// CRC-64-AVRO (Rabin) fingerprint of the canonical form, in wire order (little-endian), as
    /// it follows `C3 01` in single-object encoding.
    pub fingerprint: [u8; 8],
}

/// All embedded schemas, parsed.
#[derive(Debug)]
pub struct SchemaCatalog {
    entries: Vec<CatalogEntry>,
}

impl SchemaCatalog {
    /// The catalogue of the schemas built into this binary. They were parsed and checked for
    /// mutual resolution by `build.rs`, so parsing them again cannot fail.
    pub fn embedded() -> &'static SchemaCatalog {
        static CATALOG: OnceLock<SchemaCatalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            let entries = EMBEDDED_SCHEMAS
                .iter()
                .map(|embedded| {
                    #[allow(clippy::expect_used)]
                    let schema = Schema::parse_str(embedded.json).expect("schemas are checked by build.rs");
                    let fingerprint = fingerprint_of(&schema);
                    CatalogEntry { embedded, schema, fingerprint }
                })
                .collect();
            SchemaCatalog { entries }
        })
    }

    pub fn entries(&self) -> &[CatalogEntry] {
        &self.entries
    }

    /// The versions of the record named `full_name` (none when no schema file declares it).
    pub fn record(&self, full_name: &str) -> RecordVersions<'_> {
        RecordVersions { entries: self.entries.iter().filter(|e| e.embedded.full_name == full_name).collect() }
    }

    /// The versions of the purchase-order line-item record.
    pub fn purchase_orders() -> RecordVersions<'static> {
        Self::embedded().record(PURCHASE_ORDER_ITEM)
    }

    /// The versions of the payment-transaction record.
    pub fn payments() -> RecordVersions<'static> {
        Self::embedded().record(PAYMENT_TRANSACTION)
    }

    /// A file name is unique across records.
    pub fn by_file_name(&self, file_name: &str) -> Option<&CatalogEntry> {
        self.entries.iter().find(|e| e.embedded.file_name == file_name)
    }

    /// A fingerprint is unique across records (build.rs embeds each schema once).
    pub fn by_fingerprint(&self, fingerprint: &[u8; 8]) -> Option<&CatalogEntry> {
        self.entries.iter().find(|e| &e.fingerprint == fingerprint)
    }
}

pub use crate::config::{PAYMENT_TRANSACTION, PURCHASE_ORDER_ITEM};

/// The embedded versions of one record: versions are numbered per record, so one record's
/// version 2 is not another's.
#[derive(Debug, Clone)]
pub struct RecordVersions<'a> {
    entries: Vec<&'a CatalogEntry>,
}

impl<'a> RecordVersions<'a> {
    /// Oldest first.
    pub fn entries(&self) -> &[&'a CatalogEntry] {
        &self.entries
    }

    pub fn by_version(&self, version: u32) -> Option<&'a CatalogEntry> {
        self.entries.iter().copied().find(|e| e.embedded.version == version)
    }

    /// The newest version: the schema readers resolve every writer schema of the record to.
    pub fn latest(&self) -> Option<&'a CatalogEntry> {
        self.entries.iter().copied().max_by_key(|e| e.embedded.version)
    }
}

/// CRC-64-AVRO fingerprint bytes of a schema's Parsing Canonical Form, in single-object wire
/// order (little-endian).
pub fn fingerprint_of(schema: &Schema) -> [u8; 8] {
    let canonical = parsing_canonical_form(schema);
    // The spec's canonical form has no logical types, so apache-avro reproduces it unchanged and
    // its Rabin digest is the standard fingerprint.
    let digest = match Schema::parse_str(&canonical) {
        Ok(stripped) => stripped.fingerprint::<Rabin>(),
        Err(_) => schema.fingerprint::<Rabin>(),
    };
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest.bytes[..8]);
    bytes
}

/// Attributes the Avro specification keeps in the Parsing Canonical Form, in its order.
const CANONICAL_ATTRIBUTES: [&str; 7] = ["name", "type", "fields", "symbols", "items", "values", "size"];

/// The Parsing Canonical Form as the Avro specification defines it. apache-avro 0.22's own
/// `canonical_form` keeps `precision` and `scale` of decimals, so its fingerprints differ from
/// Java's and fastavro's; this strips every attribute the spec does not keep.
pub fn parsing_canonical_form(schema: &Schema) -> String {
    let resolved = serde_json::from_str(&schema.canonical_form()).unwrap_or(serde_json::Value::Null);
    let mut out = String::new();
    write_canonical(&resolved, &mut out);
    out
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let kept: Vec<(&str, &Value)> = CANONICAL_ATTRIBUTES.iter().filter_map(|key| map.get(*key).map(|v| (*key, v))).collect();
            // {"type": "bytes"} left after stripping is the primitive "bytes".
            if let [("type", inner @ Value::String(_))] = kept.as_slice() {
                write_canonical(inner, out);
                return;
            }
            out.push('{');
            for (i, (key, value)) in kept.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String((*key).to_owned()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::reader::datum::GenericDatumReader;
    use apache_avro::types::Value;

    #[test]
    fn fingerprints_match_the_avro_specification() {
        // Computed independently with fastavro 1.13 (fingerprint of to_parsing_canonical_form,
        // CRC-64-AVRO), which prints the little-endian header bytes.
        let catalog = SchemaCatalog::purchase_orders();
        let hex = |bytes: [u8; 8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(hex(catalog.by_version(2).unwrap().fingerprint), "bb099072fc2307c0");
        let canonical = parsing_canonical_form(&catalog.by_version(2).unwrap().schema);
        assert!(canonical.contains(r#"{"name":"unit_price","type":["null","bytes"]}"#), "{canonical}");
        assert!(canonical.contains(r#"{"name":"event_time","type":"long"}"#), "{canonical}");
    }

    #[test]
    fn both_versions_are_embedded_with_distinct_fingerprints() {
        let catalog = SchemaCatalog::purchase_orders();
        let v1 = catalog.by_version(1).expect("v1");
        let v2 = catalog.by_version(2).expect("v2");
        assert_ne!(v1.fingerprint, v2.fingerprint);
        assert_eq!(SchemaCatalog::embedded().by_fingerprint(&v2.fingerprint).map(|e| e.embedded.version), Some(2));
        assert_eq!(catalog.latest().map(|e| e.embedded.version), Some(2));
        assert_eq!(v1.embedded.full_name, "io.medallion.purchasing.PurchaseOrderItem");
    }

    #[test]
    fn records_number_their_versions_apart() {
        let payments = SchemaCatalog::payments();
        assert_eq!(payments.entries().len(), 2);
        let v2 = payments.latest().expect("payment schemas");
        assert_eq!((v2.embedded.file_name, v2.embedded.version), ("payment_transaction.v2.avsc", 2));
        assert_ne!(v2.fingerprint, SchemaCatalog::purchase_orders().by_version(2).expect("v2").fingerprint);
        assert!(SchemaCatalog::embedded().record("io.medallion.Unknown").latest().is_none());
    }

    fn record_field<'a>(value: &'a Value, name: &str) -> &'a Value {
        match value {
            Value::Record(fields) => &fields.iter().find(|(n, _)| n == name).expect("field").1,
            other => panic!("not a record: {other:?}"),
        }
    }

    fn sample_datum(version: u32) -> Vec<u8> {
        let item = crate::generate::sample_item();
        let catalog = SchemaCatalog::purchase_orders();
        crate::wire::encode::RecordEncoder::datum_only(catalog.by_version(version).expect("schema"))
            .expect("writer")
            .encode_datum(&item)
            .expect("encode")
    }

    #[test]
    fn v1_data_reads_with_the_v2_schema() {
        let catalog = SchemaCatalog::purchase_orders();
        let (v1, v2) = (catalog.by_version(1).unwrap(), catalog.by_version(2).unwrap());
        let datum = sample_datum(1);
        let reader = GenericDatumReader::builder(&v1.schema).reader_schema(&v2.schema).build().unwrap();
        let value = reader.read_value(&mut datum.as_slice()).expect("v1 → v2 resolves");
        assert_eq!(record_field(&value, "order_id"), &Value::Union(1, Box::new(Value::String("ORD-000042".into()))));
        assert_eq!(record_field(&value, "discount_amount"), &Value::Union(0, Box::new(Value::Null)));
        assert_eq!(record_field(&value, "sales_channel"), &Value::Union(0, Box::new(Value::Null)));
    }

    #[test]
    fn v2_data_reads_with_the_v1_schema() {
        let catalog = SchemaCatalog::purchase_orders();
        let (v1, v2) = (catalog.by_version(1).unwrap(), catalog.by_version(2).unwrap());
        let datum = sample_datum(2);
        let reader = GenericDatumReader::builder(&v2.schema).reader_schema(&v1.schema).build().unwrap();
        let value = reader.read_value(&mut datum.as_slice()).expect("v2 → v1 resolves");
        let Value::Record(fields) = &value else { panic!("not a record") };
        assert_eq!(fields.len(), 19, "v1 reader drops the v2 fields");
        assert_eq!(record_field(&value, "quantity"), &Value::Union(1, Box::new(Value::Int(3))));
    }
}
