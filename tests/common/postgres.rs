//! A real PostgreSQL server for the export tests: `scripts/postgres start` runs one (the test
//! command does), `POSTGRES_URL` names another. Each test gets a database of its own.

pub const DEFAULT_URL: &str = "postgres://medallion:medallion-test@127.0.0.1:15432/postgres";

/// The server's URL (its maintenance database); panics with instructions when it is not there.
pub fn server_url() -> String {
    let url = std::env::var("POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let parsed = url::Url::parse(&url).unwrap_or_else(|e| panic!("POSTGRES_URL is not a URL: {e}"));
    let address = format!("{}:{}", parsed.host_str().unwrap_or("127.0.0.1"), parsed.port().unwrap_or(5432));
    assert!(
        super::listening(&address),
        "no PostgreSQL server at {address}: start one with `scripts/postgres start`, or point POSTGRES_URL at one; \
         `scripts/test` does this by itself"
    );
    url
}

/// A new, empty database on the server: its URL.
pub fn fresh_database() -> String {
    let server = server_url();
    let name = format!("t{}", uuid::Uuid::new_v4().simple());
    query(&server, &format!("CREATE DATABASE {name}"));
    let mut url = url::Url::parse(&server).unwrap();
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// Runs `sql` on the database at `url` and returns every row, each column rendered as text
/// (`NULL` for null): what a dashboard would read.
pub fn query(url: &str, sql: &str) -> Vec<Vec<String>> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let (client, connection) =
            tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap_or_else(|e| panic!("connecting to PostgreSQL: {e}"));
        tokio::spawn(connection);
        let messages = client.simple_query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        messages
            .into_iter()
            .filter_map(|message| match message {
                tokio_postgres::SimpleQueryMessage::Row(row) => Some((0..row.len()).map(|i| row.get(i).unwrap_or("NULL").to_owned()).collect()),
                _ => None,
            })
            .collect()
    })
}

/// The one value `sql` selects.
pub fn scalar(url: &str, sql: &str) -> String {
    let rows = query(url, sql);
    assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
    rows[0][0].clone()
}
