//! The signals a long-running command answers: SIGINT and SIGTERM cancel the process's one
//! [`CancellationToken`] (a second one while shutting down exits at once); SIGHUP asks for the
//! configuration to be read again.

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

/// Calls `reload` on every SIGHUP, until the process ends.
pub fn on_hangup(mut reload: impl FnMut() + Send + 'static) -> std::io::Result<()> {
    let mut hangup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            reload();
        }
    });
    Ok(())
}
