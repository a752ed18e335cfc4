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
        Ok(Self {
            http,
            base_url: config.url.trim_end_matches('/').to_owned(),
            username: config.username.clone(),
            password: config.password.clone(),
        })
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

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        mut request: reqwest::RequestBuilder,
    ) -> Result<T, RegistryError> {
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
