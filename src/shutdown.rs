//! One [`CancellationToken`] for the whole process, cancelled by SIGINT or SIGTERM. A second
//! signal while shutting down exits at once.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Cancels `token` on the first SIGINT/SIGTERM; exits with 130 on the second.
pub fn cancel_on_signals(token: CancellationToken) -> std::io::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        for round in 0..2 {
            let name = tokio::select! {
                _ = interrupt.recv() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            };
            if round == 0 {
                tracing::info!(signal = name, "stopping: finishing outstanding work");
                token.cancel();
            } else {
                tracing::warn!(signal = name, "second signal: exiting without waiting");
                std::process::exit(130);
            }
        }
    });
    Ok(())
}
