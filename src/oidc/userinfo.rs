//! The userinfo response: every claim kept (nested and non-standard ones too), flattened for
//! display as `ext.tenantId`, and the display name chosen from them.

use serde_json::{Map, Value};

use super::error::ProviderError;
use super::http::ProviderResponse;

/// A person's claims as the provider sent them.
#[derive(Clone, Debug, PartialEq)]
pub struct UserInfo {
    pub claims: Map<String, Value>,
}

impl UserInfo {
    pub fn parse(response: &ProviderResponse) -> Result<Self, ProviderError> {
        let claims = response.success_object()?;
        if claims
            .get("sub")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(response.malformed("userinfo has no sub".into()));
        }
        Ok(Self { claims })
    }

    pub fn sub(&self) -> &str {
        self.claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// `displayName` (IBM Security Verify), else `name`, else `preferred_username`, else `sub`.
    pub fn display_name(&self) -> String {
        ["displayName", "name", "preferred_username", "sub"]
            .iter()
            .find_map(|key| {
                self.claims
                    .get(*key)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or("")
            .to_owned()
    }

    /// Claims as sorted `(name, value)` rows; nested objects become dotted names.
    pub fn flattened(&self) -> Vec<(String, String)> {
        let mut rows = Vec::new();
        flatten_into(&mut rows, "", &Value::Object(self.claims.clone()), 0);
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    }
}

fn flatten_into(rows: &mut Vec<(String, String)>, prefix: &str, value: &Value, depth: usize) {
    match value {
        Value::Object(map) if depth < 8 => {
            for (key, v) in map {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten_into(rows, &name, v, depth + 1);
            }
        }
        Value::Array(items) if items.iter().all(|v| !v.is_object() && !v.is_array()) => {
            let text: Vec<String> = items.iter().map(scalar_text).collect();
            rows.push((prefix.to_owned(), text.join(", ")));
        }
        Value::Array(_) | Value::Object(_) => rows.push((prefix.to_owned(), value.to_string())),
        scalar => rows.push((prefix.to_owned(), scalar_text(scalar))),
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info(v: Value) -> UserInfo {
        UserInfo {
            claims: v.as_object().unwrap().clone(),
        }
    }

    #[test]
    fn display_name_order() {
        assert_eq!(
            info(json!({"sub":"1","name":"Al","displayName":"Alice"})).display_name(),
            "Alice"
        );
        assert_eq!(
            info(json!({"sub":"1","name":"Al","preferred_username":"al"})).display_name(),
            "Al"
        );
        assert_eq!(
            info(json!({"sub":"1","preferred_username":"al"})).display_name(),
            "al"
        );
        assert_eq!(info(json!({"sub":"1","name":"  "})).display_name(), "1");
    }

    #[test]
    fn nested_claims_are_flattened() {
        let u = info(
            json!({"sub":"1","ext":{"tenantId":"t-9","deep":{"x":true}},"groups":["a","b"],"email_verified":true}),
        );
        let rows = u.flattened();
        assert!(rows.contains(&("ext.tenantId".into(), "t-9".into())));
        assert!(rows.contains(&("ext.deep.x".into(), "true".into())));
        assert!(rows.contains(&("groups".into(), "a, b".into())));
        assert!(rows.contains(&("email_verified".into(), "true".into())));
    }
}
