//! Rule and rule-set fingerprints, computed as DQX computes them: SHA-256 of Python's
//! `json.dumps(..., sort_keys=True, default=str)` of the rule's defining fields. Reproducing
//! Python's JSON text byte for byte (separators `", "` and `": "`, ASCII escapes, float repr)
//! is what makes our fingerprints equal DQX's.

use serde_yaml::Value;
use sha2::{Digest, Sha256};

/// SHA-256 of `text` as lowercase hex.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A JSON value as Python's `json` module sees a YAML-loaded rule (keys sorted on output).
#[derive(Debug, Clone, PartialEq)]
pub enum PyJson {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<PyJson>),
    Object(Vec<(String, PyJson)>),
}

impl PyJson {
    /// The value PyYAML's `safe_load` would give for `value` (mapping keys rendered as strings,
    /// as `default=str` would after `sort_keys` - DQX rules only have string keys).
    pub fn from_yaml(value: &Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => n.as_i64().map_or_else(|| Self::Float(n.as_f64().unwrap_or(f64::NAN)), Self::Int),
            Value::String(s) => Self::Str(s.clone()),
            Value::Sequence(items) => Self::List(items.iter().map(Self::from_yaml).collect()),
            Value::Mapping(map) => Self::Object(map.iter().map(|(k, v)| (scalar_text(k), Self::from_yaml(v))).collect()),
            Value::Tagged(tagged) => Self::from_yaml(&tagged.value),
        }
    }

    /// `json.dumps(self, sort_keys=True)` with Python's default separators and `ensure_ascii`.
    pub fn dumps(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Self::Null => out.push_str("null"),
            Self::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Self::Int(i) => out.push_str(&i.to_string()),
            Self::Float(f) => out.push_str(&python_float_repr(*f)),
            Self::Str(s) => write_string(s, out),
            Self::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Self::Object(entries) => {
                let mut sorted: Vec<&(String, PyJson)> = entries.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                out.push('{');
                for (i, (key, value)) in sorted.into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_string(key, out);
                    out.push_str(": ");
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// A YAML scalar as text: strings as they are, anything else as YAML prints it.
pub fn scalar_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other).unwrap_or_default().trim().to_owned(),
    }
}

/// A JSON string literal as Python writes it with `ensure_ascii=True`.
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7E => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `repr(float)`: the shortest round-trip digits, scientific below 1e-4 and from 1e16.
pub fn python_float_repr(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let (negative, digits, exponent) = shortest_digits(value);
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exponent) {
        format!("{sign}{}", plain(&digits, exponent, ".0"))
    } else {
        let mantissa = if digits.len() > 1 { format!("{}.{}", &digits[..1], &digits[1..]) } else { digits.clone() };
        let exp_sign = if exponent < 0 { "-" } else { "+" };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.abs())
    }
}

/// Sign, significant digits and decimal exponent (value = 0.d1d2... × 10^(exponent+1)) of the
/// shortest representation that round-trips, as Rust's `{:e}` prints it.
pub fn shortest_digits(value: f64) -> (bool, String, i32) {
    let text = format!("{:e}", value.abs());
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (value.is_sign_negative(), digits, exponent.parse().unwrap_or(0))
}

/// Digits placed around the decimal point for `exponent` (of the first digit); `integral_suffix`
/// is appended when no fraction remains (".0" for Python and Java).
pub fn plain(digits: &str, exponent: i32, integral_suffix: &str) -> String {
    if exponent < 0 {
        format!("0.{}{digits}", "0".repeat((-exponent - 1) as usize))
    } else {
        let point = exponent as usize + 1;
        if digits.len() > point {
            format!("{}.{}", &digits[..point], &digits[point..])
        } else {
            format!("{digits}{}{integral_suffix}", "0".repeat(point - digits.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python() {
        for (value, repr) in
            [(0.01, "0.01"), (1.0, "1.0"), (50000.0, "50000.0"), (1e-5, "1e-05"), (1e16, "1e+16"), (123.456, "123.456"), (-2.5, "-2.5")]
        {
            assert_eq!(python_float_repr(value), repr);
        }
    }

    #[test]
    fn dumps_sorts_keys_and_escapes_like_python() {
        let value = PyJson::Object(vec![
            ("b".into(), PyJson::List(vec![PyJson::Str("'NEW'".into()), PyJson::Int(3)])),
            ("a".into(), PyJson::Str("é\"x".into())),
            ("c".into(), PyJson::Null),
        ]);
        assert_eq!(value.dumps(), r#"{"a": "\u00e9\"x", "b": ["'NEW'", 3], "c": null}"#);
    }
}
