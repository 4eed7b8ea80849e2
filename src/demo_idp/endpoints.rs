//! The protocol endpoints other than the token endpoint ([`super::token_endpoint`]): discovery, JWKS,
//! device authorization (RFC 8628 §3.1-3.2), userinfo and revocation (RFC 7009), plus the
//! shared request checks. Requests are form bodies; answers and errors are RFC 6749 JSON.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::crypto::{self, ID_TOKEN_ALG};
use super::limit::{retry_secs, Caller};
use super::users::{granted_scope, KNOWN_SCOPES};
use super::DemoIdp;

pub(super) const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// An RFC 6749 §5.2 error answer.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
    www_authenticate: Option<String>,
    /// Seconds for `Retry-After` (a rate-limited caller).
    retry_after: Option<u64>,
}

pub(super) fn error(
    status: StatusCode,
    code: &'static str,
    description: impl Into<String>,
) -> OAuthError {
    OAuthError {
        status,
        code,
        description: description.into(),
        www_authenticate: None,
        retry_after: None,
    }
}

pub(super) fn bad_request(code: &'static str, description: impl Into<String>) -> OAuthError {
    error(StatusCode::BAD_REQUEST, code, description)
}

pub(super) fn unavailable(code: &'static str, description: &str) -> OAuthError {
    error(StatusCode::SERVICE_UNAVAILABLE, code, description)
}

/// Takes one request from the caller's allowance, or answers 429 with `Retry-After`.
pub(super) fn rate_limit(idp: &DemoIdp, caller: Caller) -> Result<(), OAuthError> {
    idp.limiter.take(caller).map_err(|wait| {
        let secs = retry_secs(wait);
        let mut e = error(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            format!("too many requests from this address; try again in {secs} s"),
        );
        e.retry_after = Some(secs);
        e
    })
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code, "error_description": self.description });
        let mut response = no_store((self.status, Json(body)).into_response());
        let headers = response.headers_mut();
        if let Some(value) = self
            .www_authenticate
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        } else if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// Token-bearing answers must not be cached (RFC 6749 §5.1).
pub(super) fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

pub(super) type Form = HashMap<String, String>;

/// Parses an `application/x-www-form-urlencoded` body; a repeated parameter is an error
/// (RFC 6749 §3.1).
pub(super) fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<Form, OAuthError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(bad_request(
            "invalid_request",
            "send the parameters as application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| bad_request("invalid_request", "the form body cannot be read"))?;
    let mut form = Form::new();
    for (key, value) in pairs {
        if form.contains_key(&key) {
            return Err(bad_request(
                "invalid_request",
                format!("the parameter {key} is repeated"),
            ));
        }
        form.insert(key, value);
    }
    Ok(form)
}

pub(super) fn param<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

pub(super) fn required<'a>(form: &'a Form, name: &str) -> Result<&'a str, OAuthError> {
    param(form, name).ok_or_else(|| bad_request("invalid_request", format!("{name} is missing")))
}

/// The only client is public: `client_id` in the body, no secret, no Authorization header.
pub(super) fn check_client(
    idp: &DemoIdp,
    headers: &HeaderMap,
    form: &Form,
) -> Result<(), OAuthError> {
    let invalid = |description: &str, header_used: bool| {
        let mut e = error(StatusCode::UNAUTHORIZED, "invalid_client", description);
        if header_used {
            e.www_authenticate = Some("Basic realm=\"tvsignin demo\"".to_owned());
        }
        e
    };
    if headers.contains_key(header::AUTHORIZATION) {
        return Err(invalid(
            "this provider's only client is public: authenticate with none (client_id in the body)",
            true,
        ));
    }
    if form.contains_key("client_secret") {
        return Err(invalid(
            "this provider's only client is public: send no client_secret",
            false,
        ));
    }
    match param(form, "client_id") {
        Some(id) if id == idp.client_id() => Ok(()),
        Some(_) => Err(invalid("unknown client", false)),
        None => Err(invalid("client_id is missing", false)),
    }
}

