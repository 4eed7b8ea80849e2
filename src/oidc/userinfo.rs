//! The userinfo response: every claim kept (nested and non-standard ones too), flattened for
//! display as `ext.tenantId`, and the display name chosen from them; and [`ClaimSelection`],
//! the few of them a shared screen may show (`SHOW_CLAIMS`).

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

/// The claims a TV shows (`SHOW_CLAIMS`), by flattened name, in the order given. A name also
/// selects what is nested under it (`address` selects `address.locality`). Everything else
/// stays on the server: a TV is a shared screen, and people nearby need not learn a phone
/// number or a home address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimSelection {
    names: Vec<String>,
}

impl Default for ClaimSelection {
    fn default() -> Self {
        Self {
            names: Self::DEFAULT.iter().map(|n| (*n).to_owned()).collect(),
        }
    }
}

impl ClaimSelection {
    /// Enough to confirm who signed in, nothing more.
    pub const DEFAULT: &'static [&'static str] = &["name", "preferred_username", "email"];

    /// Reads a comma-separated list of claim names, or `none`. The problem, if any, is a
    /// sentence for the settings error.
    pub fn parse(list: &str) -> Result<Self, String> {
        if list.trim().eq_ignore_ascii_case("none") {
            return Ok(Self { names: Vec::new() });
        }
        let mut names: Vec<String> = Vec::new();
        for name in list.split(',').map(str::trim) {
            if name.is_empty() {
                return Err(format!(
                    "{list:?} has an empty name (list names separated by commas, or none)"
                ));
            }
            if name.contains('*') {
                return Err(format!(
                    "{name:?}: name each claim to show; there is no wildcard, the TV is a shared screen"
                ));
            }
            if name.chars().any(char::is_whitespace) {
                return Err(format!(
                    "{name:?} is not a claim name (separate names with commas)"
                ));
            }
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
        Ok(Self { names })
    }

    /// The selected names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The rows of `flattened` (see [`UserInfo::flattened`]) this selection shows, in the
    /// selection's order; the others are dropped.
    pub fn pick(&self, flattened: Vec<(String, String)>) -> Vec<(String, String)> {
        let mut rows: Vec<Option<(String, String)>> = flattened.into_iter().map(Some).collect();
        let mut shown = Vec::new();
        for name in &self.names {
            for slot in rows.iter_mut() {
                let selected = slot.as_ref().is_some_and(|(row, _)| {
                    row == name
                        || row
                            .strip_prefix(name.as_str())
                            .is_some_and(|rest| rest.starts_with('.'))
                });
                if selected {
                    shown.extend(slot.take());
                }
            }
        }
        shown
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
    fn a_selection_shows_only_the_claims_it_names_in_its_order() {
        let u = info(json!({
            "sub": "1", "name": "Alice", "email": "a@example.test", "preferred_username": "alice",
            "phone_number": "+44 20 7946 0018",
            "address": {"locality": "Oxford", "country": "GB"},
            "ext": {"tenantId": "t-9"}, "extra": "x",
        }));
        let names =
            |rows: Vec<(String, String)>| rows.into_iter().map(|(n, _)| n).collect::<Vec<_>>();

        let shown = names(ClaimSelection::default().pick(u.flattened()));
        assert_eq!(shown, ["name", "preferred_username", "email"]);

        // A parent name selects what is nested under it; `ext` does not select `extra`.
        let chosen = ClaimSelection::parse(" email, address ,ext,email").unwrap();
        assert_eq!(chosen.names(), ["email", "address", "ext"]);
        assert_eq!(
            names(chosen.pick(u.flattened())),
            [
                "email",
                "address.country",
                "address.locality",
                "ext.tenantId"
            ]
        );
        assert_eq!(
            ClaimSelection::parse("ext.tenantId")
                .unwrap()
                .pick(u.flattened()),
            [("ext.tenantId".to_owned(), "t-9".to_owned())]
        );
        // A claim the provider did not send is simply not there.
        assert!(ClaimSelection::parse("groups")
            .unwrap()
            .pick(u.flattened())
            .is_empty());
        assert!(ClaimSelection::parse("None")
            .unwrap()
            .pick(u.flattened())
            .is_empty());

        for bad in ["", "name,,email", "*", "ext.*", "given name"] {
            assert!(ClaimSelection::parse(bad).is_err(), "{bad:?}");
        }
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
