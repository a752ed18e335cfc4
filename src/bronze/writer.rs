//! The commit side of bronze, on its own task so consumption goes on while Delta writes.
//!
//! The worker hands over [`CommitJob`]s one at a time: it fills the next batch while a commit
//! runs and waits for that commit's outcome before handing the batch over (back-pressure; see
//! `Worker::run`). Each part names the table position it continues from; the writer commits a
//! part only if the table still ends there, so a part whose partition
//! another worker has written since (a rebalance, a late commit) is rejected and the worker
//! re-reads that partition from the table. delta-rs refuses a concurrent commit of the same
//! partition's `txn`, which closes the remaining window.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use deltalake::DeltaTableError;
use tokio::sync::{mpsc, watch};

use super::assignment::app_id;
use super::continuity::Discontinuity;
use super::rows::rows_where;
use crate::maintain::Maintainer;
use crate::table::{CommitInfo, StageTable, TableError};

/// How often an idle writer checks whether its table is due for maintenance.
const IDLE_MAINTENANCE_CHECK: Duration = Duration::from_secs(1);

/// What one commit holds of one partition: its rows continue the table from `expected` up to
/// `last`.
pub struct JobPart {
    pub partition: i32,
    pub expected: Option<i64>,
    pub last: i64,
    /// Rows of this partition in the job's batches, and of them decoded.
    pub rows: u64,
    pub decoded: u64,
    /// An accepted offset reset this part starts with, recorded in the commit.
    pub accepted: Option<Discontinuity>,
}

/// One commit's worth of rows (of every part's partition, mixed) and its parts.
pub struct CommitJob {
    pub parts: Vec<JobPart>,
    pub batches: Vec<RecordBatch>,
}

/// What happened to a job.
#[derive(Debug, Default)]
pub struct CommitOutcome {
    /// Partitions committed, with their last offset, rows and decoded rows.
    pub committed: Vec<(i32, i64, u64, u64)>,
    /// Partitions whose table position moved: re-read them from this position.
    pub rejected: Vec<(i32, Option<i64>)>,
    pub info: Option<CommitInfo>,
}

/// Commits jobs until the queue closes, maintaining the table between commits. `give_up_at`
/// becomes set when the worker is stopping: storage retries end there instead of going on
/// forever.
pub async fn run_writer(
    mut table: StageTable,
    topic: String,
    mut jobs: mpsc::Receiver<CommitJob>,
    outcomes: mpsc::UnboundedSender<Result<CommitOutcome, TableError>>,
    give_up_at: watch::Receiver<Option<Instant>>,
    retry_backoff: Duration,
    mut maintainer: Maintainer,
) -> StageTable {
    loop {
        let job = tokio::select! {
            job = jobs.recv() => job,
            () = tokio::time::sleep(IDLE_MAINTENANCE_CHECK) => {
                maintainer.maintain_if_due(&mut table).await;
                continue;
            }
        };
        let Some(job) = job else { break };
        let outcome = commit_with_retries(&mut table, &topic, job, &give_up_at, retry_backoff).await;
        let failed = outcome.is_err();
        if outcomes.send(outcome).is_err() || failed {
            break;
        }
        maintainer.maintain_if_due(&mut table).await;
    }
    table
}

async fn commit_with_retries(
    table: &mut StageTable,
    topic: &str,
    mut job: CommitJob,
    give_up_at: &watch::Receiver<Option<Instant>>,
    retry_backoff: Duration,
) -> Result<CommitOutcome, TableError> {
    let mut backoff = retry_backoff;
    let mut outcome = CommitOutcome::default();
    loop {
        match try_commit(table, topic, &mut job, &mut outcome).await {
            Ok(()) => return Ok(outcome),
            Err(TableError::TxnConflict { .. }) => {
                tracing::warn!(table = %table.location(), "a commit with positions for these partitions landed first (another worker's, or this one's whose answer was lost); re-checking positions");
            }
            Err(error) if error.is_transient() => {
                if give_up_at.borrow().is_some_and(|deadline| Instant::now() + backoff > deadline) {
                    return Err(error);
                }
                tracing::error!(%error, ?backoff, "commit failed; retrying without moving positions");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
            Err(error) => return Err(error),
        }
    }
}

/// One attempt: drop the parts the table has moved past, commit the rest with their positions.
pub(super) async fn try_commit(table: &mut StageTable, topic: &str, job: &mut CommitJob, outcome: &mut CommitOutcome) -> Result<(), TableError> {
    table.refresh().await?;
    let mut kept = Vec::with_capacity(job.parts.len());
    let parts = job.parts.len();
    for part in job.parts.drain(..) {
        let current = table.position(&app_id(topic, part.partition)).await?;
        if current == part.expected {
            kept.push(part);
        } else if current == Some(part.last) {
            // Exactly this part is in the table: a commit of ours whose answer storage lost (or
            // another worker's of the same offsets). Its rows count as committed, once.
            tracing::warn!(
                partition = part.partition,
                last = part.last,
                "this part is in the table already (its commit's answer was lost); not written again"
            );
            record_committed(outcome, &part);
        } else {
            tracing::warn!(partition = part.partition, ?current, expected = ?part.expected, "the table moved past this part; it will be re-read");
            outcome.rejected.push((part.partition, current));
        }
    }
    if kept.len() < parts {
        // Only the kept parts' rows are written: the others are in the table, or re-read.
        let partitions: HashSet<i32> = kept.iter().map(|p| p.partition).collect();
        let write_error = |e| TableError::Write { location: table.location().to_owned(), source: Box::new(DeltaTableError::from(e)) };
        let batches = job.batches.iter().map(|batch| rows_where(batch, |_, partition| partitions.contains(&partition)).map_err(write_error));
        job.batches = batches.collect::<Result<_, _>>()?;
    }
    job.parts = kept;
    if job.parts.is_empty() {
        return Ok(());
    }
    let batches = &job.batches;
    let positions: Vec<(String, i64)> = job.parts.iter().map(|p| (app_id(topic, p.partition), p.last)).collect();
    let ranges: Vec<(i32, i64, i64)> = job.parts.iter().map(|p| (p.partition, p.expected.map_or(0, |e| e + 1), p.last)).collect();
    let started = Instant::now();
    let span = tracing::info_span!("bronze_commit", topic = %topic, table = %table.location(), offsets = ?ranges);
    let resets: Vec<serde_json::Value> =
        job.parts.iter().filter_map(|p| p.accepted.map(|d| serde_json::json!({"topic": topic, "partition": p.partition, "accepted": d}))).collect();
    let metadata = (!resets.is_empty()).then(|| ("medallion.acceptedOffsetResets".to_owned(), serde_json::Value::Array(resets)));
    let info = tracing::Instrument::instrument(table.append_recording(batches, &positions, metadata), span.clone()).await?;
    span.in_scope(|| {
        let rows = batches.iter().map(|b| b.num_rows()).sum::<usize>();
        tracing::info!(version = info.version, files = info.files, rows, elapsed = ?started.elapsed(), "committed");
    });
    for part in job.parts.drain(..) {
        record_committed(outcome, &part);
    }
    outcome.info = Some(info);
    Ok(())
}

fn record_committed(outcome: &mut CommitOutcome, part: &JobPart) {
    outcome.committed.push((part.partition, part.last, part.rows, part.decoded));
}
