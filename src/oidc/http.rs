//! The HTTP side of talking to a provider: a client that never follows redirects (so a
//! provider cannot bounce the server to an internal address), with connect and overall
//! timeouts, and bodies read up to a cap. Responses are parsed from JSON or, where a server
//! sends one anyway, from a form-encoded body.

use serde_json::{Map, Value};

use super::config::ProviderConfig;
use super::error::{ErrorCode, OAuthError, ProviderError};

/// A provider's answer, read in full (up to the cap) and not yet interpreted.
#[derive(Clone, Debug)]
pub struct ProviderResponse {
    pub endpoint: String,
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Builds the HTTP client: rustls (no system OpenSSL), no redirects, bounded waits.
pub fn build_client(config: &ProviderConfig) -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        .user_agent(concat!("tvsignin/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ProviderError::Unsupported(format!("cannot build the HTTP client: {e}")))
}

/// Sends a request and reads the body up to `limit` bytes.
pub async fn send(
    request: reqwest::RequestBuilder,
    endpoint: &str,
    limit: usize,
) -> Result<ProviderResponse, ProviderError> {
    let mut response = request
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| transport_error(endpoint, &e))?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(length) = response.content_length() {
        if length > limit as u64 {
            return Err(ProviderError::TooLarge {
                endpoint: endpoint.to_owned(),
                limit,
            });
        }
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(endpoint, &e))?
    {
        if body.len() + chunk.len() > limit {
            return Err(ProviderError::TooLarge {
                endpoint: endpoint.to_owned(),
                limit,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(ProviderResponse {
        endpoint: endpoint.to_owned(),
        status,
        content_type,
        body,
    })
}

fn transport_error(endpoint: &str, error: &reqwest::Error) -> ProviderError {
    if error.is_timeout() {
        ProviderError::Timeout {
            endpoint: endpoint.to_owned(),
        }
    } else {
        // The error's Display can include the URL but never a request body, so no secret.
        let mut detail = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            detail = format!("{detail}: {cause}");
            source = cause.source();
        }
        ProviderError::Unreachable {
            endpoint: endpoint.to_owned(),
            detail,
        }
    }
}

impl ProviderResponse {
    /// The body as a JSON object. A form-encoded body becomes an object of strings.
    pub fn object(&self) -> Result<Map<String, Value>, ProviderError> {
        let is_form = self.content_type.as_deref().is_some_and(|t| {
            t.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
        if is_form {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&self.body)
                .map_err(|e| self.malformed(format!("bad form body: {e}")))?;
            return Ok(pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect());
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(self.malformed("the body is JSON but not an object".into())),
            Err(e) => Err(self.malformed(format!("not JSON: {e}"))),
        }
    }

    pub fn malformed(&self, detail: String) -> ProviderError {
        ProviderError::Malformed {
            endpoint: self.endpoint.clone(),
            detail,
        }
    }

    /// The OAuth error in the body, if there is one, whatever the HTTP status: servers send
    /// errors with 200, 400, 401, 403 and 429.
    pub fn oauth_error(&self) -> Option<OAuthError> {
        let map = self.object().ok()?;
        oauth_error_in(&map)
    }

    /// Parses a successful JSON/form body, or turns the response into the right error.
    pub fn success_object(&self) -> Result<Map<String, Value>, ProviderError> {
        let parsed = self.object();
        if let Ok(map) = &parsed {
            if let Some(error) = oauth_error_in(map) {
                return Err(ProviderError::OAuth(error));
            }
        }
        if !(200..300).contains(&self.status) {
            return Err(ProviderError::Status {
                endpoint: self.endpoint.clone(),
                status: self.status,
            });
        }
        parsed
    }
}

/// Reads `error` / `error_description` from a response object.
pub fn oauth_error_in(map: &Map<String, Value>) -> Option<OAuthError> {
    let code = map.get("error")?.as_str()?;
    if code.is_empty() {
        return None;
    }
    let description = map
        .get("error_description")
        .and_then(Value::as_str)
        .map(|d| d.chars().take(500).collect());
    Some(OAuthError {
        code: ErrorCode::parse(code),
        description,
    })
}

/// A string field.
pub fn string_field(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// A non-negative integer that some servers send as a string (or as a float).
pub fn u64_field(map: &Map<String, Value>, key: &str) -> Option<u64> {
    match map.get(key)? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, content_type: &str, body: &str) -> ProviderResponse {
        ProviderResponse {
            endpoint: "token".into(),
            status,
            content_type: Some(content_type.into()),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn form_bodies_parse_like_json() {
        let r = response(
            200,
            "application/x-www-form-urlencoded; charset=utf-8",
            "device_code=abc&interval=7",
        );
        let map = r.object().unwrap();
        assert_eq!(string_field(&map, "device_code").as_deref(), Some("abc"));
        assert_eq!(u64_field(&map, "interval"), Some(7));
    }

    #[test]
    fn errors_are_read_whatever_the_status() {
        for status in [200, 400, 401, 403, 429] {
            let r = response(status, "application/json", r#"{"error":"slow_down"}"#);
            assert_eq!(
                r.oauth_error().unwrap().code,
                ErrorCode::SlowDown,
                "status {status}"
            );
            assert!(matches!(r.success_object(), Err(ProviderError::OAuth(_))));
        }
    }

    #[test]
    fn a_5xx_without_an_error_is_a_status_error() {
        let r = response(503, "text/html", "<h1>down</h1>");
        assert!(matches!(
            r.success_object(),
            Err(ProviderError::Status { status: 503, .. })
        ));
        assert!(r.success_object().unwrap_err().is_transient());
    }

    #[test]
    fn malformed_json_is_transient() {
        let r = response(200, "application/json", "{\"access_token\": ");
        let err = r.success_object().unwrap_err();
        assert!(matches!(err, ProviderError::Malformed { .. }));
        assert!(err.is_transient());
    }
}
