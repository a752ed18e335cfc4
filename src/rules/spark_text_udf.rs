//! Spark's text-producing functions as DataFusion functions, which `spark_sql` rewrites
//! `CAST(x AS STRING)`/`string(x)`, `regexp_extract` and `date_format` into: values are written
//! as Spark writes them (doubles as Java prints them, dates in Spark's patterns).

use std::sync::Arc;

use arrow::array::{Array, AsArray, StringArray};
use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use super::spark_pattern::SparkPattern;

/// The functions, by the names `spark_sql` rewrites to.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::new_from_impl(SparkString { signature: Signature::any(1, Volatility::Immutable) })),
        Arc::new(ScalarUDF::new_from_impl(RegexpExtract { signature: Signature::any(3, Volatility::Immutable) })),
        Arc::new(ScalarUDF::new_from_impl(DateFormat { signature: Signature::any(2, Volatility::Immutable) })),
    ]
}

/// `medallion_spark_string(x)`: Spark's `CAST(x AS STRING)` (doubles as Java prints them, …).
#[derive(Debug, PartialEq, Eq, Hash)]
struct SparkString {
    signature: Signature,
}

impl ScalarUDFImpl for SparkString {
    fn name(&self) -> &str {
        "medallion_spark_string"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        let texts: StringArray = (0..input.len()).map(|row| super::spark_text::value_text(input.as_ref(), row)).collect();
        Ok(ColumnarValue::Array(Arc::new(texts)))
    }
}

/// `medallion_regexp_extract(s, pattern, group)`: Spark's `regexp_extract` (the first match's
/// group, `''` when nothing matches; the pattern already in Rust's syntax).
#[derive(Debug, PartialEq, Eq, Hash)]
struct RegexpExtract {
    signature: Signature,
}

impl ScalarUDFImpl for RegexpExtract {
    fn name(&self) -> &str {
        "medallion_regexp_extract"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (ColumnarValue::Scalar(ScalarValue::Utf8(Some(pattern))), ColumnarValue::Scalar(group)) = (&args.args[1], &args.args[2]) else {
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
        let input = arrow::compute::cast(&args.args[0].to_array(args.number_rows)?, &DataType::Utf8)?;
        let extracted: StringArray = input
            .as_string::<i32>()
            .iter()
            .map(|text| text.map(|text| regex.captures(text).and_then(|c| c.get(group)).map_or("", |m| m.as_str()).to_owned()))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(extracted)))
    }
}

/// `medallion_date_format(timestamp, pattern)`: Spark's `date_format` (UTC session time zone).
#[derive(Debug, PartialEq, Eq, Hash)]
struct DateFormat {
    signature: Signature,
}

impl ScalarUDFImpl for DateFormat {
    fn name(&self) -> &str {
        "medallion_date_format"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ColumnarValue::Scalar(ScalarValue::Utf8(Some(pattern))) = &args.args[1] else {
            return exec_err!("date_format: the pattern must be a text literal");
        };
        let pattern = SparkPattern::compile(pattern).map_err(|e| DataFusionError::Plan(format!("date_format {pattern:?}: {e}")))?;
        let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let input = arrow::compute::cast(&args.args[0].to_array(args.number_rows)?, &utc)?;
        let texts: StringArray = input
            .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
            .iter()
            .map(|micros| micros.and_then(|micros| pattern.format(micros)))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(texts)))
    }
}
