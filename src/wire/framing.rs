//! How an Avro datum is framed in a Kafka message value, and how the frame names its writer schema.
//!
//! - `confluent`: `00` + schema id (u32 big-endian) + datum; ids come from a schema registry.
//! - `single-object`: `C3 01` + CRC-64-AVRO fingerprint (8 bytes little-endian) + datum.

use std::fmt;

const CONFLUENT_MAGIC: u8 = 0x00;
const SINGLE_OBJECT_MAGIC: [u8; 2] = [0xC3, 0x01];
const CONFLUENT_HEADER_LEN: usize = 5;
const SINGLE_OBJECT_HEADER_LEN: usize = 10;

pub use crate::config::Framing;

/// What a frame says about its writer schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaRef {
    /// A schema-registry id (Confluent framing).
    RegistryId(u32),
    /// A CRC-64-AVRO fingerprint in wire order (single-object framing).
    Fingerprint([u8; 8]),
}

impl SchemaRef {
    pub fn framing(&self) -> Framing {
        match self {
            Self::RegistryId(_) => Framing::Confluent,
            Self::Fingerprint(_) => Framing::SingleObject,
        }
    }
}

impl fmt::Display for SchemaRef {
    /// `id:<n>` or `fp:<16 hex digits, wire order>`: the form stored in bronze's `schema_ref`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RegistryId(id) => write!(f, "id:{id}"),
            Self::Fingerprint(bytes) => {
                f.write_str("fp:")?;
                bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

/// Why a message value is not a framed Avro datum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("empty message value")]
    Empty,
    #[error("unknown magic byte 0x{0:02x} (expected 0x00 for confluent or 0xc3 0x01 for single-object)")]
    UnknownMagic(u8),
    #[error("{framing} header truncated: {len} bytes, the header alone needs {needed}")]
    Truncated { framing: Framing, len: usize, needed: usize },
}

/// Appends the frame header naming `schema_ref` to `out`.
pub fn write_header(schema_ref: SchemaRef, out: &mut Vec<u8>) {
    match schema_ref {
        SchemaRef::RegistryId(id) => {
            out.push(CONFLUENT_MAGIC);
            out.extend_from_slice(&id.to_be_bytes());
        }
        SchemaRef::Fingerprint(fingerprint) => {
            out.extend_from_slice(&SINGLE_OBJECT_MAGIC);
            out.extend_from_slice(&fingerprint);
        }
    }
}

/// Splits a message value into the schema it names and the Avro datum after the header.
pub fn parse(value: &[u8]) -> Result<(SchemaRef, &[u8]), FramingError> {
    match value {
        [] => Err(FramingError::Empty),
        [CONFLUENT_MAGIC, rest @ ..] => {
            let Some((id, datum)) = rest.split_first_chunk::<4>() else {
                return Err(FramingError::Truncated { framing: Framing::Confluent, len: value.len(), needed: CONFLUENT_HEADER_LEN });
            };
            Ok((SchemaRef::RegistryId(u32::from_be_bytes(*id)), datum))
        }
        [0xC3, 0x01, rest @ ..] => {
            let Some((fingerprint, datum)) = rest.split_first_chunk::<8>() else {
                return Err(FramingError::Truncated { framing: Framing::SingleObject, len: value.len(), needed: SINGLE_OBJECT_HEADER_LEN });
            };
            Ok((SchemaRef::Fingerprint(*fingerprint), datum))
        }
        [first, ..] => Err(FramingError::UnknownMagic(*first)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        for schema_ref in [SchemaRef::RegistryId(258), SchemaRef::Fingerprint([1, 2, 3, 4, 5, 6, 7, 8])] {
            let mut value = Vec::new();
            write_header(schema_ref, &mut value);
            value.extend_from_slice(b"datum");
            assert_eq!(parse(&value), Ok((schema_ref, &b"datum"[..])));
        }
    }

    #[test]
    fn confluent_id_is_big_endian() {
        let mut value = Vec::new();
        write_header(SchemaRef::RegistryId(2), &mut value);
        assert_eq!(value, [0, 0, 0, 0, 2]);
    }

    #[test]
    fn bad_frames_say_what_is_wrong() {
        assert_eq!(parse(&[]), Err(FramingError::Empty));
        assert_eq!(parse(b"{\"json\":1}"), Err(FramingError::UnknownMagic(b'{')));
        assert_eq!(parse(&[0, 0, 1]), Err(FramingError::Truncated { framing: Framing::Confluent, len: 3, needed: 5 }));
        assert_eq!(parse(&[0xC3, 0x01, 9]), Err(FramingError::Truncated { framing: Framing::SingleObject, len: 3, needed: 10 }));
    }

    #[test]
    fn schema_ref_prints_for_bronze() {
        assert_eq!(SchemaRef::RegistryId(7).to_string(), "id:7");
        assert_eq!(SchemaRef::Fingerprint([0xab, 0, 0, 0, 0, 0, 0, 1]).to_string(), "fp:ab00000000000001");
    }
}
