//! The metrics endpoint: `GET /metrics` in the Prometheus text format while `--metrics-addr` is
//! set, and the per-partition lag gauges kept current from the brokers and bronze's positions.
//!
//! The server answers one fixed request, so it is a few lines on a `TcpListener` rather than an
//! HTTP framework (mini-redis serves its metrics apart from its command loop the same way).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::telemetry::{PartitionLabel, metrics};

/// Serves `GET /metrics` on `addr` until cancelled, and keeps the lag gauges current.
pub async fn serve(addr: SocketAddr, config: Config, cancel: CancellationToken) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "metrics at http://{addr}/metrics");
    tokio::spawn(track_lag(config, cancel.clone()));
    loop {
        let (mut stream, _) = tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            accepted = listener.accept() => accepted?,
        };
        tokio::spawn(async move {
            let mut request = [0u8; 1024];
            let read = stream.read(&mut request).await.unwrap_or(0);
            let wanted = request[..read].starts_with(b"GET /metrics ") || request[..read].starts_with(b"GET / ");
            let (status, body) = if wanted { ("200 OK", metrics().render()) } else { ("404 Not Found", "not found: try GET /metrics\n".to_owned()) };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        });
    }
}

/// Every 5 s, per-partition lag from the brokers and bronze's positions (as `status` computes it).
async fn track_lag(config: Config, cancel: CancellationToken) {
    let mut probes: Vec<_> = config.views().iter().map(|(_, view)| crate::lake::status::LagProbe::new(view)).collect();
    loop {
        for probe in &mut probes {
            let status = probe.sample().await;
            for partition in status.partitions {
                let label = PartitionLabel { topic: status.topic.clone(), partition: i64::from(partition.partition) };
                metrics().partition_lag.get_or_create(&label).set(partition.lag);
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}
