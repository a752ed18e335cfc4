//! Spark's text-to-date/timestamp conversions as DataFusion functions, which `spark_sql`
//! rewrites `CAST`/`try_cast` to DATE or TIMESTAMP, `to_date`, `to_timestamp` and
//! `try_to_timestamp` into: text is read as Spark reads it (see `spark_datetime`), any other
//! type is cast by Arrow. A text that is no date gives NULL (`try_` semantics; Spark's ANSI mode
//! would fail the whole query on it, DQX with it).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Date32Array, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use super::spark_datetime::{SparkPattern, cast_date, cast_timestamp};

/// The functions, by the names `spark_sql` rewrites to (these and `spark_text_udf`'s).
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    let mut functions: Vec<Arc<ScalarUDF>> =
        [Target::Date, Target::Timestamp].into_iter().map(|target| Arc::new(ScalarUDF::new_from_impl(SparkToDateTime::new(target)))).collect();
    functions.extend(super::spark_text_udf::functions());
    functions
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Date,
    Timestamp,
}

/// `medallion_spark_date(x[, pattern])` / `medallion_spark_timestamp(x[, pattern])`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SparkToDateTime {
    target: Target,
    signature: Signature,
}

impl SparkToDateTime {
    fn new(target: Target) -> Self {
        Self {
            target,
            signature: Signature::one_of(
                vec![datafusion::logical_expr::TypeSignature::Any(1), datafusion::logical_expr::TypeSignature::Any(2)],
                Volatility::Immutable,
            ),
        }
    }

    fn data_type(&self) -> DataType {
        match self.target {
            Target::Date => DataType::Date32,
            Target::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        }
    }

    fn convert_text(&self, texts: &[Option<&str>], pattern: Option<&SparkPattern>) -> ArrayRef {
        let today = chrono::Utc::now().date_naive();
        let micros = |text: &str| match pattern {
            Some(pattern) => pattern.parse(text),
            None => cast_timestamp(text, today),
        };
        match self.target {
            Target::Timestamp => Arc::new(TimestampMicrosecondArray::from_iter(texts.iter().map(|t| t.and_then(micros))).with_timezone("UTC")),
            Target::Date => {
                let days = |text: &str| match pattern {
                    Some(_) => micros(text).map(|m| m.div_euclid(86_400_000_000) as i32),
                    None => cast_date(text).map(|d| (d - chrono::NaiveDate::default()).num_days() as i32),
                };
                Arc::new(Date32Array::from_iter(texts.iter().map(|t| t.and_then(days))))
            }
        }
    }
}

impl ScalarUDFImpl for SparkToDateTime {
    fn name(&self) -> &str {
        match self.target {
            Target::Date => "medallion_spark_date",
            Target::Timestamp => "medallion_spark_timestamp",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.data_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let pattern = match args.args.get(1) {
            None => None,
            Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(p)) | ScalarValue::LargeUtf8(Some(p)) | ScalarValue::Utf8View(Some(p)))) => {
                Some(SparkPattern::compile(p).map_err(|e| datafusion::error::DataFusionError::Plan(format!("pattern {p:?}: {e}")))?)
            }
            Some(_) => return exec_err!("{}: the pattern must be a text literal", self.name()),
        };
        let input = args.args[0].to_array(rows)?;
        let output = match input.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let texts = arrow::compute::cast(&input, &DataType::Utf8)?;
                let texts: &StringArray = texts.as_string::<i32>();
                let texts: Vec<Option<&str>> = texts.iter().collect();
                self.convert_text(&texts, pattern.as_ref())
            }
            _ => arrow::compute::cast(&input, &self.data_type())?,
        };
        Ok(ColumnarValue::Array(output))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_read_as_spark_reads_it() {
        let function = SparkToDateTime::new(Target::Date);
        let dates = function.convert_text(&[Some("2024-1-5"), Some(" 2024-01-31"), Some("2024-01-31 x"), Some("20240131"), None], None);
        let dates: Vec<Option<i32>> = dates.as_primitive::<arrow::datatypes::Date32Type>().iter().collect();
        assert_eq!(dates, [Some(19_727), Some(19_753), Some(19_753), None, None]);
    }
}
