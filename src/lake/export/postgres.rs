//! The PostgreSQL side of the export: connection (credentials never printed), the tables
//! (created when missing), export positions, and inserts.

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Transaction};

use super::ExportError;
use super::cells::Cell;

/// Every export position: the last Delta version of each (stream, source) copied, and the id of
/// the table it came from (a table recreated under the same path is not taken for the old one).
const POSITIONS: &str = "CREATE TABLE IF NOT EXISTS medallion_export_positions (
    stream text NOT NULL, source text NOT NULL, table_id text NOT NULL, version bigint NOT NULL,
    exported_at timestamptz NOT NULL, PRIMARY KEY (stream, source))";

/// One row per commit of every stage table.
const STAGE_COMMITS: &str = "CREATE TABLE IF NOT EXISTS medallion_stage_commits (
    stream text NOT NULL, stage text NOT NULL, table_location text NOT NULL, version bigint NOT NULL,
    committed_at timestamptz, operation text, rows bigint, files integer NOT NULL, bytes bigint NOT NULL,
    input_version bigint, freshness_ms bigint, PRIMARY KEY (stream, stage, version))";

/// One row per export and partition.
const KAFKA_LAG: &str = "CREATE TABLE IF NOT EXISTS medallion_kafka_lag (
    exported_at timestamptz NOT NULL, stream text NOT NULL, topic text NOT NULL, partition integer NOT NULL,
    delta_offset bigint, committed_offset bigint, high_watermark bigint NOT NULL, lag bigint NOT NULL,
    PRIMARY KEY (exported_at, stream, partition))";

/// The database, named without its credentials.
pub struct Database {
    pub client: Client,
    pub target: String,
}

/// Connects to `url`. Errors name host, port and database, never the URL (it holds the password).
pub async fn connect(url: &str) -> Result<Database, ExportError> {
    let config: tokio_postgres::Config =
        url.parse().map_err(|source: tokio_postgres::Error| ExportError::Url { reason: without_secrets(&source.to_string(), url) })?;
    let target = describe(&config);
    let (client, connection) = config.connect(NoTls).await.map_err(|source| ExportError::Connect { target: target.clone(), source })?;
    let connection_target = target.clone();
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(target = %connection_target, %error, "the PostgreSQL connection ended");
        }
    });
    let database = Database { client, target };
    // `CREATE ... IF NOT EXISTS` tells of every table and column already there, at NOTICE.
    for ddl in ["SET client_min_messages TO warning", POSITIONS, STAGE_COMMITS, KAFKA_LAG] {
        database.client.batch_execute(ddl).await.map_err(|source| database.error("creating the export tables", source))?;
    }
    Ok(database)
}

impl Database {
    pub fn error(&self, doing: &str, source: tokio_postgres::Error) -> ExportError {
        error(&self.target, doing, source)
    }
}

/// What failed at the database named `target` (for use while a transaction borrows it).
pub fn error(target: &str, doing: &str, source: tokio_postgres::Error) -> ExportError {
    ExportError::Database { target: target.to_owned(), doing: doing.to_owned(), source }
}

/// `user@host:port/database`.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{}@{host}:{port}/{}", config.get_user().unwrap_or("?"), config.get_dbname().unwrap_or("(default)"))
}

/// `text` with every piece of `url` that could be a credential masked (a parse error may quote
/// the input).
fn without_secrets(text: &str, url: &str) -> String {
    if text.contains(url) { text.replace(url, crate::config::MASK) } else { text.to_owned() }
}

/// The position of (stream, source), locked until the transaction ends: two exporters of one
/// lake take turns instead of both copying the same versions.
pub async fn lock_position(tx: &Transaction<'_>, stream: &str, source: &str) -> Result<Option<(String, i64)>, tokio_postgres::Error> {
    let row = tx
        .query_opt("SELECT table_id, version FROM medallion_export_positions WHERE stream = $1 AND source = $2 FOR UPDATE", &[&stream, &source])
        .await?;
    Ok(row.map(|row| (row.get(0), row.get(1))))
}

/// Records the position of (stream, source), in the transaction that copied its rows.
pub async fn store_position(tx: &Transaction<'_>, stream: &str, source: &str, table_id: &str, version: i64) -> Result<(), tokio_postgres::Error> {
    tx.execute(
        "INSERT INTO medallion_export_positions (stream, source, table_id, version, exported_at) VALUES ($1, $2, $3, $4, now())
         ON CONFLICT (stream, source) DO UPDATE SET table_id = EXCLUDED.table_id, version = EXCLUDED.version, exported_at = EXCLUDED.exported_at",
        &[&stream, &source, &table_id, &version],
    )
    .await?;
    Ok(())
}

/// Serialises exporters of (stream, source) before its first position exists.
pub async fn lock_source(tx: &Transaction<'_>, stream: &str, source: &str) -> Result<(), tokio_postgres::Error> {
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&format!("medallion-export/{stream}/{source}")]).await?;
    Ok(())
}

/// Inserts `rows` (each in `columns` order) into `table`, many rows per statement.
pub async fn insert(
    tx: &Transaction<'_>,
    table: &str,
    columns: &[String],
    rows: Vec<Vec<Cell>>,
    on_conflict: &str,
) -> Result<u64, tokio_postgres::Error> {
    // PostgreSQL takes at most 65,535 parameters per statement.
    let per_statement = (60_000 / columns.len().max(1)).max(1);
    let names = columns.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
    let mut inserted = 0;
    for chunk in rows.chunks(per_statement) {
        let mut sql = format!("INSERT INTO {table} ({names}) VALUES ");
        let mut parameters: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(chunk.len() * columns.len());
        for (i, row) in chunk.iter().enumerate() {
            let placeholders: Vec<String> = (0..row.len()).map(|j| format!("${}", parameters.len() + j + 1)).collect();
            sql.push_str(&format!("{}({})", if i == 0 { "" } else { ", " }, placeholders.join(", ")));
            parameters.extend(row.iter().map(|cell| cell.as_ref() as &(dyn ToSql + Sync)));
        }
        sql.push(' ');
        sql.push_str(on_conflict);
        inserted += tx.execute(sql.as_str(), &parameters).await?;
    }
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_named_without_its_password() {
        let config: tokio_postgres::Config = "postgres://exporter:S3CRET@db.example.com:6432/metrics".parse().unwrap();
        assert_eq!(describe(&config), "exporter@db.example.com:6432/metrics");
        let config: tokio_postgres::Config = "host=/run/postgresql user=me password=S3CRET".parse().unwrap();
        assert!(!describe(&config).contains("S3CRET"));
    }
}
