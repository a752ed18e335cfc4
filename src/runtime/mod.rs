//! The process around the stages: `medallion run` (every stage in one process, each on its own
//! thread), the metrics endpoint with its lag tracking, and the signals that stop or reload it.

pub mod pipeline;
pub mod serve;
pub mod signals;

use crate::config::Config;

/// Runs `stage` on every stream's copy of `config` ([`Config::views`]) side by side, and
/// gives each stream's name with its outcome, in `streams:` order.
pub async fn each_stream<T, F: std::future::Future<Output = T>>(config: &Config, stage: impl Fn(Config) -> F) -> Vec<(String, T)> {
    let runs = config.views().into_iter().map(|(stream, view)| {
        // Every log line of the stream's stages carries its name (the `stream` span).
        let span = tracing::info_span!("stream", stream = %stream.name);
        let run = tracing::Instrument::instrument(stage(view), span);
        async move { (stream.name, run.await) }
    });
    futures::future::join_all(runs).await
}
