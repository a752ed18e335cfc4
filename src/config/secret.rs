//! Values that must never appear in logs, errors or debug output.
//!
//! [`Secret`] wraps a string and prints as `***` through `Debug`, `Display` and `Serialize` (so
//! `medallion config check` shows that a secret is set without showing it). The only way to read
//! the value is [`Secret::expose`], which is called where the value is handed to a client library.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a masked value prints as.
pub const MASK: &str = "***";

/// A secret string: connection strings, passwords, account keys.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for handing to a client library. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(MASK)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// Whether a client-library setting name holds a credential (`sasl.password`, `ssl.key.password`,
/// `account_key`, `client_secret`, `sas_key`, ...).
pub fn is_sensitive_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    // `sasl.oauthbearer.config` holds a client secret or a token in its `key=value` pairs.
    ["password", "secret", "key", "token", "credential", "connection_string", "jaas", "oauthbearer.config"]
        .iter()
        .any(|word| key.contains(word))
        // Kafka message keys and key serializers are not credentials.
        && !matches!(key.as_str(), "key.serializer" | "key.deserializer")
}

/// A string → string map passed through to a client library, whose credential entries are
/// masked when printed or serialized.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct PassthroughMap(pub BTreeMap<String, String>);

impl PassthroughMap {
    fn masked(&self) -> BTreeMap<&str, &str> {
        self.0.iter().map(|(k, v)| (k.as_str(), if is_sensitive_key(k) { MASK } else { v.as_str() })).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }
}

impl fmt::Debug for PassthroughMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.masked()).finish()
    }
}

impl Serialize for PassthroughMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.masked().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_masked_everywhere() {
        let secret = Secret::new("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKey=abc");
        assert_eq!(format!("{secret:?}"), MASK);
        assert_eq!(format!("{secret}"), MASK);
        assert_eq!(serde_json::to_string(&secret).unwrap(), format!("\"{MASK}\""));
        assert!(secret.expose().contains("SharedAccessKey=abc"));
    }

    #[test]
    fn passthrough_masks_credentials_only() {
        let map = PassthroughMap(BTreeMap::from([("sasl.password".to_owned(), "hunter2".to_owned()), ("linger.ms".to_owned(), "5".to_owned())]));
        let printed = format!("{map:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("\"linger.ms\": \"5\""), "{printed}");
    }
}
