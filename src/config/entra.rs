//! Event Hubs authentication with Microsoft Entra ID: SASL OAUTHBEARER with tokens librdkafka
//! fetches and refreshes itself (its OIDC support, built with libcurl), from a service
//! principal's client credentials or from the managed identity of the machine it runs on.

use serde::{Deserialize, Serialize};

use super::secret::Secret;

/// Microsoft Entra ID credentials for the `eventhubs` profile, instead of a connection string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntraConfig {
    /// The Event Hubs namespace host, e.g. `acme.servicebus.windows.net`: the tokens' audience
    /// (`https://<namespace>/.default`) and, when `kafka.bootstrap_servers` is empty, the
    /// bootstrap server (`<namespace>:9093`).
    pub namespace: String,
    /// Where the tokens come from.
    pub credential: EntraCredential,
}

/// How medallion proves who it is to Entra ID.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EntraCredential {
    /// A service principal (app registration) with a client secret: the client-credentials grant.
    ClientSecret {
        /// The directory (tenant) id.
        tenant_id: String,
        /// The application (client) id.
        client_id: String,
        /// The client secret; best given as `MEDALLION_KAFKA__ENTRA__CREDENTIAL__CLIENT_SECRET`.
        /// Never printed.
        client_secret: Secret,
        /// The Entra ID authority host; another cloud's (e.g. `https://login.microsoftonline.us`),
        /// or a test server.
        #[serde(default = "default_authority")]
        authority: String,
    },
    /// The managed identity of the VM, scale set or container host, through the Azure Instance
    /// Metadata Service (IMDS) on 169.254.169.254.
    ManagedIdentity {
        /// The client id of a user-assigned identity; the system-assigned one when unset.
        #[serde(default)]
        client_id: Option<String>,
    },
}

fn default_authority() -> String {
    "https://login.microsoftonline.com".to_owned()
}

/// The IMDS API version medallion asks for tokens with.
const IMDS_API_VERSION: &str = "2018-02-01";

impl EntraConfig {
    /// The bootstrap server of the namespace.
    pub fn bootstrap(&self) -> String {
        format!("{}:9093", self.namespace_host())
    }

    fn namespace_host(&self) -> &str {
        self.namespace.trim().trim_start_matches("sb://").trim_start_matches("https://").trim_end_matches('/')
    }

    /// The librdkafka settings of OAUTHBEARER with these credentials (secrets included: for the
    /// client only, never printed).
    pub fn client_settings(&self) -> Vec<(&'static str, String)> {
        let audience = format!("https://{}", self.namespace_host());
        let mut settings = vec![
            ("security.protocol", "SASL_SSL".to_owned()),
            ("sasl.mechanism", "OAUTHBEARER".to_owned()),
            ("sasl.oauthbearer.method", "oidc".to_owned()),
        ];
        match &self.credential {
            EntraCredential::ClientSecret { tenant_id, client_id, client_secret, authority } => {
                let endpoint = format!("{}/{}/oauth2/v2.0/token", authority.trim_end_matches('/'), tenant_id.trim());
                settings.push(("sasl.oauthbearer.token.endpoint.url", endpoint));
                settings.push(("sasl.oauthbearer.client.id", client_id.clone()));
                settings.push(("sasl.oauthbearer.client.secret", client_secret.expose().to_owned()));
                settings.push(("sasl.oauthbearer.scope", format!("{audience}/.default")));
            }
            EntraCredential::ManagedIdentity { client_id } => {
                settings.push(("sasl.oauthbearer.metadata.authentication.type", "azure_imds".to_owned()));
                let mut query = format!("api-version={IMDS_API_VERSION}&resource={audience}");
                if let Some(client_id) = client_id {
                    query.push_str(&format!("&client_id={client_id}"));
                }
                settings.push(("sasl.oauthbearer.config", format!("query={query}")));
            }
        }
        settings
    }

