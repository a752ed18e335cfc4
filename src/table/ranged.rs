//! A data file read by byte ranges from the table's object store: the footer first, then only
//! the column chunks a projection needs.

use std::ops::Range;
use std::sync::Arc;

use deltalake::{ObjectStore, Path};
use futures::FutureExt;
use futures::future::BoxFuture;
use object_store::ObjectStoreExt;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use tokio_util::bytes::Bytes;

/// Bytes fetched from the end of the file for its footer in one request (most footers fit).
const FOOTER_PREFETCH: usize = 64 * 1024;

/// One Parquet object of `size` bytes.
pub(super) struct RangedFile {
    pub store: Arc<dyn ObjectStore>,
    pub path: Path,
    pub size: u64,
}

/// Storage errors pass through as [`ParquetError::External`] holding the `object_store::Error`,
/// so the caller can tell a missing file from a bad one.
fn storage(error: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(error))
}

impl AsyncFileReader for RangedFile {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, Result<Bytes>> {
        async move { self.store.get_range(&self.path, range).await.map_err(storage) }.boxed()
    }

    fn get_byte_ranges(&mut self, ranges: Vec<Range<u64>>) -> BoxFuture<'_, Result<Vec<Bytes>>> {
        async move { self.store.get_ranges(&self.path, &ranges).await.map_err(storage) }.boxed()
    }

    fn get_metadata<'a>(&'a mut self, options: Option<&'a ArrowReaderOptions>) -> BoxFuture<'a, Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let reader = ParquetMetaDataReader::new()
                .with_metadata_options(options.map(|o| o.metadata_options().clone()))
                .with_prefetch_hint(Some(FOOTER_PREFETCH));
            Ok(Arc::new(reader.load_and_finish(self, size).await?))
        }
        .boxed()
    }
}
