//! Spark's text-producing functions as DataFusion functions, which `spark_sql` rewrites
//! `CAST(x AS STRING)`/`string(x)`, `regexp_extract` and `date_format` into: values are written
//! as Spark writes them (doubles as Java prints them, dates in Spark's patterns).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use super::spark_pattern::SparkPattern;

/// The functions, by the names `spark_sql` rewrites to.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    [Kind::String, Kind::RegexpExtract, Kind::DateFormat]
        .into_iter()
        .map(|kind| Arc::new(ScalarUDF::new_from_impl(SparkText { kind, signature: Signature::any(kind.arguments(), Volatility::Immutable) })))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// `medallion_spark_string(x)`: Spark's `CAST(x AS STRING)`.
    String,
    /// `medallion_regexp_extract(s, pattern, group)`: Spark's `regexp_extract` (the first
    /// match's group, `''` when nothing matches; the pattern already in Rust's syntax).
    RegexpExtract,
    /// `medallion_date_format(timestamp, pattern)`: Spark's `date_format` (UTC session time zone).
    DateFormat,
}

impl Kind {
    fn arguments(self) -> usize {
        match self {
            Self::String => 1,
            Self::RegexpExtract => 3,
            Self::DateFormat => 2,
        }
    }
}

/// One of the functions of [`Kind`]; each returns text.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SparkText {
    kind: Kind,
    signature: Signature,
}

impl ScalarUDFImpl for SparkText {
    fn name(&self) -> &str {
        match self.kind {
            Kind::String => "medallion_spark_string",
            Kind::RegexpExtract => "medallion_regexp_extract",
            Kind::DateFormat => "medallion_date_format",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        let texts = match self.kind {
            Kind::String => (0..input.len()).map(|row| super::spark_text::value_text(input.as_ref(), row)).collect(),
            Kind::RegexpExtract => regexp_extract(&input, &args.args[1], &args.args[2])?,
            Kind::DateFormat => date_format(&input, &args.args[1])?,
        };
        Ok(ColumnarValue::Array(Arc::new(texts)))
    }
}

fn regexp_extract(input: &ArrayRef, pattern: &ColumnarValue, group: &ColumnarValue) -> Result<StringArray> {
    let (ColumnarValue::Scalar(ScalarValue::Utf8(Some(pattern))), ColumnarValue::Scalar(group)) = (pattern, group) else {
        return exec_err!("regexp_extract: the pattern must be a text literal and the group a literal");
    };
    let Ok(ScalarValue::Int64(Some(group))) = group.cast_to(&DataType::Int64) else {
        return exec_err!("regexp_extract: the group must be a whole number");
    };
    let regex = regex::Regex::new(pattern).map_err(|e| DataFusionError::Execution(format!("regexp_extract: {e}")))?;
    let group = usize::try_from(group).map_err(|_| DataFusionError::Execution("regexp_extract: a negative group".into()))?;
    if group >= regex.captures_len() {
        return exec_err!("regexp_extract: the pattern has no group {group}");
    }
    let input = arrow::compute::cast(input, &DataType::Utf8)?;
    Ok(input
        .as_string::<i32>()
        .iter()
        .map(|text| text.map(|text| regex.captures(text).and_then(|c| c.get(group)).map_or("", |m| m.as_str()).to_owned()))
        .collect())
}

fn date_format(input: &ArrayRef, pattern: &ColumnarValue) -> Result<StringArray> {
    let ColumnarValue::Scalar(ScalarValue::Utf8(Some(pattern))) = pattern else {
        return exec_err!("date_format: the pattern must be a text literal");
    };
    let pattern = SparkPattern::compile(pattern).map_err(|e| DataFusionError::Plan(format!("date_format {pattern:?}: {e}")))?;
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let input = arrow::compute::cast(input, &utc)?;
    Ok(input
        .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
        .iter()
        .map(|micros| micros.and_then(|micros| pattern.format(micros)))
        .collect())
}
