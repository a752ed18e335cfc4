//! One step of a refresh: the silver versions after the current table's position up to `until`,
//! merged into the current state, then into each gold table.
//!
//! The current state is kept in sorted `order_id` ranges: a step reads and rewrites only the
//! files holding the orders its rows touch. Every row of a touched order is in those files, so
//! the step knows each touched order's line items before and after the merge ([`Touched`]), and
//! the aggregates follow from them alone: `order_status` recomputes the touched orders' rows, the
//! additive aggregates add the difference. A gold table whose position is not where the current
//! table's was (its first refresh, or a crash between two commits) is recomputed whole once.

use arrow::array::RecordBatch;

use super::super::GoldError;
use super::super::additive;
use super::super::aggregate::Upkeep;
use super::super::quality::{self, QualityDaily};
use super::super::ranged::{Ranges, distinct_keys, rows_with_keys, sorted_by};
use super::{Gold, arrow_error, as_version, report};
use crate::table::{DataFile, KeyValue, SourceKey, StageTable, TableReader};

/// What a step changed in the current state.
pub(super) struct Touched {
    /// The current table's position before the step: gold tables there can follow incrementally.
    from: Option<u64>,
    /// The orders (entity values) the step's rows touched, sorted.
    keys: Vec<KeyValue>,
    /// Their rows in the current state before and after the step.
    before: RecordBatch,
    after: RecordBatch,
}

impl Gold {
    /// Merges silver versions `from+1..=until` into the current state; `None` when the current
    /// table was already there.
    pub(super) async fn step_current(
        &mut self,
        from: Option<u64>,
        until: u64,
        summary: &mut super::GoldSummary,
    ) -> Result<Option<Touched>, GoldError> {
        if from.is_some_and(|p| p >= until) {
            summary.record(report("current", &self.current, None));
            return Ok(None);
        }
        let positions = [(self.current_key.app_id(), until as i64)];
        let schema = self.current_schema.clone();
        let files = self.silver_appends.since(&self.silver, from, until).await?;
        let silver_rows = self.silver.read(&files, &self.silver_read_schema, None).await?;
        let incoming = self.spec.incoming(&schema, &silver_rows).map_err(|e| arrow_error("current", e))?;
        let empty = RecordBatch::new_empty(schema.clone());
        if incoming.num_rows() == 0 {
            // Silver versions without rows for it (maintenance, empty batches): only the position moves.
            self.current.append(&[], &positions).await?;
            summary.record(report("current", &self.current, Some(0)));
            return Ok(Some(Touched { from, keys: Vec::new(), before: empty.clone(), after: empty }));
        }
        let entity = self.spec.entity().to_owned();
        let entity_column = incoming
            .column_by_name(&entity)
            .ok_or_else(|| arrow_error("current", arrow::error::ArrowError::SchemaError(format!("column {entity} is missing"))))?;
        let keys = distinct_keys(entity_column.as_ref()).map_err(|e| arrow_error("current", e))?;
        let touched_files = self.current_ranges.files_for(&self.current, &keys)?;
        let existing = self.current.read(&touched_files, &schema).await?;
        let merged = self.spec.merge_incoming(&schema, &existing, &incoming).map_err(|e| arrow_error("current", e))?;
        let info = self.current_ranges.rewrite(&mut self.current, &touched_files, &merged, &positions).await?;
        tracing::debug!(
            silver_rows = silver_rows.num_rows(),
            files_rewritten = touched_files.len(),
            rows_written = merged.num_rows(),
            version = info.version,
            "current state merged"
        );
        summary.record(report("current", &self.current, Some(merged.num_rows())));
        let of_keys = |rows: &RecordBatch| rows_with_keys(rows, &entity, &keys, true).map_err(|e| arrow_error("current", e));
        Ok(Some(Touched { from, before: of_keys(&existing)?, after: of_keys(&merged)?, keys }))
    }

