//! Avro → Arrow, straight into column builders: no `Value` tree, no JSON detour.
//!
//! A [`Decoder`] reads message values of any framing the configuration accepts, finds the writer
//! schema named by the frame, builds (once per writer schema) a [`DecodePlan`] resolving it to the
//! reader schema, and appends each record as one row. A message that cannot be decoded appends a
//! row of nulls and reports why, so rows always line up with messages and nothing is dropped.

mod binary;
mod columns;
mod plan;

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::Schema;
use arrow::array::ArrayRef;
use arrow::datatypes::Field;

pub use binary::{BinaryError, Cursor, decimal_from_bytes};
pub use columns::{ColumnBuilders, finish_bytes, finish_primitive};
pub use plan::{Cell, ColumnKind, DecodePlan, DefaultValue, PlanError, Read, ReaderColumn, ReaderColumns, Skip, Step};

use crate::config::StaticSchemaId;
use crate::wire::framing::{self, Framing, FramingError, SchemaRef};
use crate::wire::schema::SchemaCatalog;

/// Why one message could not be decoded; stored as its `decode_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("{0}")]
    Framing(#[from] FramingError),
    #[error("{framing} framing is not accepted by this consumer (schema.accepted_framings)")]
    FramingNotAccepted { framing: Framing },
    #[error("unknown writer schema {schema_ref}")]
    UnknownSchema { schema_ref: SchemaRef },
    #[error("writer schema {schema_ref} cannot be read: {source}")]
    Plan { schema_ref: SchemaRef, source: PlanError },
    #[error("field `{field}`: {source}")]
    Datum { field: String, source: BinaryError },
    #[error("field `{field}`: union branch {branch} does not resolve to the reader's type")]
    UnresolvableBranch { field: String, branch: i64 },
    #[error("field `{field}`: enum index {index} out of range")]
    EnumIndex { field: String, index: i32 },
    #[error("field `{field}`: decimal wider than 128 bits")]
    DecimalTooWide { field: String },
    #[error("field `{field}`: decimal with unscaled value {unscaled} has more than the {precision} digits of its declared precision")]
    DecimalPrecision { field: String, precision: u8, unscaled: i128 },
    #[error("{count} bytes left after the record: the datum does not match writer schema {schema_ref}")]
    TrailingBytes { count: usize, schema_ref: SchemaRef },
}

/// Writer schemas a decoder knows, by what frames call them.
#[derive(Debug, Default, Clone)]
pub struct WriterSchemas {
    by_id: HashMap<u32, Schema>,
    by_fingerprint: HashMap<[u8; 8], Schema>,
}

impl WriterSchemas {
    /// Every schema embedded from `schemas/`, by fingerprint, and by the given Confluent ids.
    pub fn embedded(static_ids: &[StaticSchemaId]) -> Self {
        let catalog = SchemaCatalog::embedded();
        let mut writers = Self::default();
        for entry in catalog.entries() {
            writers.insert_fingerprint(entry.fingerprint, entry.schema.clone());
        }
        for static_id in static_ids {
            if let Some(entry) = catalog.by_file_name(&static_id.file) {
                writers.insert_id(static_id.id, entry.schema.clone());
            }
        }
        writers
    }

    pub fn insert_id(&mut self, id: u32, schema: Schema) {
        self.by_id.insert(id, schema);
    }

    pub fn insert_fingerprint(&mut self, fingerprint: [u8; 8], schema: Schema) {
        self.by_fingerprint.insert(fingerprint, schema);
    }

    pub fn contains(&self, schema_ref: &SchemaRef) -> bool {
        self.get(schema_ref).is_some()
    }

    fn get(&self, schema_ref: &SchemaRef) -> Option<&Schema> {
        match schema_ref {
            SchemaRef::RegistryId(id) => self.by_id.get(id),
            SchemaRef::Fingerprint(fingerprint) => self.by_fingerprint.get(fingerprint),
        }
    }
}

/// What decoding one message produced besides its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The writer schema the frame names, when the frame could be read.
    pub schema_ref: Option<SchemaRef>,
    /// Why the row is all nulls, if it is.
    pub error: Option<MessageError>,
}

/// Decodes message values into reader columns.
pub struct Decoder {
    reader: ReaderColumns,
    writers: WriterSchemas,
    accepted: Vec<Framing>,
    plans: HashMap<SchemaRef, Result<Arc<DecodePlan>, MessageError>>,
    /// The plan of the last message: consecutive messages almost always share a writer schema,
    /// and this spares hashing the reference for each.
    last_plan: Option<(SchemaRef, Arc<DecodePlan>)>,
    /// The allocation of the per-message cells, kept between messages (see [`recycle`]).
    cells: Vec<Cell<'static>>,
    builders: ColumnBuilders,
}

impl Decoder {
    pub fn new(reader_schema: &Schema, writers: WriterSchemas, accepted: &[Framing], capacity: usize) -> Result<Self, PlanError> {
        let reader = ReaderColumns::from_schema(reader_schema)?;
        let builders = ColumnBuilders::new(&reader, capacity);
        Ok(Self { reader, writers, accepted: accepted.to_vec(), plans: HashMap::new(), last_plan: None, cells: Vec::new(), builders })
    }

