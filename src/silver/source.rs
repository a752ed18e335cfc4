//! Reading bronze incrementally: the files the `add` actions of versions `after+1 ..= until`
//! list (see [`TableReader`]), only the columns silver needs (never the raw payloads), each row
//! tagged with the bronze version that added it.

use std::collections::HashMap;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;

use super::SilverError;
use super::refine::BRONZE_VERSION;
use crate::table::TableReader;

/// How large a batch may grow (ignored when replaying a batch whose end is already known).
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_versions: usize,
    pub max_bytes: u64,
}

/// Bronze rows of consecutive versions, in the silver `read` schema.
#[derive(Debug)]
pub struct BronzeSlice {
    pub first_version: u64,
    pub last_version: u64,
    pub batch: RecordBatch,
    pub files: usize,
    pub bytes: u64,
}

/// The bronze table, read-only.
pub struct BronzeSource {
    reader: TableReader,
    read_schema: SchemaRef,
    /// Versions gone past without reading (`silver.skip_bronze_versions`).
    skipped_versions: Vec<u64>,
}

impl BronzeSource {
    /// Opens bronze at `location`; `None` while the table does not exist yet.
    pub async fn open(location: &str, storage_options: HashMap<String, String>, read_schema: SchemaRef) -> Result<Option<Self>, SilverError> {
        Ok(TableReader::open(location, storage_options).await?.map(|reader| Self { reader, read_schema, skipped_versions: Vec::new() }))
    }

    /// Goes past `versions` without reading them.
    pub fn skipping(mut self, versions: &[u64]) -> Self {
        self.skipped_versions = versions.to_vec();
        self
    }

    pub fn location(&self) -> &str {
        self.reader.location()
    }

    /// Bronze's `metaData.id`, which silver keys its positions by.
    pub fn table_id(&self) -> Result<String, SilverError> {
        Ok(self.reader.table_id()?)
    }

    /// The newest bronze version, after reloading the log.
    pub async fn latest_version(&mut self) -> Result<u64, SilverError> {
        Ok(self.reader.refresh().await?)
    }

    /// Reads the versions after `after` (from version 0 when `None`) up to `until`, fewer when
    /// `limits` says the batch is full (always at least one version).
    pub async fn read(&self, after: Option<u64>, until: u64, limits: Option<BatchLimits>) -> Result<BronzeSlice, SilverError> {
        let first_version = after.map_or(0, |v| v + 1);
        let (mut batches, mut files, mut bytes) = (Vec::new(), 0, 0u64);
        let mut last_version = first_version;
        for version in first_version..=until {
            if let Some(limits) = limits
                && version > first_version
                && ((version - first_version) as usize >= limits.max_versions || bytes >= limits.max_bytes)
            {
                break;
            }
            let added = self.appended(version).await?;
            files += added.len();
            bytes += added.iter().map(|file| file.size).sum::<u64>();
            let rows = self.reader.read(&added, &self.read_schema, Some((BRONZE_VERSION, version))).await;
            batches.push(rows.map_err(|source| SilverError::BronzeVersion {
                location: self.location().to_owned(),
                version,
                source: Box::new(source),
            })?);
            last_version = version;
        }
        let batch = concat_batches(&self.read_schema, &batches).map_err(|e| SilverError::Bronze {
            location: self.location().to_owned(),
            message: format!("versions {first_version}..={last_version}: {e}"),
        })?;
        Ok(BronzeSlice { first_version, last_version, batch, files, bytes })
    }

    /// The files bronze version `version` appended (none for a skipped version); a version that
    /// deleted or rewrote rows stops silver.
    async fn appended(&self, version: u64) -> Result<Vec<crate::table::DataFile>, SilverError> {
        if self.skipped_versions.contains(&version) {
            tracing::warn!(bronze = %self.location(), version, "going past a bronze version without reading it (silver.skip_bronze_versions)");
            return Ok(Vec::new());
        }
        let entry = self.reader.entry(version).await?;
        entry.appended_only(self.location(), version).map_err(|source| SilverError::BronzeRewritten { version, source: Box::new(source) })
    }
}