    /// Brings gold table `index` to `until`: incrementally from `touched` when it stood where the
    /// current table stood, else recomputed from the whole current state.
    pub(super) async fn step_aggregate(
        &mut self,
        index: usize,
        until: u64,
        touched: Option<&Touched>,
        summary: &mut super::GoldSummary,
    ) -> Result<(), GoldError> {
        let positions = [(self.gold_key.app_id(), until as i64)];
        let entry = &mut self.aggregates[index];
        let name = entry.aggregate.name.clone();
        if entry.table.is_none() {
            // Another refresh of this lake may have created it since this one looked.
            entry.table = StageTable::open_existing(&entry.location, self.storage_options.clone()).await?;
            if matches!(entry.aggregate.upkeep, Upkeep::PerEntity) {
                entry.table = entry.table.take().map(StageTable::key_ordered);
            }
        }
        let position = match entry.table.as_mut() {
            Some(table) => {
                table.refresh().await?;
                as_version(table.source_position(&self.gold_key, &[]).await?)
            }
            None => None,
        };
        if position.is_some_and(|p| p >= until) {
            summary.record(report(&name, entry.table.as_ref().unwrap_or(&self.current), None));
            return Ok(());
        }
        if let Upkeep::Derived { from } = &entry.aggregate.upkeep {
            let from = from.clone();
            let written = self.derive(index, &from, &positions).await?;
            let entry = &self.aggregates[index];
            summary.record(report(&name, entry.table.as_ref().unwrap_or(&self.current), Some(written)));
            return Ok(());
        }
        let written = match touched.filter(|t| t.from == position) {
            Some(touched) if touched.keys.is_empty() && entry.table.is_some() => {
                let table = entry.table.as_mut().ok_or_else(|| GoldError::NotOpen { table: name.clone() })?;
                table.append(&[], &positions).await?;
                Some(0)
            }
            Some(touched) => self.follow(index, touched, &positions).await?,
            None => None,
        };
        let written = match written {
            Some(rows) => rows,
            None => self.recompute(index, &positions).await?,
        };
        let entry = &self.aggregates[index];
        summary.record(report(&name, entry.table.as_ref().unwrap_or(&self.current), Some(written)));
        Ok(())
    }

    /// Applies `touched` to gold table `index` (not a derived one); the rows written, or `None`
    /// when it must be recomputed whole (a maximum may have dropped).
    async fn follow(&mut self, index: usize, touched: &Touched, positions: &[(String, i64)]) -> Result<Option<usize>, GoldError> {
        let aggregate = self.aggregates[index].aggregate.clone();
        let error = |e| arrow_error(&aggregate.name, e);
        match &aggregate.upkeep {
            Upkeep::PerEntity => {
                let recomputed = aggregate.evaluate(&touched.after).await?;
                let schema = recomputed.schema();
                let ranges = self.aggregate_ranges(&schema);
                let table = self.aggregate_table(index, &schema).await?;
                let files = ranges.files_for(table, &touched.keys)?;
                let kept = rows_with_keys(&table.read(&files, &schema).await?, &ranges.key, &touched.keys, false).map_err(error)?;
                let rows = sorted_by(&schema, &[kept, recomputed], &ranges.key).map_err(error)?;
                ranges.rewrite(table, &files, &rows, positions).await?;
                Ok(Some(rows.num_rows()))
            }
            Upkeep::Additive(spec) => {
                let before = aggregate.evaluate(&touched.before).await?;
                let after = aggregate.evaluate(&touched.after).await?;
                let schema = after.schema();
                let table = self.aggregate_table(index, &schema).await?;
                let existing = table.read_all(&schema).await?;
                let Some(rows) = additive::combine(spec, &existing, &before, &after).map_err(error)? else {
                    tracing::info!(table = %aggregate.name, "a maximum may have dropped; recomputing the table whole");
                    return Ok(None);
                };
                table.replace(std::slice::from_ref(&rows), positions).await?;
                Ok(Some(rows.num_rows()))
            }
            Upkeep::Derived { .. } => Ok(None),
        }
    }

