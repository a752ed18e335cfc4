//! Decode plans: how to read one writer schema's datums into the columns of one reader schema.
//!
//! Avro schema resolution (field matching by name, type promotion, unions, defaults for missing
//! fields, skipping of writer-only fields) is decided once per writer schema, when the plan is
//! built, so decoding a record is a straight walk over precomputed steps.

use std::sync::Arc;

use apache_avro::Schema;
use apache_avro::schema::{DecimalSchema, InnerDecimalSchema, RecordField, UnionSchema};
use arrow::datatypes::{DataType, Field, TimeUnit};

/// Why a writer schema cannot be read into the reader columns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the reader schema must be a record, not {0}")]
    ReaderNotRecord(String),
    #[error("the writer schema is {writer}, not the record {reader}")]
    RecordMismatch { writer: String, reader: String },
    #[error("reader field `{field}` has type {kind}, which medallion cannot store as a column")]
    UnsupportedReaderType { field: String, kind: String },
    #[error("reader field `{field}` is not in the writer schema and has no default")]
    MissingWithoutDefault { field: String },
    #[error("writer field `{field}` ({writer}) does not resolve to the reader's {reader}")]
    Incompatible { field: String, writer: String, reader: String },
}

/// The storable type of a reader column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnKind {
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Binary,
    String,
    Decimal {
        precision: u8,
        scale: i8,
    },
    Date,
    /// Microseconds since the epoch, UTC (millisecond writers are scaled up).
    TimestampMicros,
}

impl ColumnKind {
    pub fn data_type(&self) -> DataType {
        match self {
            Self::Boolean => DataType::Boolean,
            Self::Int => DataType::Int32,
            Self::Long => DataType::Int64,
            Self::Float => DataType::Float32,
            Self::Double => DataType::Float64,
            Self::Binary => DataType::Binary,
            Self::String => DataType::Utf8,
            Self::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale),
            Self::Date => DataType::Date32,
            Self::TimestampMicros => DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from("UTC"))),
        }
    }
}

/// One column of the reader schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ReaderColumn {
    pub name: String,
    pub kind: ColumnKind,
    /// The reader accepts null (a union with null).
    pub nullable: bool,
    /// Value when the writer lacks the field: `None` means null.
    pub default: Option<DefaultValue>,
}

/// A reader field's default, owned by the plan.
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    Null,
    Boolean(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    String(String),
}

impl DefaultValue {
    pub fn as_cell(&self) -> Cell<'_> {
        match self {
            Self::Null => Cell::Null,
            Self::Boolean(b) => Cell::Boolean(*b),
            Self::Int(i) => Cell::Int(*i),
            Self::Long(l) => Cell::Long(*l),
            Self::Double(d) => Cell::Double(*d),
            Self::String(s) => Cell::String(s.as_bytes()),
        }
    }
}

/// The columns of a flat reader record.
#[derive(Debug, Clone, PartialEq)]
pub struct ReaderColumns {
    pub record_name: String,
    pub columns: Vec<ReaderColumn>,
}

/// A decoded value on its way into a column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Null,
    Boolean(bool),
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    Binary(&'a [u8]),
    /// Text: bytes already checked to be UTF-8.
    String(&'a [u8]),
    Decimal(i128),
}

/// How to read one writer value and what it becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    Null,
    Boolean,
    IntAsInt,
    IntAsLong,
    IntAsFloat,
    IntAsDouble,
    LongAsLong,
    LongAsFloat,
    LongAsDouble,
    FloatAsFloat,
    FloatAsDouble,
    DoubleAsDouble,
    BytesAsBinary,
    BytesAsString,
    FixedAsBinary(usize),
    /// Avro `decimal` on bytes, into a column of this precision.
    DecimalBytes {
        precision: u8,
        /// 10^precision, the first unscaled value with too many digits: worked out once here,
        /// not for every value.
        bound: u128,
    },
    /// Avro `decimal` on a fixed of `size` bytes, into a column of this precision.
    DecimalFixed {
        size: usize,
        precision: u8,
        /// As in `DecimalBytes`.
        bound: u128,
    },
    EnumAsString(Arc<[String]>),
    /// `timestamp-millis` into microseconds.
    MillisAsMicros,
    /// A union: the branch index picks the read; `None` branches cannot resolve and fail the record.
    Union(Vec<Option<Read>>),
}

/// How to step over a writer value nobody reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Skip {
    Nothing,
    Varint,
    Boolean,
    Bytes4,
    Bytes8,
    LengthPrefixed,
    Fixed(usize),
    Union(Vec<Skip>),
    Record(Vec<Skip>),
    Array(Box<Skip>),
    Map(Box<Skip>),
}

/// One writer field: read it into a column, or skip it.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Read { column: usize, read: Read },
    Skip(Skip),
}

