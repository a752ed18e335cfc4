//! Spark SQL expressions (`sql_expression`, `filter`, expression limits) through DataFusion:
//! parsed and planned once against the input schema, then evaluated as vectorised physical
//! expressions over each RecordBatch.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::execution::SessionState;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{ColumnarValue, Expr};
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::dialect::DatabricksDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// A compiled expression and the SQL it came from (for error messages).
#[derive(Debug, Clone)]
pub struct CompiledExpr {
    pub sql: String,
    pub physical: Arc<dyn PhysicalExpr>,
}

impl CompiledExpr {
    /// The expression's values for every row of `batch` (a literal is expanded).
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<ArrayRef, String> {
        let value = self.physical.evaluate(batch).map_err(|e| format!("evaluating `{}`: {e}", self.sql))?;
        match value {
            ColumnarValue::Array(array) => Ok(array),
            ColumnarValue::Scalar(scalar) => scalar.to_array_of_size(batch.num_rows()).map_err(|e| format!("evaluating `{}`: {e}", self.sql)),
        }
    }

    /// Evaluates a boolean expression (NULL stays NULL).
    pub fn evaluate_bool(&self, batch: &RecordBatch) -> Result<BooleanArray, String> {
        let array = self.evaluate(batch)?;
        array.as_any().downcast_ref::<BooleanArray>().cloned().ok_or_else(|| format!("`{}` is not a boolean expression", self.sql))
    }
}

/// Checks that `sql` parses as a Spark SQL expression, without any schema.
pub fn check_syntax(sql: &str) -> Result<(), String> {
    Parser::new(&DatabricksDialect {}).try_with_sql(sql).and_then(|mut parser| parser.parse_expr()).map(|_| ()).map_err(|e| e.to_string())
}

/// Plans expressions against one input schema, at one "now" (what `current_timestamp()` and the
/// clock checks compare with, as in one Spark query).
#[derive(Clone)]
pub struct SqlPlanner {
    state: SessionState,
    schema: DFSchema,
}

impl SqlPlanner {
    pub fn new(schema: SchemaRef) -> Result<Self, String> {
        let config = datafusion::prelude::SessionConfig::new().set_str("datafusion.sql_parser.dialect", "databricks");
        let mut state = SessionContext::new_with_config(config).state();
        super::spark_sql::register(&mut state)?;
        let schema = DFSchema::try_from(schema.as_ref().clone()).map_err(|e| e.to_string())?;
        Ok(Self { state, schema }.at(chrono::Utc::now().timestamp_micros()))
    }

    /// The same planner with "now" at `now_micros` (UTC).
    pub fn at(mut self, now_micros: i64) -> Self {
        self.state.execution_props_mut().query_execution_start_time = chrono::DateTime::from_timestamp_micros(now_micros);
        self
    }

    /// "Now" as this planner plans, microseconds since the epoch.
    pub fn now_micros(&self) -> i64 {
        self.state.execution_props().query_execution_start_time.map_or(0, |now| now.timestamp_micros())
    }

    /// Parses Spark SQL `sql` into a logical expression with Spark's meaning, resolving columns
    /// and functions.
    pub fn parse(&self, sql: &str) -> Result<Expr, String> {
        let error = |e: datafusion::error::DataFusionError| clean_error(&e.to_string());
        let mut parsed = self.state.sql_to_expr_with_alias(sql, &self.state.config_options().sql_parser.dialect).map_err(error)?;
        super::spark_sql::rewrite(&mut parsed.expr)?;
        self.state.create_logical_expr_from_sql_expr(parsed, &self.schema).map_err(error)
    }

    /// Plans a logical expression: type coercion, then simplification, which also turns the
    /// functions DataFusion only evaluates simplified into what it can run (`now()` and
    /// `current_timestamp()` into this planner's "now", `coalesce`/`nvl` into CASE).
    pub fn compile(&self, sql: &str, expr: Expr) -> Result<CompiledExpr, String> {
        let error = |e: datafusion::error::DataFusionError| clean_error(&e.to_string());
        let context = SimplifyContext::builder()
            .with_schema(Arc::new(self.schema.clone()))
            .with_config_options(Arc::clone(self.state.config_options()))
            .with_query_execution_start_time(self.state.execution_props().query_execution_start_time)
            .build();
        let simplifier = ExprSimplifier::new(context);
        let expr = simplifier.simplify(simplifier.coerce(expr, &self.schema).map_err(error)?).map_err(error)?;
        let physical = self.state.create_physical_expr(expr, &self.schema).map_err(error)?;
        Ok(CompiledExpr { sql: sql.to_owned(), physical })
    }

    /// Parses and plans `sql`, which must be boolean.
    pub fn boolean(&self, sql: &str) -> Result<CompiledExpr, String> {
        let expr = self.parse(sql)?;
        let compiled = self.compile(sql, expr)?;
        match self.data_type(&compiled)? {
            DataType::Boolean | DataType::Null => Ok(compiled),
            other => Err(format!("`{sql}` is {other}, not a boolean expression")),
        }
    }

    pub fn data_type(&self, compiled: &CompiledExpr) -> Result<DataType, String> {
        compiled.physical.data_type(self.schema.as_arrow()).map_err(|e| e.to_string())
    }
}

/// DataFusion errors carry a context prefix and a long list of valid fields; keep the gist.
fn clean_error(message: &str) -> String {
    let message = message.strip_prefix("Schema error: ").unwrap_or(message);
    let message = message.strip_prefix("Error during planning: ").unwrap_or(message);
    match message.find(". Valid fields are") {
        Some(end) => message[..end].to_owned(),
        None => message.to_owned(),
    }
}
