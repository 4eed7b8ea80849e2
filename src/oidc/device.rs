//! The device authorization response (RFC 8628 §3.2), parsed tolerantly: `verification_url`
//! is an alias of `verification_uri` (older Google), a missing `interval` means 5 s, and
//! fields this client does not know (Entra's `message`) are kept.

use std::time::Duration;

use serde_json::{Map, Value};

use super::error::ProviderError;
use super::http::{string_field, u64_field, ProviderResponse};
use super::secret::DeviceCode;

/// RFC 8628 §3.2: the polling interval when the provider gives none.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// A started device authorization.
#[derive(Clone, Debug)]
pub struct DeviceAuthorization {
    pub device_code: DeviceCode,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: Duration,
    pub interval: Duration,
    /// Fields outside RFC 8628, kept as sent.
    pub extra: Map<String, Value>,
}

/// The longest verification URI shown on the TV (and put in its QR code).
const MAX_URI_LEN: usize = 2048;

const KNOWN: &[&str] = &[
    "device_code",
    "user_code",
    "verification_uri",
    "verification_url",
    "verification_uri_complete",
    "expires_in",
    "interval",
];

impl DeviceAuthorization {
    pub fn parse(response: &ProviderResponse) -> Result<Self, ProviderError> {
        let map = response.success_object()?;
        let missing = |field: &str| {
            response.malformed(format!("no {field} in the device authorization response"))
        };
        let device_code =
            string_field(&map, "device_code").ok_or_else(|| missing("device_code"))?;
        let user_code = string_field(&map, "user_code").ok_or_else(|| missing("user_code"))?;
        let verification_uri = string_field(&map, "verification_uri")
            .or_else(|| string_field(&map, "verification_url"))
            .ok_or_else(|| missing("verification_uri"))?;
        let expires_in = u64_field(&map, "expires_in").ok_or_else(|| missing("expires_in"))?;
        if user_code.len() > 64 || verification_uri.len() > MAX_URI_LEN {
            return Err(
                response.malformed("user_code or verification_uri is implausibly long".into())
            );
        }
        let interval = match u64_field(&map, "interval") {
            Some(0) | None => DEFAULT_INTERVAL,
            // A provider asking for more than 10 minutes between polls is treated as asking for 10.
            Some(secs) => Duration::from_secs(secs.min(600)),
        };
        let extra = map
            .iter()
            .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Self {
            device_code: DeviceCode::new(device_code),
            user_code,
            verification_uri,
            // Optional (§3.3.1): one too long for a QR code or a link is dropped, and the TV
            // shows the plain URI and the code instead.
            verification_uri_complete: string_field(&map, "verification_uri_complete")
                .filter(|uri| uri.len() <= MAX_URI_LEN),
            expires_in: Duration::from_secs(expires_in.min(24 * 3600)),
            interval,
            extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(content_type: &str, body: &str) -> Result<DeviceAuthorization, ProviderError> {
        DeviceAuthorization::parse(&ProviderResponse {
            endpoint: "device".into(),
            status: 200,
            content_type: Some(content_type.into()),
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn standard_response() {
        let d = parse(
            "application/json",
            r#"{"device_code":"dc","user_code":"WDJB-MJHT","verification_uri":"https://e/device",
                "verification_uri_complete":"https://e/device?user_code=WDJB-MJHT","expires_in":1800,"interval":7}"#,
        )
        .unwrap();
        assert_eq!(d.user_code, "WDJB-MJHT");
        assert_eq!(d.interval, Duration::from_secs(7));
        assert_eq!(d.expires_in, Duration::from_secs(1800));
        assert_eq!(
            d.verification_uri_complete.as_deref(),
            Some("https://e/device?user_code=WDJB-MJHT")
        );
        assert_eq!(d.device_code.expose(), "dc");
    }

    #[test]
    fn quirks_are_tolerated() {
        // Old Google: verification_url; no interval; Entra: an extra `message`.
        let d = parse(
            "application/json",
            r#"{"device_code":"dc","user_code":"ABC","verification_url":"https://e/d","expires_in":"900","message":"Go to https://e/d"}"#,
        )
        .unwrap();
        assert_eq!(d.verification_uri, "https://e/d");
        assert_eq!(d.interval, DEFAULT_INTERVAL);
        assert_eq!(d.expires_in, Duration::from_secs(900));
        assert!(d.verification_uri_complete.is_none());
        assert_eq!(
            d.extra.get("message").and_then(Value::as_str),
            Some("Go to https://e/d")
        );
    }

    #[test]
    fn form_encoded_response() {
        let d = parse(
            "application/x-www-form-urlencoded",
            "device_code=dc&user_code=U-1&verification_uri=https%3A%2F%2Fe%2Fd&expires_in=600&interval=5",
        )
        .unwrap();
        assert_eq!(d.verification_uri, "https://e/d");
    }

    #[test]
    fn an_implausibly_long_complete_uri_is_dropped() {
        let long = format!("https://e/d?user_code=U&pad={}", "x".repeat(4096));
        let body = format!(
            r#"{{"device_code":"dc","user_code":"U","verification_uri":"https://e/d","verification_uri_complete":"{long}","expires_in":600}}"#
        );
        let d = parse("application/json", &body).unwrap();
        assert_eq!(d.verification_uri, "https://e/d");
        assert!(d.verification_uri_complete.is_none());
    }

    #[test]
    fn missing_fields_are_errors() {
        let err = parse(
            "application/json",
            r#"{"user_code":"U","verification_uri":"x","expires_in":5}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("device_code"), "{err}");
        let err = parse("application/json", r#"{"error":"invalid_client"}"#).unwrap_err();
        assert_eq!(err.oauth().unwrap().code.as_str(), "invalid_client");
    }
}