    /// What is wrong with these settings, each problem naming its field.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let host = self.namespace_host();
        if host.is_empty() || host.contains(['/', ' ', ',']) {
            problems.push(format!("kafka.entra.namespace: `{}` is not a namespace host such as acme.servicebus.windows.net", self.namespace));
        }
        if let EntraCredential::ClientSecret { tenant_id, client_id, client_secret, authority } = &self.credential {
            for (field, value) in [("tenant_id", tenant_id.as_str()), ("client_id", client_id.as_str())] {
                if value.trim().is_empty() {
                    problems.push(format!("kafka.entra.credential.{field}: required by a client_secret credential"));
                }
            }
            if client_secret.is_empty() {
                problems.push("kafka.entra.credential.client_secret: required by a client_secret credential (value not shown)".to_owned());
            }
            if !authority.starts_with("https://") && !authority.starts_with("http://127.0.0.1") && !authority.starts_with("http://localhost") {
                problems.push(format!("kafka.entra.credential.authority: `{authority}` must be an https:// URL"));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting<'a>(settings: &'a [(&str, String)], key: &str) -> Option<&'a str> {
        settings.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_service_principal_gets_the_client_credentials_grant() {
        let entra = EntraConfig {
            namespace: "acme.servicebus.windows.net".to_owned(),
            credential: EntraCredential::ClientSecret {
                tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".to_owned(),
                client_id: "0f5a1b2c-aaaa-bbbb-cccc-1234567890ab".to_owned(),
                client_secret: Secret::new("SECRET~value"),
                authority: default_authority(),
            },
        };
        let settings = entra.client_settings();
        assert_eq!(setting(&settings, "security.protocol"), Some("SASL_SSL"));
        assert_eq!(setting(&settings, "sasl.mechanism"), Some("OAUTHBEARER"));
        assert_eq!(setting(&settings, "sasl.oauthbearer.method"), Some("oidc"));
        assert_eq!(
            setting(&settings, "sasl.oauthbearer.token.endpoint.url"),
            Some("https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token")
        );
        assert_eq!(setting(&settings, "sasl.oauthbearer.client.id"), Some("0f5a1b2c-aaaa-bbbb-cccc-1234567890ab"));
        assert_eq!(setting(&settings, "sasl.oauthbearer.client.secret"), Some("SECRET~value"));
        assert_eq!(setting(&settings, "sasl.oauthbearer.scope"), Some("https://acme.servicebus.windows.net/.default"));
        assert_eq!(entra.bootstrap(), "acme.servicebus.windows.net:9093");
        assert!(entra.problems().is_empty());
        assert!(!format!("{entra:?}").contains("SECRET~value"), "the secret is masked in debug output");
    }

    #[test]
    fn a_managed_identity_asks_imds_for_the_namespace_audience() {
        let system = EntraConfig {
            namespace: "sb://acme.servicebus.windows.net/".to_owned(),
            credential: EntraCredential::ManagedIdentity { client_id: None },
        };
        let settings = system.client_settings();
        assert_eq!(setting(&settings, "sasl.oauthbearer.metadata.authentication.type"), Some("azure_imds"));
        assert_eq!(setting(&settings, "sasl.oauthbearer.config"), Some("query=api-version=2018-02-01&resource=https://acme.servicebus.windows.net"));
        assert_eq!(setting(&settings, "sasl.oauthbearer.client.secret"), None);
        let user_assigned = EntraConfig { credential: EntraCredential::ManagedIdentity { client_id: Some("uami-1".to_owned()) }, ..system };
        assert!(setting(&user_assigned.client_settings(), "sasl.oauthbearer.config").is_some_and(|c| c.ends_with("&client_id=uami-1")));
    }

    #[test]
    fn incomplete_credentials_are_named() {
        let entra = EntraConfig {
            namespace: String::new(),
            credential: EntraCredential::ClientSecret {
                tenant_id: " ".to_owned(),
                client_id: "app".to_owned(),
                client_secret: Secret::new(""),
                authority: "http://login.example".to_owned(),
            },
        };
        let problems = entra.problems().join("\n");
        for field in ["kafka.entra.namespace", "credential.tenant_id", "credential.client_secret", "credential.authority"] {
            assert!(problems.contains(field), "{problems}");
        }
    }
}