/// Everything needed to decode datums of one writer schema.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodePlan {
    pub steps: Vec<Step>,
    /// Writer field name of each step, for error messages.
    pub field_names: Vec<String>,
    /// Values of reader columns the writer lacks (their defaults), by column; `Null` for the
    /// columns the writer provides (overwritten while decoding).
    pub defaults: Vec<DefaultValue>,
}

fn describe(schema: &Schema) -> String {
    let text = format!("{schema:?}");
    text.split(['(', ' ', '{']).next().unwrap_or("?").to_owned()
}

/// The non-null branch of a nullable union, and whether a null branch exists.
fn unwrap_nullable(schema: &Schema) -> (&Schema, bool) {
    if let Schema::Union(union) = schema {
        let variants = union.variants();
        let has_null = variants.iter().any(|v| matches!(v, Schema::Null));
        let non_null: Vec<&Schema> = variants.iter().filter(|v| !matches!(v, Schema::Null)).collect();
        if let [only] = non_null.as_slice() {
            return (only, has_null);
        }
    }
    (schema, false)
}

fn column_kind(schema: &Schema) -> Option<ColumnKind> {
    Some(match schema {
        Schema::Boolean => ColumnKind::Boolean,
        Schema::Int | Schema::TimeMillis => ColumnKind::Int,
        Schema::Long | Schema::TimeMicros => ColumnKind::Long,
        Schema::Float => ColumnKind::Float,
        Schema::Double => ColumnKind::Double,
        Schema::Bytes | Schema::Fixed(_) => ColumnKind::Binary,
        Schema::String | Schema::Enum(_) | Schema::Uuid(_) => ColumnKind::String,
        Schema::Decimal(DecimalSchema { precision, scale, .. }) if *precision <= 38 => {
            ColumnKind::Decimal { precision: *precision as u8, scale: *scale as i8 }
        }
        Schema::Date => ColumnKind::Date,
        Schema::TimestampMillis | Schema::TimestampMicros => ColumnKind::TimestampMicros,
        _ => return None,
    })
}

/// The reader field's default as a column value; `None` when it has none this module stores.
fn default_value(field: &RecordField, kind: &ColumnKind) -> Option<DefaultValue> {
    use serde_json::Value as Json;
    Some(match (field.default.as_ref()?, kind) {
        (Json::Null, _) => DefaultValue::Null,
        (Json::Bool(b), ColumnKind::Boolean) => DefaultValue::Boolean(*b),
        (Json::Number(n), ColumnKind::Int) => DefaultValue::Int(n.as_i64().and_then(|v| i32::try_from(v).ok())?),
        (Json::Number(n), ColumnKind::Long) => DefaultValue::Long(n.as_i64()?),
        (Json::Number(n), ColumnKind::Double) => DefaultValue::Double(n.as_f64()?),
        (Json::String(s), ColumnKind::String) => DefaultValue::String(s.clone()),
        _ => return None,
    })
}

impl ReaderColumns {
    /// The columns of a flat record schema: every field must be storable as one column.
    pub fn from_schema(schema: &Schema) -> Result<Self, PlanError> {
        let Schema::Record(record) = schema else { return Err(PlanError::ReaderNotRecord(describe(schema))) };
        let columns = record
            .fields
            .iter()
            .map(|field| {
                let (inner, nullable) = unwrap_nullable(&field.schema);
                let kind = column_kind(inner)
                    .ok_or_else(|| PlanError::UnsupportedReaderType { field: field.name.clone(), kind: describe(&field.schema) })?;
                let default = default_value(field, &kind);
                Ok(ReaderColumn { name: field.name.clone(), kind, nullable, default })
            })
            .collect::<Result<_, PlanError>>()?;
        Ok(Self { record_name: record.name.fullname(None), columns })
    }

    /// Arrow fields of the columns (all nullable: a column the writer lacks is null).
    pub fn arrow_fields(&self) -> Vec<Field> {
        self.columns.iter().map(|c| Field::new(&c.name, c.kind.data_type(), true)).collect()
    }
}