    pub fn arrow_fields(&self) -> Vec<Field> {
        self.reader.arrow_fields()
    }

    /// Learns a writer schema (e.g. fetched from a registry); earlier failures to find it are forgotten.
    pub fn add_writer_schema(&mut self, schema_ref: SchemaRef, schema: Schema) {
        match schema_ref {
            SchemaRef::RegistryId(id) => self.writers.insert_id(id, schema),
            SchemaRef::Fingerprint(fingerprint) => self.writers.insert_fingerprint(fingerprint, schema),
        }
        self.plans.remove(&schema_ref);
        self.last_plan = None;
    }

    /// The full name of the record the writer schema `schema_ref` describes, `None` when this
    /// decoder does not know it (or it is not a record).
    pub fn writer_record(&self, schema_ref: &SchemaRef) -> Option<String> {
        match self.writers.get(schema_ref)? {
            Schema::Record(record) => Some(record.name.fullname(None)),
            _ => None,
        }
    }

    /// Decodes one message value into the next row (all nulls when it cannot be decoded).
    pub fn push(&mut self, value: &[u8]) -> Decoded {
        let (schema_ref, datum) = match framing::parse(value) {
            Ok(parsed) => parsed,
            Err(error) => return self.null_row(None, error.into()),
        };
        if !self.accepted.contains(&schema_ref.framing()) {
            return self.null_row(Some(schema_ref), MessageError::FramingNotAccepted { framing: schema_ref.framing() });
        }
        let plan = match self.plan_for(schema_ref) {
            Ok(plan) => plan,
            Err(error) => return self.null_row(Some(schema_ref), error),
        };
        let mut cells = recycle(std::mem::take(&mut self.cells));
        cells.extend(plan.defaults.iter().map(DefaultValue::as_cell));
        let decoded = decode_datum(&plan, datum, &mut cells, schema_ref);
        if decoded.is_ok() {
            self.builders.append_row(&cells);
        }
        self.cells = recycle(cells);
        match decoded {
            Ok(()) => Decoded { schema_ref: Some(schema_ref), error: None },
            Err(error) => self.null_row(Some(schema_ref), error),
        }
    }

    fn null_row(&mut self, schema_ref: Option<SchemaRef>, error: MessageError) -> Decoded {
        self.builders.append_null_row();
        Decoded { schema_ref, error: Some(error) }
    }

    fn plan_for(&mut self, schema_ref: SchemaRef) -> Result<Arc<DecodePlan>, MessageError> {
        if let Some((last, plan)) = &self.last_plan
            && *last == schema_ref
        {
            return Ok(Arc::clone(plan));
        }
        if let Some(plan) = self.plans.get(&schema_ref) {
            if let Ok(plan) = plan {
                self.last_plan = Some((schema_ref, Arc::clone(plan)));
            }
            return plan.clone();
        }
        let plan = match self.writers.get(&schema_ref) {
            None => return Err(MessageError::UnknownSchema { schema_ref }),
            Some(writer) => DecodePlan::new(writer, &self.reader).map(Arc::new).map_err(|source| MessageError::Plan { schema_ref, source }),
        };
        self.plans.insert(schema_ref, plan.clone());
        plan
    }

    /// The reader columns of every row pushed since the last call.
    pub fn finish(&mut self) -> Result<Vec<ArrayRef>, arrow::error::ArrowError> {
        self.builders.finish()
    }
}

/// An empty vector of cells of any lifetime in the allocation of `cells`: the cells borrow one
/// message's bytes, the allocation outlives them. Collecting an emptied vector into one of a
/// type of the same size and alignment reuses its allocation (std's in-place collection).
fn recycle<'a>(mut cells: Vec<Cell<'_>>) -> Vec<Cell<'a>> {
    cells.clear();
    cells.into_iter().map(|_| Cell::Null).collect()
}

/// Walks `plan` over one datum, filling `cells`.
pub fn decode_datum<'a>(plan: &'a DecodePlan, datum: &'a [u8], cells: &mut [Cell<'a>], schema_ref: SchemaRef) -> Result<(), MessageError> {
    let mut cursor = Cursor::new(datum);
    for (index, step) in plan.steps.iter().enumerate() {
        let field = || plan.field_names.get(index).cloned().unwrap_or_default();
        match step {
            Step::Read { column, read } => {
                let cell = read_value(read, &mut cursor, &field)?;
                if let Some(slot) = cells.get_mut(*column) {
                    *slot = cell;
                }
            }
            Step::Skip(skip) => skip_value(skip, &mut cursor).map_err(|source| MessageError::Datum { field: field(), source })?,
        }
    }
    match cursor.remaining() {
        0 => Ok(()),
        count => Err(MessageError::TrailingBytes { count, schema_ref }),
    }
}

