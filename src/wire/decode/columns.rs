//! Arrow builders for reader columns, fed one decoded record (a row of cells) at a time.

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, ArrowPrimitiveType, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder, Float64Builder,
    GenericByteArray, GenericByteBuilder, Int32Builder, Int64Builder, PrimitiveArray, PrimitiveBuilder, StringArray, TimestampMicrosecondBuilder,
};
use arrow::datatypes::ByteArrayType;
use arrow::error::ArrowError;

use super::plan::{Cell, ColumnKind, ReaderColumns};

/// A builder for one column.
enum ColumnBuilder {
    Boolean(BooleanBuilder),
    Int(Int32Builder),
    Long(Int64Builder),
    Float(Float32Builder),
    Double(Float64Builder),
    Binary(BinaryBuilder),
    /// Text as binary: each value was checked when read, and the finished column is checked
    /// again, as a whole, when it becomes a string column: one validation per chunk instead of
    /// std's per string.
    String(BinaryBuilder),
    Decimal(Decimal128Builder, u8, i8),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
}

impl ColumnBuilder {
    fn new(kind: &ColumnKind, capacity: usize) -> Self {
        match kind {
            ColumnKind::Boolean => Self::Boolean(BooleanBuilder::with_capacity(capacity)),
            ColumnKind::Int => Self::Int(Int32Builder::with_capacity(capacity)),
            ColumnKind::Long => Self::Long(Int64Builder::with_capacity(capacity)),
            ColumnKind::Float => Self::Float(Float32Builder::with_capacity(capacity)),
            ColumnKind::Double => Self::Double(Float64Builder::with_capacity(capacity)),
            ColumnKind::Binary => Self::Binary(BinaryBuilder::with_capacity(capacity, capacity * 16)),
            ColumnKind::String => Self::String(BinaryBuilder::with_capacity(capacity, capacity * 16)),
            ColumnKind::Decimal { precision, scale } => Self::Decimal(Decimal128Builder::with_capacity(capacity), *precision, *scale),
            ColumnKind::Date => Self::Date(Date32Builder::with_capacity(capacity)),
            ColumnKind::TimestampMicros => Self::Timestamp(TimestampMicrosecondBuilder::with_capacity(capacity)),
        }
    }

    /// Appends `cell`. The plan only produces cells that fit their column; anything else (which
    /// would be a bug) is stored as null rather than shifting the column out of line.
    fn append(&mut self, cell: Cell<'_>) {
        match (self, cell) {
            (Self::Boolean(b), Cell::Boolean(v)) => b.append_value(v),
            (Self::Int(b), Cell::Int(v)) => b.append_value(v),
            (Self::Date(b), Cell::Int(v)) => b.append_value(v),
            (Self::Long(b), Cell::Long(v)) => b.append_value(v),
            (Self::Timestamp(b), Cell::Long(v)) => b.append_value(v),
            (Self::Float(b), Cell::Float(v)) => b.append_value(v),
            (Self::Double(b), Cell::Double(v)) => b.append_value(v),
            (Self::Binary(b), Cell::Binary(v)) => b.append_value(v),
            (Self::String(b), Cell::String(v)) => b.append_value(v),
            (Self::Decimal(b, _, _), Cell::Decimal(v)) => b.append_value(v),
            (builder, _) => builder.append_null(),
        }
    }

    fn append_null(&mut self) {
        match self {
            Self::Boolean(b) => b.append_null(),
            Self::Int(b) => b.append_null(),
            Self::Long(b) => b.append_null(),
            Self::Float(b) => b.append_null(),
            Self::Double(b) => b.append_null(),
            Self::Binary(b) => b.append_null(),
            Self::String(b) => b.append_null(),
            Self::Decimal(b, _, _) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Timestamp(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        Ok(match self {
            Self::Boolean(b) => Arc::new(std::mem::replace(b, BooleanBuilder::with_capacity(b.len())).finish()),
            Self::Int(b) => Arc::new(finish_primitive(b)),
            Self::Long(b) => Arc::new(finish_primitive(b)),
            Self::Float(b) => Arc::new(finish_primitive(b)),
            Self::Double(b) => Arc::new(finish_primitive(b)),
            Self::Binary(b) => Arc::new(finish_bytes(b)),
            Self::String(b) => Arc::new(StringArray::try_from_binary(finish_bytes(b))?),
            Self::Decimal(b, precision, scale) => {
                let array = finish_primitive(b);
                // Precision and scale come from the reader schema, where they were validated.
                Arc::new(array.clone().with_precision_and_scale(*precision, *scale).unwrap_or(array))
            }
            Self::Date(b) => Arc::new(finish_primitive(b)),
            Self::Timestamp(b) => Arc::new(finish_primitive(b).with_timezone("UTC")),
        })
    }
}

/// The values appended so far; the builder starts over with room for a quarter more rows than
/// it had. The next batch is usually about as large but rarely exactly: without the headroom a
/// slightly larger batch reallocated (and copied) every buffer at its end, and growing from
/// nothing copies each buffer several times over. Room never written to costs no memory.
pub fn finish_primitive<T: ArrowPrimitiveType>(builder: &mut PrimitiveBuilder<T>) -> PrimitiveArray<T> {
    let rows = with_headroom(builder.len());
    std::mem::replace(builder, PrimitiveBuilder::with_capacity(rows)).finish()
}

/// [`finish_primitive`] for strings and binaries: room for more rows and value bytes.
pub fn finish_bytes<T: ByteArrayType>(builder: &mut GenericByteBuilder<T>) -> GenericByteArray<T> {
    let (rows, bytes) = (with_headroom(builder.len()), with_headroom(builder.values_slice().len()));
    std::mem::replace(builder, GenericByteBuilder::with_capacity(rows, bytes)).finish()
}

fn with_headroom(used: usize) -> usize {
    used + used / 4
}

/// Builders for every reader column.
pub struct ColumnBuilders {
    builders: Vec<ColumnBuilder>,
}

impl ColumnBuilders {
    pub fn new(reader: &ReaderColumns, capacity: usize) -> Self {
        Self { builders: reader.columns.iter().map(|c| ColumnBuilder::new(&c.kind, capacity)).collect() }
    }

    /// Appends one record: `cells` holds one cell per column.
    pub fn append_row(&mut self, cells: &[Cell<'_>]) {
        for (builder, cell) in self.builders.iter_mut().zip(cells) {
            match cell {
                Cell::Null => builder.append_null(),
                cell => builder.append(*cell),
            }
        }
    }

    /// Appends a record with every column null (an undecodable message).
    pub fn append_null_row(&mut self) {
        self.builders.iter_mut().for_each(ColumnBuilder::append_null);
    }

    /// The built columns; the builders start over empty.
    pub fn finish(&mut self) -> Result<Vec<ArrayRef>, ArrowError> {
        self.builders.iter_mut().map(ColumnBuilder::finish).collect()
    }
}
