//! Object-store requests counted: every local (`file://`) table the process opens goes through a
//! store that counts the calls it forwards (listings, reads, writes, deletes). Installed in
//! deltalake's object-store registry for the bench process only.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use deltalake::logstore::{ObjectStoreFactory, ObjectStoreRef, StorageConfig, object_store_factories};
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult,
    RenameOptions, Result,
};

/// Requests since the process started.
#[derive(Debug, Default)]
pub struct Requests {
    pub lists: AtomicU64,
    pub gets: AtomicU64,
    pub puts: AtomicU64,
    pub deletes: AtomicU64,
}

/// A snapshot of [`Requests`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub lists: u64,
    pub gets: u64,
    pub puts: u64,
    pub deletes: u64,
}

impl std::ops::Sub for Counts {
    type Output = Counts;
    fn sub(self, earlier: Counts) -> Counts {
        Counts {
            lists: self.lists - earlier.lists,
            gets: self.gets - earlier.gets,
            puts: self.puts - earlier.puts,
            deletes: self.deletes - earlier.deletes,
        }
    }
}

pub static REQUESTS: Requests = Requests { lists: AtomicU64::new(0), gets: AtomicU64::new(0), puts: AtomicU64::new(0), deletes: AtomicU64::new(0) };

pub fn counts() -> Counts {
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    Counts { lists: load(&REQUESTS.lists), gets: load(&REQUESTS.gets), puts: load(&REQUESTS.puts), deletes: load(&REQUESTS.deletes) }
}

fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Routes every `file://` table through a counting store.
pub fn install() {
    let url = url::Url::parse("file://").expect("a valid URL");
    object_store_factories().insert(url, Arc::new(CountingFactory));
}

struct CountingFactory;

impl ObjectStoreFactory for CountingFactory {
    fn parse_url_opts(&self, url: &url::Url, config: &StorageConfig) -> deltalake::DeltaResult<(ObjectStoreRef, Path)> {
        let (store, path) = object_store::parse_url_opts(url, &config.raw)?;
        Ok((Arc::new(Counting { inner: Arc::from(store) }), path))
    }
}

#[derive(Debug)]
struct Counting {
    inner: Arc<dyn ObjectStore>,
}

impl fmt::Display for Counting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for Counting {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        count(&REQUESTS.puts);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        count(&REQUESTS.puts);
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        count(&REQUESTS.gets);
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        count(&REQUESTS.gets);
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        count(&REQUESTS.deletes);
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        count(&REQUESTS.lists);
        self.inner.list(prefix)
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        count(&REQUESTS.lists);
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        count(&REQUESTS.lists);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        count(&REQUESTS.puts);
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        count(&REQUESTS.puts);
        self.inner.rename_opts(from, to, options).await
    }
}
