//! Sinks for inspection: an Avro object container file, or JSON lines on standard output.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use tokio::sync::mpsc;

use super::source::Outgoing;
use super::summary::DeliveryStats;
use crate::wire::schema::CatalogEntry;

/// Why an inspection sink failed.
#[derive(Debug, thiserror::Error)]
pub enum FileSinkError {
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot write Avro to {path}: {source}")]
    Avro { path: PathBuf, source: Box<apache_avro::Error> },
}

/// Writes every event to an Avro object container file with the writer schema in its header.
/// Runs on the blocking pool (file writes block).
pub fn write_avro_file(
    path: PathBuf,
    entry: &'static CatalogEntry,
    mut events: mpsc::Receiver<Vec<Outgoing>>,
    mut stats: DeliveryStats,
) -> Result<DeliveryStats, FileSinkError> {
    let avro_error = |path: &PathBuf, source| FileSinkError::Avro { path: path.clone(), source: Box::new(source) };
    let file = File::create(&path).map_err(|source| FileSinkError::Io { path: path.clone(), source })?;
    let mut writer = apache_avro::Writer::new(&entry.schema, BufWriter::new(file)).map_err(|e| avro_error(&path, e))?;
    let version = entry.embedded.version;
    while let Some(batch) = events.blocking_recv() {
        for message in batch {
            let Some(item) = &message.item else { continue };
            item.append_to(&mut writer, version).map_err(|e| avro_error(&path, e))?;
            stats.record_sent(message.defect, None);
        }
    }
    let mut inner = writer.into_inner().map_err(|e| avro_error(&path, e))?;
    inner.flush().map_err(|source| FileSinkError::Io { path: path.clone(), source })?;
    Ok(stats)
}

/// Writes every event as one JSON object per line on standard output.
pub fn write_json_lines(version: u32, mut events: mpsc::Receiver<Vec<Outgoing>>, mut stats: DeliveryStats) -> Result<DeliveryStats, FileSinkError> {
    let io_error = |source| FileSinkError::Io { path: PathBuf::from("<stdout>"), source };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    while let Some(batch) = events.blocking_recv() {
        for message in batch {
            let Some(item) = &message.item else { continue };
            serde_json::to_writer(&mut out, &item.to_json(version)).map_err(|e| io_error(e.into()))?;
            out.write_all(b"\n").map_err(io_error)?;
            stats.record_sent(message.defect, None);
        }
    }
    out.flush().map_err(io_error)?;
    Ok(stats)
}
