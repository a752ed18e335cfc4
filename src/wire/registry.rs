//! A client of Confluent-compatible schema registries (Confluent, Redpanda, Karapace): registers
//! writer schemas and fetches schemas by id, for the Confluent framing.

use std::time::Duration;

use serde::Deserialize;

use crate::config::{RegistryConfig, Secret};

/// A registry request that failed, with the URL it went to.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("schema registry request to {url} failed: {source}")]
    Request { url: String, source: reqwest::Error },
    #[error("schema registry at {url} answered {status}: {body}")]
    Status { url: String, status: u16, body: String },
}

impl RegistryError {
    /// Worth asking again: the registry was unreachable, slow, overloaded or failing (5xx, 429),
    /// as opposed to an answer (a schema id it does not have, a request it refuses).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Request { .. } => true,
            Self::Status { status, .. } => *status >= 500 || *status == 429,
        }
    }
}

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A registry at one base URL.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    http: reqwest::Client,
    base_url: String,
    username: Option<String>,
    password: Option<Secret>,
}

#[derive(Deserialize)]
struct IdResponse {
    id: u32,
}

#[derive(Deserialize)]
struct SchemaResponse {
    schema: String,
}

impl RegistryClient {
    pub fn new(config: &RegistryConfig) -> Result<Self, RegistryError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(5).min(config.timeout))
            .build()
            .map_err(|source| RegistryError::Request { url: config.url.clone(), source })?;
        Ok(Self { http, base_url: config.url.trim_end_matches('/').to_owned(), username: config.username.clone(), password: config.password.clone() })
    }

    /// Registers `schema_json` under `subject` (idempotent: an identical schema keeps its id).
    pub async fn register(&self, subject: &str, schema_json: &str) -> Result<u32, RegistryError> {
        let url = format!("{}/subjects/{subject}/versions", self.base_url);
        let body = serde_json::json!({ "schema": schema_json });
        let request = self.http.post(&url).header("Content-Type", CONTENT_TYPE).json(&body);
        let response: IdResponse = self.send(&url, request).await?;
        Ok(response.id)
    }

    /// The schema text registered under `id`.
    pub async fn schema_by_id(&self, id: u32) -> Result<String, RegistryError> {
        let url = format!("{}/schemas/ids/{id}", self.base_url);
        let response: SchemaResponse = self.send(&url, self.http.get(&url)).await?;
        Ok(response.schema)
    }

    async fn send<T: serde::de::DeserializeOwned>(&self, url: &str, mut request: reqwest::RequestBuilder) -> Result<T, RegistryError> {
        if let Some(username) = &self.username {
            request = request.basic_auth(username, self.password.as_ref().map(Secret::expose));
        }
        let request_error = |source: reqwest::Error| RegistryError::Request { url: url.to_owned(), source: source.without_url() };
        let response = request.send().await.map_err(request_error)?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(RegistryError::Status { url: url.to_owned(), status: status.as_u16(), body: truncate(&body, 300) });
        }
        response.json().await.map_err(request_error)
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((index, _)) => format!("{}…", &text[..index]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    //! The client against a minimal registry endpoint on loopback that checks the request shape
    //! the Confluent REST API expects (no real registry can be installed on this machine).
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Serves one request: hands (request line, headers+body) to the test and answers `response`.
    async fn serve_once(status: &'static str, body: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            loop {
                let n = socket.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().parse::<usize>().unwrap()))
                        .unwrap_or(0);
                    if body.len() >= length {
                        break;
                    }
                }
            }
            let reply =
                format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            socket.write_all(reply.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&request).to_string()
        });
        (url, handle)
    }

    fn client(url: &str, password: Option<&str>) -> RegistryClient {
        RegistryClient::new(&RegistryConfig {
            url: url.to_owned(),
            username: password.map(|_| "svc".to_owned()),
            password: password.map(Secret::new),
            timeout: Duration::from_secs(5),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn register_posts_the_schema_under_the_subject() {
        let (url, request) = serve_once("200 OK", r#"{"id":42}"#).await;
        let id = client(&url, Some("pw")).register("orders-value", r#"{"type":"string"}"#).await.unwrap();
        assert_eq!(id, 42);
        let request = request.await.unwrap();
        assert!(request.starts_with("POST /subjects/orders-value/versions HTTP/1.1"), "{request}");
        assert!(request.to_ascii_lowercase().contains("content-type: application/vnd.schemaregistry.v1+json"), "{request}");
        assert!(request.to_ascii_lowercase().contains("authorization: basic"), "{request}");
        assert!(request.ends_with(r#"{"schema":"{\"type\":\"string\"}"}"#), "{request}");
    }

    #[tokio::test]
    async fn schema_by_id_reads_the_schema_text() {
        let (url, request) = serve_once("200 OK", r#"{"schema":"\"long\""}"#).await;
        assert_eq!(client(&url, None).schema_by_id(7).await.unwrap(), "\"long\"");
        assert!(request.await.unwrap().starts_with("GET /schemas/ids/7 HTTP/1.1"));
    }

    #[tokio::test]
    async fn errors_name_the_url_and_status() {
        let (url, _request) = serve_once("409 Conflict", r#"{"error_code":409,"message":"incompatible"}"#).await;
        let error = client(&url, Some("hunter2")).register("orders-value", "{}").await.unwrap_err().to_string();
        assert!(error.contains(&format!("{url}/subjects/orders-value/versions")) && error.contains("409"), "{error}");
        assert!(error.contains("incompatible") && !error.contains("hunter2"), "{error}");
    }

    #[tokio::test]
    async fn an_unreachable_registry_is_named() {
        let error = client("http://127.0.0.1:1", None).schema_by_id(1).await.unwrap_err().to_string();
        assert!(error.contains("http://127.0.0.1:1/schemas/ids/1"), "{error}");
    }
}
