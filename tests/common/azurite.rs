//! Azurite, the Azure Storage emulator, for the ADLS Gen2 tests: `scripts/azurite start` runs it
//! (the test command does), `AZURITE_BLOB_ENDPOINT` names another one. Each test works in a
//! container of its own, created here with a SharedKey-signed request, and points medallion at it
//! the way a user points it at a real account: account name, key (or SAS) and endpoint in
//! `lake.storage_options`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// Azurite's development account and its key, published in Azurite's documentation (not a secret).
pub const ACCOUNT: &str = "devstoreaccount1";
pub const ACCOUNT_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";
/// The REST API version of the requests signed here.
const API_VERSION: &str = "2021-08-06";

/// The Blob endpoint under test (account in the path, as Azurite serves it); panics with
/// instructions when nothing listens there.
pub fn endpoint() -> String {
    let endpoint = std::env::var("AZURITE_BLOB_ENDPOINT").unwrap_or_else(|_| DEFAULT_ENDPOINT.to_owned());
    let url = url::Url::parse(&endpoint).unwrap_or_else(|e| panic!("AZURITE_BLOB_ENDPOINT={endpoint} is not a URL: {e}"));
    let address = format!("{}:{}", url.host_str().unwrap_or("127.0.0.1"), url.port_or_known_default().unwrap_or(10000));
    assert!(
        super::listening(&address),
        "no Azurite Blob service at {endpoint}: start it with `scripts/azurite start`, or point AZURITE_BLOB_ENDPOINT at one; \
         `scripts/test` does this by itself"
    );
    endpoint.trim_end_matches('/').to_owned()
}

/// A container of its own on the emulator.
pub struct Container {
    pub name: String,
    pub endpoint: String,
}

impl Container {
    /// Creates a new, uniquely named container.
    pub fn create() -> Self {
        let endpoint = endpoint();
        let name = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..20]);
        let url = format!("{endpoint}/{name}?restype=container");
        let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let path = url::Url::parse(&url).unwrap().path().to_owned();
        let to_sign = format!("PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{API_VERSION}\n/{ACCOUNT}{path}\nrestype:container");
        let authorization = format!("SharedKey {ACCOUNT}:{}", sign(&to_sign));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let response = runtime.block_on(async {
            reqwest::Client::new()
                .put(&url)
                .header("x-ms-date", &date)
                .header("x-ms-version", API_VERSION)
                .header("Authorization", authorization)
                .header("Content-Length", "0")
                .send()
                .await
        });
        let response = response.unwrap_or_else(|e| panic!("creating container {name} at {endpoint}: {e}"));
        assert_eq!(response.status().as_u16(), 201, "creating container {name} at {endpoint}: {response:?}");
        Self { name, endpoint }
    }

    /// The root of a lake in this container, as an `az://` URL.
    pub fn lake_root(&self) -> String {
        format!("az://{}/lake", self.name)
    }

    /// The location of the lake's table at `relative` (e.g. `bronze/purchase_order_items`).
    pub fn table(&self, relative: &str) -> String {
        format!("{}/{relative}", self.lake_root())
    }

    /// `lake.storage_options` with the account key, reaching the emulator at `endpoint` (this
    /// container's, or a proxy in front of it).
    pub fn key_options(&self, endpoint: &str) -> BTreeMap<String, String> {
        let mut options = self.account_options(endpoint);
        options.insert("azure_storage_account_key".into(), ACCOUNT_KEY.into());
        options
    }

    /// `lake.storage_options` with an account SAS instead of the key.
    pub fn sas_options(&self, sas: &str) -> BTreeMap<String, String> {
        let mut options = self.account_options(&self.endpoint);
        options.insert("azure_storage_sas_key".into(), sas.into());
        options
    }

    fn account_options(&self, endpoint: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("azure_storage_account_name".into(), ACCOUNT.into()),
            ("azure_storage_endpoint".into(), endpoint.into()),
            // The emulator speaks plain HTTP on loopback; a real account needs none of this.
            ("azure_allow_http".into(), "true".into()),
        ])
    }

    /// A config file's text: the lake in this container with `options`, then `extra` YAML.
    pub fn config(&self, options: &BTreeMap<String, String>, extra: &str) -> String {
        let mut yaml = format!("lake:\n  root: {}\n  storage_options:\n", self.lake_root());
        for (key, value) in options {
            yaml.push_str(&format!("    {key}: {}\n", serde_json::Value::String(value.clone())));
        }
        yaml + extra
    }

    /// Storage options for reading the lake back from this process (the key, straight to Azurite).
    pub fn read_options(&self) -> std::collections::HashMap<String, String> {
        self.key_options(&self.endpoint).into_iter().collect()
    }
}

/// An account SAS for the Blob service (read, write, delete, list, add, create), valid until
/// 2099: the query string a user pastes into `azure_storage_sas_key`.
pub fn account_sas() -> String {
    let (permissions, services, resource_types, expiry, protocols) = ("rwdlac", "b", "sco", "2099-01-01T00:00:00Z", "https,http");
    let to_sign = format!("{ACCOUNT}\n{permissions}\n{services}\n{resource_types}\n\n{expiry}\n\n{protocols}\n{API_VERSION}\n\n");
    let signature = url::form_urlencoded::byte_serialize(sign(&to_sign).as_bytes()).collect::<String>();
    format!("sv={API_VERSION}&ss={services}&srt={resource_types}&sp={permissions}&se={expiry}&spr={protocols}&sig={signature}")
}

/// The `sig=` value of a SAS query string (what must never be printed).
pub fn sas_signature(sas: &str) -> String {
    sas.split('&').find_map(|pair| pair.strip_prefix("sig=")).expect("a SAS has a signature").to_owned()
}

fn sign(text: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &BASE64.decode(ACCOUNT_KEY).unwrap());
    BASE64.encode(ring::hmac::sign(&key, text.as_bytes()).as_ref())
}

/// Every row of the table at `location` on the emulator, read by a fresh handle from storage.
pub fn read_table(container: &Container, location: &str) -> arrow::array::RecordBatch {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        deltalake::azure::register_handlers(None);
        let reader = medallion::table::TableReader::open(location, container.read_options())
            .await
            .unwrap_or_else(|e| panic!("reading {location}: {e}"))
            .unwrap_or_else(|| panic!("no table at {location}"));
        let schema = reader.schema().unwrap();
        reader.read_all(&schema).await.unwrap_or_else(|e| panic!("reading {location}: {e}"))
    })
}