/// `GET /.well-known/openid-configuration`
pub async fn discovery(State(idp): State<Arc<DemoIdp>>) -> Response {
    let document = json!({
        "issuer": idp.config.issuer.as_str(),
        "device_authorization_endpoint": idp.endpoint("/device_authorization"),
        "token_endpoint": idp.endpoint("/token"),
        "userinfo_endpoint": idp.endpoint("/userinfo"),
        "revocation_endpoint": idp.endpoint("/revoke"),
        "jwks_uri": idp.endpoint("/jwks"),
        "grant_types_supported": [DEVICE_CODE_GRANT, "refresh_token", "password"],
        "response_types_supported": ["none"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ID_TOKEN_ALG],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": KNOWN_SCOPES,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "name",
            "preferred_username", "email", "email_verified", "ext"],
    });
    Json(document).into_response()
}

/// `GET /jwks`
pub async fn jwks(State(idp): State<Arc<DemoIdp>>) -> Response {
    Json(idp.keys.jwks()).into_response()
}

/// Anything else under `/demo-idp`.
pub async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": "not_found" }))).into_response()
}

/// `POST /device_authorization` (RFC 8628 §3.1-3.2).
pub async fn device_authorization(
    State(idp): State<Arc<DemoIdp>>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = (|| {
        rate_limit(&idp, caller)?;
        let form = parse_form(&headers, &body)?;
        check_client(&idp, &headers, &form)?;
        let scope = granted_scope(param(&form, "scope"));
        let broken = |_| unavailable("temporarily_unavailable", "no randomness available");
        let device_code = idp.keys.token(32).map_err(broken)?;
        let now = Instant::now();
        let mut state = idp.state();
        if !state.has_room_for_code(now) {
            return Err(unavailable(
                "slow_down",
                "too many sign-ins in progress; try again shortly",
            ));
        }
        // A fresh user code that no live (or recently expired) code has.
        let mut user_code = None;
        for _ in 0..16 {
            let candidate = idp.keys.user_code().map_err(broken)?;
            if !state.user_code_taken(&candidate) {
                user_code = Some(candidate);
                break;
            }
        }
        let user_code = user_code
            .ok_or_else(|| unavailable("slow_down", "no free user code; try again shortly"))?;
        let expires_in = state.timing.code_ttl.as_secs();
        let entry = state.add_code(device_code.clone(), user_code, scope, now);
        let shown = crypto::display_user_code(&entry.user_code);
        let verification_uri = idp.verification_uri();
        Ok(json!({
            "device_code": device_code,
            "user_code": shown,
            "verification_uri": verification_uri,
            "verification_uri_complete": format!("{verification_uri}?user_code={shown}"),
            "expires_in": expires_in,
            "interval": entry.interval.as_secs(),
        }))
    })();
    match result {
        Ok(body) => no_store(Json(body).into_response()),
        Err(e) => e.into_response(),
    }
}

/// `GET|POST /userinfo` with `Authorization: Bearer <access token>` (RFC 6750 §2.1).
pub async fn userinfo(State(idp): State<Arc<DemoIdp>>, headers: HeaderMap) -> Response {
    // RFC 6750 §3.1: no error code in the challenge when no token was sent at all.
    let challenge = |code: &'static str, description: &str, sent: bool| {
        let mut e = error(StatusCode::UNAUTHORIZED, code, description);
        e.www_authenticate = Some(if sent {
            format!("Bearer realm=\"tvsignin demo\", error=\"{code}\", error_description=\"{description}\"")
        } else {
            "Bearer realm=\"tvsignin demo\"".to_owned()
        });
        e.into_response()
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty());
    let Some(token) = token else {
        return challenge(
            "invalid_request",
            "send the access token as Authorization: Bearer",
            false,
        );
    };
    let found = {
        let now = Instant::now();
        let mut state = idp.state();
        state.sweep(now, false);
        state.tokens.access(token, now)
    };
    match found.and_then(|(username, scope)| idp.user(&username).map(|u| u.claims(&scope))) {
        Some(claims) => no_store(Json(claims).into_response()),
        None => challenge(
            "invalid_token",
            "the access token is unknown, expired or revoked",
            true,
        ),
    }
}

/// `POST /revoke` (RFC 7009): unknown tokens are fine (200), as the RFC asks.
pub async fn revoke(State(idp): State<Arc<DemoIdp>>, headers: HeaderMap, body: Bytes) -> Response {
    let result = parse_form(&headers, &body).and_then(|form| {
        check_client(&idp, &headers, &form)?;
        let token = required(&form, "token")?;
        idp.state()
            .tokens
            .revoke(token, param(&form, "token_type_hint"));
        Ok(())
    });
    match result {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => e.into_response(),
    }
}
