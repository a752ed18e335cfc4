//! Tables that grow: a stage whose columns gained nullable fields (a new medallion version)
//! opens a table written by an older one by adding those columns in a metadata-only commit.
//! Older files stay as they are; their rows read the new columns as null.

use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::CommitBuilder;
use deltalake::kernel::{Action, MetadataExt, StructField, StructType};
use deltalake::protocol::DeltaOperation;

use super::{StageTable, TableError, without_upkeep};

/// What opening the table with the stage's columns calls for.
enum Fit {
    /// The table has every column.
    Fits,
    /// The table lacks these nullable columns (and has no others); the schema it should have,
    /// the stage's columns in the stage's order.
    Widen { added: Vec<StructField>, schema: StructType },
}

impl StageTable {
    /// Checks the table holds the stage's columns, adding the nullable ones it lacks. A missing
    /// column that cannot be null is an error: older rows would have no value for it.
    pub(super) async fn add_missing_columns(&mut self) -> Result<(), TableError> {
        for _attempt in 0..3 {
            let (added, schema) = match self.fit()? {
                Fit::Fits => return Ok(()),
                Fit::Widen { added, schema } => (added, schema),
            };
            let snapshot = self.table.snapshot().map_err(|source| self.open_error(source))?;
            let metadata = snapshot.metadata().clone().with_schema(&schema).map_err(|e| self.schema_error(e.to_string()))?;
            let names: Vec<&str> = added.iter().map(|f| f.name().as_str()).collect();
            tracing::info!(table = %self.location, columns = ?names, "adding the columns this version of medallion writes to the table");
            let operation = DeltaOperation::AddColumn { fields: added.clone() };
            let committed = CommitBuilder::from(without_upkeep())
                .with_actions(vec![Action::Metadata(metadata)])
                .build(Some(snapshot), self.table.log_store(), operation)
                .await;
            match committed.map_err(|error| super::commit_failure(&self.location, error)) {
                Ok(_) => {}
                // Another process opening the same table may have added them first: look again.
                Err(TableError::Conflict { message, .. }) => {
                    tracing::debug!(table = %self.location, %message, "adding columns conflicted; reloading the table")
                }
                Err(error) => return Err(error),
            }
            self.table.update_state().await.map_err(|source| self.open_error(source))?;
        }
        match self.fit()? {
            Fit::Fits => Ok(()),
            Fit::Widen { added, .. } => {
                let names: Vec<&str> = added.iter().map(|f| f.name().as_str()).collect();
                Err(self.schema_error(format!("cannot add the missing columns {names:?}")))
            }
        }
    }

    fn fit(&self) -> Result<Fit, TableError> {
        let snapshot = self.table.snapshot().map_err(|source| self.open_error(source))?;
        let existing = snapshot.schema();
        let wanted: StructType = self.schema.as_ref().try_into_kernel().map_err(|e| self.schema_error(e.to_string()))?;
        let added: Vec<StructField> = wanted.fields().filter(|f| existing.field(f.name()).is_none()).cloned().collect();
        if added.is_empty() {
            return Ok(Fit::Fits);
        }
        let missing: Vec<&str> = added.iter().map(|f| f.name().as_str()).collect();
        let required: Vec<&str> = added.iter().filter(|f| !f.is_nullable()).map(|f| f.name().as_str()).collect();
        if !required.is_empty() {
            return Err(self.schema_error(format!("missing columns {missing:?}, of which {required:?} cannot be null")));
        }
        // An older table of this stage only lacks columns; one with columns of its own as well
        // is another table, which medallion leaves as it is.
        let unknown: Vec<&str> = existing.fields().map(|f| f.name().as_str()).filter(|name| wanted.field(name).is_none()).collect();
        if !unknown.is_empty() {
            return Err(self.schema_error(format!("missing columns {missing:?}, and it has columns this stage does not write {unknown:?}")));
        }
        // The table's own definition of the columns it has (types, metadata) is kept.
        let in_stage_order = wanted.fields().map(|f| existing.field(f.name()).unwrap_or(f).clone());
        let schema = StructType::try_new(in_stage_order).map_err(|e| self.schema_error(e.to_string()))?;
        Ok(Fit::Widen { added, schema })
    }

    fn open_error(&self, source: deltalake::DeltaTableError) -> TableError {
        TableError::Open { location: self.location.clone(), source: Box::new(source) }
    }

    fn schema_error(&self, detail: String) -> TableError {
        TableError::Schema { location: self.location.clone(), detail }
    }
}
