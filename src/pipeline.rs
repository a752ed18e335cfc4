//! `medallion run`: bronze → silver → gold in one process, joined by table versions (each stage
//! reads what the one before committed, from storage), one `CancellationToken` for all.
//!
//! Running, the three stages work side by side: bronze consumes Kafka, silver polls bronze's log,
//! gold refreshes on its interval. With `until_caught_up` they run one after the other instead,
//! each to the end of what the previous one committed, so the run ends with every layer
//! reflecting every message that was in the topic when it started.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::bronze::{BronzeError, BronzeSummary};
use crate::config::Config;
use crate::gold::{GoldError, GoldSummary};
use crate::silver::{SilverError, SilverSummary};

/// Which stage failed, and why.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("bronze: {0}")]
    Bronze(#[from] BronzeError),
    #[error("silver: {0}")]
    Silver(#[from] SilverError),
    #[error("gold: {0}")]
    Gold(#[from] GoldError),
}

/// The `--json` summary of `medallion run`: each stage's own summary.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PipelineSummary {
    pub bronze: BronzeSummary,
    pub silver: SilverSummary,
    pub gold: GoldSummary,
    pub seconds: f64,
}

/// Runs the pipeline until cancelled, or until caught up with the topic as it was at start.
pub async fn run(config: &Config, until_caught_up: bool, cancel: CancellationToken) -> Result<PipelineSummary, PipelineError> {
    let started = std::time::Instant::now();
    let mut summary = if until_caught_up { run_in_turn(config, &cancel).await? } else { run_side_by_side(config, &cancel).await? };
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

async fn run_in_turn(config: &Config, cancel: &CancellationToken) -> Result<PipelineSummary, PipelineError> {
    let bronze = crate::bronze::run(config, true, cancel.clone()).await?;
    if cancel.is_cancelled() {
        return Ok(PipelineSummary { bronze, ..PipelineSummary::default() });
    }
    let silver = crate::silver::run(config, true, cancel.clone()).await?;
    if cancel.is_cancelled() {
        return Ok(PipelineSummary { bronze, silver, ..PipelineSummary::default() });
    }
    let gold = crate::gold::run(config, false, cancel.clone()).await?;
    Ok(PipelineSummary { bronze, silver, gold, seconds: 0.0 })
}

/// All three at once; the first failure stops the others (they commit what they hold).
async fn run_side_by_side(config: &Config, cancel: &CancellationToken) -> Result<PipelineSummary, PipelineError> {
    let bronze = async { stop_all_on_error(crate::bronze::run(config, false, cancel.clone()).await, cancel) };
    let silver = async { stop_all_on_error(crate::silver::run(config, false, cancel.clone()).await, cancel) };
    let gold = async {
        // Silver creates its table on its first batch: until then there is nothing to refresh.
        while !cancel.is_cancelled() {
            match crate::gold::run(config, true, cancel.clone()).await {
                Err(GoldError::SilverMissing { .. }) => {
                    tokio::select! {
                        () = cancel.cancelled() => {}
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
                other => return stop_all_on_error(other, cancel),
            }
        }
        Ok(GoldSummary::default())
    };
    // Not try_join: after a failure the others must still finish their shutdown (flush, commit).
    let (bronze, silver, gold) = tokio::join!(bronze, silver, gold);
    Ok(PipelineSummary { bronze: bronze?, silver: silver?, gold: gold?, seconds: 0.0 })
}

/// A stage's outcome; a failure first cancels the other stages.
fn stop_all_on_error<T, E: Into<PipelineError>>(outcome: Result<T, E>, cancel: &CancellationToken) -> Result<T, PipelineError> {
    outcome.map_err(|error| {
        cancel.cancel();
        error.into()
    })
}