/// Reads one writer value: a union's branch, then the value in it (Avro has no union directly
/// inside a union, so [`read_plain`] never recurses and stays inlined).
fn read_value<'a>(read: &'a Read, cursor: &mut Cursor<'a>, field: &dyn Fn() -> String) -> Result<Cell<'a>, MessageError> {
    match read {
        Read::Union(branches) => {
            let branch = cursor.read_long().map_err(|source| MessageError::Datum { field: field(), source })?;
            match usize::try_from(branch).ok().and_then(|i| branches.get(i)) {
                Some(Some(read)) => read_plain(read, cursor, field),
                _ => Err(MessageError::UnresolvableBranch { field: field(), branch }),
            }
        }
        read => read_plain(read, cursor, field),
    }
}

#[inline]
fn read_plain<'a>(read: &'a Read, cursor: &mut Cursor<'a>, field: &dyn Fn() -> String) -> Result<Cell<'a>, MessageError> {
    let datum = |source| MessageError::Datum { field: field(), source };
    Ok(match read {
        Read::Null => Cell::Null,
        Read::Boolean => Cell::Boolean(cursor.read_boolean().map_err(datum)?),
        Read::IntAsInt => Cell::Int(cursor.read_int().map_err(datum)?),
        Read::IntAsLong => Cell::Long(i64::from(cursor.read_int().map_err(datum)?)),
        Read::IntAsFloat => Cell::Float(cursor.read_int().map_err(datum)? as f32),
        Read::IntAsDouble => Cell::Double(f64::from(cursor.read_int().map_err(datum)?)),
        Read::LongAsLong => Cell::Long(cursor.read_long().map_err(datum)?),
        Read::MillisAsMicros => Cell::Long(cursor.read_long().map_err(datum)?.saturating_mul(1000)),
        Read::LongAsFloat => Cell::Float(cursor.read_long().map_err(datum)? as f32),
        Read::LongAsDouble => Cell::Double(cursor.read_long().map_err(datum)? as f64),
        Read::FloatAsFloat => Cell::Float(cursor.read_float().map_err(datum)?),
        Read::FloatAsDouble => Cell::Double(f64::from(cursor.read_float().map_err(datum)?)),
        Read::DoubleAsDouble => Cell::Double(cursor.read_double().map_err(datum)?),
        Read::BytesAsBinary => Cell::Binary(cursor.read_bytes().map_err(datum)?),
        Read::BytesAsString => Cell::String(cursor.read_utf8().map_err(datum)?),
        Read::FixedAsBinary(size) => Cell::Binary(cursor.read_fixed(*size).map_err(datum)?),
        Read::DecimalBytes { precision, bound } => Cell::Decimal(read_decimal(cursor.read_bytes().map_err(datum)?, *precision, *bound, field)?),
        Read::DecimalFixed { size, precision, bound } => {
            Cell::Decimal(read_decimal(cursor.read_fixed(*size).map_err(datum)?, *precision, *bound, field)?)
        }
        Read::EnumAsString(symbols) => {
            let index = cursor.read_int().map_err(datum)?;
            let symbol = usize::try_from(index).ok().and_then(|i| symbols.get(i));
            Cell::String(symbol.ok_or_else(|| MessageError::EnumIndex { field: field(), index })?.as_bytes())
        }
        // A union inside a union, which Avro does not allow.
        Read::Union(_) => return Err(MessageError::UnresolvableBranch { field: field(), branch: -1 }),
    })
}

/// An Avro decimal's unscaled value, refused when it has more digits than `precision` (below
/// `bound`, 10^precision): Parquet would keep only the declared digits, a wrapped amount.
fn read_decimal(bytes: &[u8], precision: u8, bound: u128, field: &dyn Fn() -> String) -> Result<i128, MessageError> {
    let value = decimal_from_bytes(bytes).ok_or_else(|| MessageError::DecimalTooWide { field: field() })?;
    if value.unsigned_abs() >= bound {
        return Err(MessageError::DecimalPrecision { field: field(), precision, unscaled: value });
    }
    Ok(value)
}

fn skip_value(skip: &Skip, cursor: &mut Cursor<'_>) -> Result<(), BinaryError> {
    match skip {
        Skip::Nothing => {}
        Skip::Varint => {
            cursor.read_long()?;
        }
        Skip::Boolean => {
            cursor.read_boolean()?;
        }
        Skip::Bytes4 => {
            cursor.read_fixed(4)?;
        }
        Skip::Bytes8 => {
            cursor.read_fixed(8)?;
        }
        Skip::LengthPrefixed => {
            cursor.read_bytes()?;
        }
        Skip::Fixed(size) => {
            cursor.read_fixed(*size)?;
        }
        Skip::Union(branches) => {
            let at = cursor.position();
            let branch = cursor.read_long()?;
            let skip = usize::try_from(branch).ok().and_then(|i| branches.get(i));
            skip_value(skip.ok_or(BinaryError::IntOutOfRange { at, value: branch })?, cursor)?;
        }
        Skip::Record(fields) => fields.iter().try_for_each(|field| skip_value(field, cursor))?,
        Skip::Array(items) => cursor.skip_blocks(|c| skip_value(items, c))?,
        Skip::Map(values) => cursor.skip_blocks(|c| {
            c.read_bytes()?;
            skip_value(values, c)
        })?,
    }
    Ok(())
}

#[cfg(test)]
mod tests;