    /// Recomputes derived gold table `index` whole from the gold tables it reads (`from`, brought
    /// to this step's position before it); the rows written.
    async fn derive(&mut self, index: usize, from: &[String], positions: &[(String, i64)]) -> Result<usize, GoldError> {
        let mut inputs = Vec::with_capacity(from.len());
        for source in from {
            let table = self.aggregates.iter().find(|a| &a.aggregate.name == source).and_then(|a| a.table.as_ref());
            let table = table.ok_or_else(|| GoldError::NotOpen { table: source.clone() })?;
            inputs.push((source.as_str(), table.read_all(&table.schema()).await?));
        }
        let aggregate = self.aggregates[index].aggregate.clone();
        let computed = aggregate.evaluate_over(&inputs.iter().map(|(name, rows)| (*name, rows)).collect::<Vec<_>>()).await?;
        let table = self.aggregate_table(index, &computed.schema()).await?;
        table.replace(std::slice::from_ref(&computed), positions).await?;
        Ok(computed.num_rows())
    }

    /// Recomputes gold table `index` from the whole current state; the rows written.
    async fn recompute(&mut self, index: usize, positions: &[(String, i64)]) -> Result<usize, GoldError> {
        let aggregate = self.aggregates[index].aggregate.clone();
        let current = self.current.read_all(&self.current_schema).await?;
        let computed = aggregate.evaluate(&current).await?;
        let schema = computed.schema();
        let ranges = self.aggregate_ranges(&schema);
        let table = self.aggregate_table(index, &schema).await?;
        match aggregate.upkeep {
            Upkeep::PerEntity => {
                let files: Vec<DataFile> = table.keyed_files(&ranges.key)?.into_iter().map(|keyed| keyed.file).collect();
                let rows = sorted_by(&schema, std::slice::from_ref(&computed), &ranges.key).map_err(|e| arrow_error(&aggregate.name, e))?;
                ranges.rewrite(table, &files, &rows, positions).await?;
            }
            Upkeep::Additive(_) | Upkeep::Derived { .. } => {
                table.replace(std::slice::from_ref(&computed), positions).await?;
            }
        }
        Ok(computed.num_rows())
    }

    /// How a per-entity gold table is laid out: by its first column (the entity).
    fn aggregate_ranges(&self, schema: &arrow::datatypes::SchemaRef) -> Ranges {
        Ranges { key: schema.fields().first().map_or_else(|| self.spec.entity().to_owned(), |f| f.name().clone()), file_rows: self.file_rows }
    }

    /// Gold table `index`, created with `schema` if it does not exist yet.
    async fn aggregate_table(&mut self, index: usize, schema: &arrow::datatypes::SchemaRef) -> Result<&mut StageTable, GoldError> {
        let entry = &mut self.aggregates[index];
        if entry.table.is_none() {
            let mut table = StageTable::open_or_create(&entry.location, self.storage_options.clone(), schema.clone(), &[]).await?;
            if matches!(entry.aggregate.upkeep, Upkeep::PerEntity) {
                table = table.key_ordered();
            }
            entry.table = Some(table);
        }
        entry.table.as_mut().ok_or_else(|| GoldError::NotOpen { table: entry.aggregate.name.clone() })
    }

