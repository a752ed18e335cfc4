//! `medallion run`: bronze → silver → gold of every stream in one process, joined by table
//! versions (each stage reads what the one before committed, from storage), one
//! `CancellationToken` for all. The streams run side by side, each stage on its own stream's
//! topic and tables (see [`Config::for_stream`]).
//!
//! Running, the three stages work side by side, each on its own thread: bronze consumes Kafka,
//! silver polls bronze's log, gold refreshes on its interval. With `until_caught_up` they run one after the other instead,
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
    #[error("{stage}: the stage's thread ended without a result (it panicked or could not start); see the log")]
    Thread { stage: &'static str },
    #[error("stream {stream}: {source}")]
    Stream { stream: String, source: Box<PipelineError> },
    #[error("{0}")]
    Streams(#[source] GoldError),
    #[error("export: {0}")]
    Export(#[from] crate::lake::export::ExportError),
}

/// What the run did to one stream: each stage's own summary.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StreamRun {
    pub stream: String,
    pub bronze: BronzeSummary,
    pub silver: SilverSummary,
    pub gold: GoldSummary,
}

/// The `--json` summary of `medallion run`: per stream, each stage's own summary.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PipelineSummary {
    pub streams: Vec<StreamRun>,
    pub seconds: f64,
}

/// Runs every stream's pipeline until cancelled, or until caught up with the topics as they
/// were at start. The first stream to fail is reported, after the others have stopped.
pub async fn run(config: &Config, until_caught_up: bool, cancel: CancellationToken) -> Result<PipelineSummary, PipelineError> {
    let started = std::time::Instant::now();
    crate::gold::model::check_tables_distinct(&config.streams()).map_err(PipelineError::Streams)?;
    // Written here once, beside the streams (whose gold stages would race to write them, and
    // join the same rows from master data in memory), so bronze does not wait for them.
    let export = config.export.postgres.as_ref();
    let (dimensions, outcomes, ()) = tokio::join!(
        async {
            let written = crate::gold::dimensions::write(config).await;
            if let Err(error) = &written {
                tracing::error!(%error, "cannot write the dimension tables; the streams go on, and the run ends with this error");
            }
            written
        },
        super::each_stream(config, |view| {
            let cancel = cancel.clone();
            async move { if until_caught_up { run_in_turn(&view, &cancel).await } else { run_side_by_side(&view, &cancel).await } }
        }),
        async {
            if let Some(target) = export.filter(|_| !until_caught_up) {
                crate::lake::export::keep_exporting(config, target, &cancel).await;
            }
        }
    );
    dimensions?;
    let streams = outcomes
        .into_iter()
        .map(|(stream, outcome)| match outcome {
            Ok(run) => Ok(StreamRun { stream, ..run }),
            Err(source) => Err(PipelineError::Stream { stream, source: Box::new(source) }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Caught up, the run exports once, at the end, what every stage committed.
    if let Some(target) = export.filter(|_| until_caught_up) {
        let exported = crate::lake::export::export(config, target).await?;
        tracing::info!(target = %exported.target, "exported metrics to PostgreSQL");
    }
    Ok(PipelineSummary { streams, seconds: started.elapsed().as_secs_f64() })
}

async fn run_in_turn(config: &Config, cancel: &CancellationToken) -> Result<StreamRun, PipelineError> {
    let bronze = crate::bronze::run(config, true, cancel.clone()).await?;
    if cancel.is_cancelled() {
        return Ok(StreamRun { bronze, ..StreamRun::default() });
    }
    let silver = crate::silver::run(config, true, cancel.clone()).await?;
    if cancel.is_cancelled() {
        return Ok(StreamRun { bronze, silver, ..StreamRun::default() });
    }
    let gold = crate::gold::run(config, false, cancel.clone()).await?;
    Ok(StreamRun { bronze, silver, gold, stream: String::new() })
}

/// All three at once, each on its own thread with its own runtime, so silver's decoding and
/// gold's sorts and queries never hold the thread bronze's consumer polls on.
///
/// A bronze failure stops the others (nothing lands any more, and Kafka's retention may take what
/// was not read). Silver and gold failing lose nothing (their input stays in bronze and silver),
/// so the stages before them go on; the run reports the failure when it ends.
async fn run_side_by_side(config: &Config, cancel: &CancellationToken) -> Result<StreamRun, PipelineError> {
    let (silver_config, silver_cancel) = (config.clone(), cancel.clone());
    let silver = on_own_thread("silver", move || async move {
        let outcome = crate::silver::run(&silver_config, false, silver_cancel).await;
        if let Err(error) = &outcome {
            tracing::error!(%error, "silver stopped; bronze and gold go on, and the run ends with this error");
        }
        outcome
    });
    let (gold_config, gold_cancel) = (config.clone(), cancel.clone());
    let gold = on_own_thread("gold", move || async move { keep_gold_running(&gold_config, &gold_cancel).await });
    let bronze = stop_all_on_error(crate::bronze::run(config, false, cancel.clone()).await, cancel);
    let silver = silver.await.map_or(Err(PipelineError::Thread { stage: "silver" }), |outcome| outcome.map_err(PipelineError::from));
    let gold = gold.await.map_or(Err(PipelineError::Thread { stage: "gold" }), |outcome| outcome.map_err(PipelineError::from));
    Ok(StreamRun { bronze: bronze?, silver: silver?, gold: gold?, stream: String::new() })
}

/// Runs the future `make` returns on a new thread with a current-thread runtime (the future is
/// made there, so it need not be `Send`); `None` when the thread could not start or panicked.
fn on_own_thread<T: Send + 'static, F: std::future::Future<Output = T>>(
    name: &'static str,
    make: impl FnOnce() -> F + Send + 'static,
) -> impl std::future::Future<Output = Option<T>> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    // The stage's log lines keep the spans it was started in (its stream's).
    let span = tracing::Span::current();
    let spawned = std::thread::Builder::new().name(format!("medallion-{name}")).spawn(move || {
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => {
                let _ = sender.send(runtime.block_on(tracing::Instrument::instrument(make(), span)));
            }
            Err(error) => tracing::error!(%error, "cannot start a runtime for the stage"),
        }
    });
    if let Err(error) = &spawned {
        tracing::error!(%error, stage = name, "cannot start the stage's thread");
    }
    async move { receiver.await.ok() }
}