/// How a writer value of `writer` type is read as a reader column of `kind`; `None` when the
/// types do not resolve.
fn resolve(writer: &Schema, kind: &ColumnKind) -> Option<Read> {
    use ColumnKind as K;
    Some(match (writer, kind) {
        (Schema::Null, _) => Read::Null,
        (Schema::Union(union), _) => resolve_union(union, kind),
        (Schema::Boolean, K::Boolean) => Read::Boolean,
        // Logical types resolve through their underlying types, as in Java's resolver.
        (Schema::Int | Schema::TimeMillis | Schema::Date, K::Int | K::Date) => Read::IntAsInt,
        (Schema::Int, K::Long) => Read::IntAsLong,
        (Schema::Int, K::Float) => Read::IntAsFloat,
        (Schema::Int, K::Double) => Read::IntAsDouble,
        (Schema::Long | Schema::TimeMicros | Schema::TimestampMicros, K::Long | K::TimestampMicros) => Read::LongAsLong,
        (Schema::TimestampMillis, K::Long) => Read::LongAsLong,
        (Schema::TimestampMillis, K::TimestampMicros) => Read::MillisAsMicros,
        (Schema::Long, K::Float) => Read::LongAsFloat,
        (Schema::Long, K::Double) => Read::LongAsDouble,
        (Schema::Float, K::Float) => Read::FloatAsFloat,
        (Schema::Float, K::Double) => Read::FloatAsDouble,
        (Schema::Double, K::Double) => Read::DoubleAsDouble,
        (Schema::Bytes, K::Binary) | (Schema::String | Schema::Uuid(_), K::Binary) => Read::BytesAsBinary,
        (Schema::String | Schema::Bytes | Schema::Uuid(_), K::String) => Read::BytesAsString,
        (Schema::Fixed(fixed), K::Binary) => Read::FixedAsBinary(fixed.size),
        (Schema::Enum(symbols), K::String) => Read::EnumAsString(Arc::from(symbols.symbols.clone())),
        (Schema::Decimal(decimal), K::Decimal { scale, precision }) if decimal.scale as i8 == *scale => {
            // Reader precisions are at most 38 (see `column_kind`), so the bound fits.
            let (precision, bound) = (*precision, 10u128.pow(u32::from(*precision)));
            match &decimal.inner {
                InnerDecimalSchema::Bytes => Read::DecimalBytes { precision, bound },
                InnerDecimalSchema::Fixed(fixed) => Read::DecimalFixed { size: fixed.size, precision, bound },
            }
        }
        _ => return None,
    })
}

fn resolve_union(union: &UnionSchema, kind: &ColumnKind) -> Read {
    Read::Union(union.variants().iter().map(|variant| resolve(variant, kind)).collect())
}

/// How to skip a value of `schema`.
pub fn skip_for(schema: &Schema) -> Skip {
    match schema {
        Schema::Null => Skip::Nothing,
        Schema::Boolean => Skip::Boolean,
        Schema::Int | Schema::Long | Schema::Date | Schema::TimeMillis | Schema::TimeMicros | Schema::Enum(_) => Skip::Varint,
        Schema::TimestampMillis | Schema::TimestampMicros | Schema::TimestampNanos => Skip::Varint,
        Schema::LocalTimestampMillis | Schema::LocalTimestampMicros | Schema::LocalTimestampNanos => Skip::Varint,
        Schema::Float => Skip::Bytes4,
        Schema::Double => Skip::Bytes8,
        Schema::Fixed(fixed) | Schema::Duration(fixed) => Skip::Fixed(fixed.size),
        Schema::Decimal(DecimalSchema { inner: InnerDecimalSchema::Fixed(fixed), .. }) => Skip::Fixed(fixed.size),
        Schema::Union(union) => Skip::Union(union.variants().iter().map(skip_for).collect()),
        Schema::Record(record) => Skip::Record(record.fields.iter().map(|f| skip_for(&f.schema)).collect()),
        Schema::Array(array) => Skip::Array(Box::new(skip_for(&array.items))),
        Schema::Map(map) => Skip::Map(Box::new(skip_for(&map.types))),
        // bytes, string, bytes decimals, big-decimals, string uuids; named references are
        // resolved by apache-avro's parser for the schemas we embed.
        _ => Skip::LengthPrefixed,
    }
}

impl DecodePlan {
    /// The plan for datums written with `writer`, read as `reader`.
    pub fn new(writer: &Schema, reader: &ReaderColumns) -> Result<Self, PlanError> {
        let Schema::Record(record) = writer else {
            return Err(PlanError::RecordMismatch { writer: describe(writer), reader: reader.record_name.clone() });
        };
        let writer_name = record.name.fullname(None);
        if writer_name != reader.record_name {
            return Err(PlanError::RecordMismatch { writer: writer_name, reader: reader.record_name.clone() });
        }
        let mut covered = vec![false; reader.columns.len()];
        let mut steps = Vec::with_capacity(record.fields.len());
        let field_names = record.fields.iter().map(|f| f.name.clone()).collect();
        for field in &record.fields {
            let Some(column) = reader.columns.iter().position(|c| c.name == field.name) else {
                steps.push(Step::Skip(skip_for(&field.schema)));
                continue;
            };
            let target = &reader.columns[column];
            let read = resolve(&field.schema, &target.kind).ok_or_else(|| PlanError::Incompatible {
                field: field.name.clone(),
                writer: describe(&field.schema),
                reader: format!("{:?}", target.kind),
            })?;
            covered[column] = true;
            steps.push(Step::Read { column, read });
        }
        let mut defaults = Vec::with_capacity(reader.columns.len());
        for (column, is_covered) in reader.columns.iter().zip(&covered) {
            match (is_covered, &column.default, column.nullable) {
                (true, _, _) | (false, None, true) => defaults.push(DefaultValue::Null),
                (false, Some(value), _) => defaults.push(value.clone()),
                (false, None, false) => return Err(PlanError::MissingWithoutDefault { field: column.name.clone() }),
            }
        }
        Ok(Self { steps, field_names, defaults })
    }
}