    /// Brings `quality_daily` to silver version `until` and to the last quarantine batch silver
    /// has finished (at bronze position `bronze_position`).
    pub(super) async fn step_quality(&mut self, until: u64, bronze_position: Option<i64>, summary: &mut super::GoldSummary) -> Result<(), GoldError> {
        self.quality.refresh().await?;
        let quarantine_key = self.open_quarantine().await?.map(|(_, key)| key.clone());
        let quarantine_keys: Vec<SourceKey> = quarantine_key.iter().cloned().collect();
        let silver_position = as_version(self.quality.source_position(&self.gold_key, &quarantine_keys).await?);
        let quarantine_position = match &quarantine_key {
            Some(key) => as_version(self.quality.source_position(key, std::slice::from_ref(&self.gold_key)).await?),
            None => None,
        };
        let (quarantine_files, quarantine_last) = self.final_quarantine_files(quarantine_position, bronze_position).await?;
        if silver_position.is_some_and(|p| p >= until) && quarantine_last == quarantine_position {
            summary.record(report("quality_daily", &self.quality, None));
            return Ok(());
        }
        let silver_files = if silver_position.is_some_and(|p| p >= until) {
            Vec::new()
        } else {
            self.silver_appends.since(&self.silver, silver_position, until).await?
        };
        let silver_to = silver_position.map_or(until, |p| p.max(until));
        let mut positions = vec![(self.gold_key.app_id(), silver_to as i64)];
        positions.extend(quarantine_key.zip(quarantine_last).map(|(key, q)| (key.app_id(), q as i64)));
        if silver_position.is_some() && silver_files.is_empty() && quarantine_files.is_empty() {
            self.quality.append(&[], &positions).await?;
            summary.record(report("quality_daily", &self.quality, Some(0)));
            return Ok(());
        }
        let error = |e| arrow_error("quality_daily", e);
        let input = quality::input_schema();
        let mut daily = QualityDaily::default();
        daily.add_rows(&self.silver.read(&silver_files, &input, None).await?).map_err(error)?;
        if let Some((quarantine, _)) = &self.quarantine {
            daily.add_rows(&quarantine.read(&quarantine_files, &input, None).await?).map_err(error)?;
        }
        let touched: Vec<i32> = daily.0.keys().copied().collect();
        daily.absorb(QualityDaily::from_batch(&self.quality.read_all(&quality::schema()).await?).map_err(error)?);
        judge_days(&daily, &touched, self.quality_threshold, &self.quality_table);
        let rows = daily.to_batch(self.quality_threshold).map_err(error)?;
        self.quality.replace(std::slice::from_ref(&rows), &positions).await?;
        summary.record(report("quality_daily", &self.quality, Some(rows.num_rows())));
        Ok(())
    }

    /// Quarantine files added after version `after` by batches silver has finished (quarantine
    /// commits before silver, so its newest batch may not be final yet), and the last such version.
    async fn final_quarantine_files(&mut self, after: Option<u64>, bronze_position: Option<i64>) -> Result<(Vec<DataFile>, Option<u64>), GoldError> {
        let Some((quarantine, _)) = self.quarantine.as_mut() else {
            return Ok((Vec::new(), after));
        };
        let latest = quarantine.refresh().await?;
        let (mut files, mut last) = (Vec::new(), after);
        for version in after.map_or(0, |v| v + 1)..=latest {
            let entry = quarantine.entry(version).await?;
            let batch_end = entry.positions.iter().find(|(app, _)| self.bronze_key.matches(app)).map(|(_, end)| *end);
            if batch_end.is_some_and(|end| Some(end) > bronze_position) {
                break;
            }
            files.extend(entry.appended_only(quarantine.location(), version)?);
            last = Some(version);
        }
        Ok((files, last))
    }

    /// Quarantine and its key, opened once it exists (silver creates it on its first batch).
    async fn open_quarantine(&mut self) -> Result<Option<&(TableReader, SourceKey)>, GoldError> {
        if self.quarantine.is_none()
            && let Some(reader) = TableReader::open(&self.quarantine_location, self.storage_options.clone()).await?
        {
            let key = SourceKey::gold(reader.table_id()?, &self.quarantine_location, &self.quarantine_table);
            self.quarantine = Some((reader, key));
        }
        Ok(self.quarantine.as_ref())
    }
}

/// The quality gate of the days this refresh added rows to: a WARN line and a count for each
/// below the threshold; the latest day's share as a gauge.
fn judge_days(daily: &QualityDaily, touched: &[i32], threshold: f64, table: &str) {
    let label = crate::telemetry::QualityLabel { scope: "day".to_owned(), table: table.to_owned() };
    let metrics = crate::telemetry::metrics();
    if let Some(share) = daily.0.values().next_back().and_then(quality::DayQuality::error_pass_share) {
        metrics.error_pass_share.get_or_create(&label).set(share);
    }
    for day in touched {
        let Some(share) = daily.0.get(day).and_then(quality::DayQuality::error_pass_share) else { continue };
        if share < threshold {
            metrics.quality_below_threshold.get_or_create(&label).inc();
            let date = arrow::temporal_conversions::date32_to_datetime(*day).map(|t| t.date().to_string()).unwrap_or_default();
            tracing::warn!(day = %date, share, threshold, "day below the quality threshold: fewer rows than silver.quality_threshold passed the error checks");
        }
    }
}