/// Gold until cancelled: waiting for silver to exist, retrying transient failures (inside
/// `gold::run`); a permanent failure is logged and returned, the other stages going on.
async fn keep_gold_running(config: &Config, cancel: &CancellationToken) -> Result<GoldSummary, GoldError> {
    // Silver creates its table on its first batch: until then there is nothing to refresh.
    while !cancel.is_cancelled() {
        match crate::gold::run(config, true, cancel.clone()).await {
            Err(GoldError::SilverMissing { .. }) => {
                tokio::select! {
                    () = cancel.cancelled() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
            Err(error) => {
                tracing::error!(%error, "gold stopped; bronze and silver go on, and the run ends with this error");
                return Err(error);
            }
            Ok(summary) => return Ok(summary),
        }
    }
    Ok(GoldSummary::default())
}

/// A stage's outcome; a failure first cancels the other stages.
fn stop_all_on_error<T, E: Into<PipelineError>>(outcome: Result<T, E>, cancel: &CancellationToken) -> Result<T, PipelineError> {
    outcome.map_err(|error| {
        cancel.cancel();
        error.into()
    })
}

impl std::fmt::Display for PipelineSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let streams: Vec<String> = self
            .streams
            .iter()
            .map(|run| {
                format!(
                    "{}: {} messages into bronze, {} rows checked into silver ({} quarantined), gold at silver version {} ({} commits)",
                    run.stream, run.bronze.messages, run.silver.rows.input, run.silver.rows.quarantined, run.gold.silver_version, run.gold.commits
                )
            })
            .collect();
        write!(f, "run in {:.1}s: {}", self.seconds, streams.join("; "))
    }
}

impl PipelineError {
    /// Whether the input was at fault (a rules file that does not load), not the run.
    pub fn is_invalid_input(&self) -> bool {
        match self {
            Self::Silver(error) => error.is_invalid_input(),
            Self::Stream { source, .. } => source.is_invalid_input(),
            Self::Streams(_) => true,
            _ => false,
        }
    }
}
