//! The token endpoint: the device code grant (RFC 8628 §3.4-3.5), the refresh token grant
//! (RFC 6749 §6, rotating the refresh token) and the password grant (RFC 6749 §4.3). Tokens
//! are opaque random strings; an ID token (ES256) comes along when the scope has `openid`.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::endpoints::{
    bad_request, check_client, no_store, param, parse_form, rate_limit, required, unavailable,
    OAuthError, DEVICE_CODE_GRANT,
};
use super::grants::{Issued, RefreshError};
use super::limit::Caller;
use super::store::Poll;
use super::users::{granted_scope, id_token_claims};
use super::DemoIdp;

/// `POST /token`
pub async fn token(
    State(idp): State<Arc<DemoIdp>>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match token_inner(&idp, caller, &headers, &body) {
        Ok(body) => no_store(Json(body).into_response()),
        Err(e) => e.into_response(),
    }
}

fn token_inner(
    idp: &DemoIdp,
    caller: Caller,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, OAuthError> {
    let form = parse_form(headers, body)?;
    check_client(idp, headers, &form)?;
    let grant_type = required(&form, "grant_type")?;
    // A poll asks about a code whose device authorization was counted already; these two
    // grants add to the grant store, and the password grant checks a password.
    if matches!(grant_type, "password" | "refresh_token") {
        rate_limit(idp, caller)?;
    }
    let broken = |_| unavailable("temporarily_unavailable", "no randomness available");
    let access_token = idp.keys.token(32).map_err(broken)?;
    let refresh_token = idp.keys.token(32).map_err(broken)?;
    let now = Instant::now();
    let issued = match grant_type {
        DEVICE_CODE_GRANT => {
            let device_code = required(&form, "device_code")?;
            let mut state = idp.state();
            if !state.tokens.has_room() {
                return Err(bad_request(
                    "slow_down",
                    "the provider is busy; poll less often",
                ));
            }
            match state.poll(device_code, now) {
                Poll::Approved { username, scope } => {
                    let timing = state.timing;
                    state
                        .tokens
                        .issue(&username, &scope, access_token, refresh_token, now, &timing)
                }
                Poll::Pending => {
                    return Err(bad_request(
                        "authorization_pending",
                        "the person has not finished signing in yet",
                    ))
                }
                Poll::SlowDown => {
                    return Err(bad_request(
                        "slow_down",
                        "polling too often: wait 5 seconds more between requests",
                    ))
                }
                Poll::Denied => {
                    return Err(bad_request(
                        "access_denied",
                        "the person declined the sign-in",
                    ))
                }
                Poll::Expired => {
                    return Err(bad_request(
                        "expired_token",
                        "the device code has expired; start again",
                    ))
                }
                Poll::Redeemed => {
                    return Err(bad_request(
                        "invalid_grant",
                        "the device code has already been used",
                    ))
                }
                Poll::Unknown => return Err(bad_request("invalid_grant", "unknown device code")),
            }
        }
        "refresh_token" => {
            let old = required(&form, "refresh_token")?;
            let mut state = idp.state();
            state.sweep(now, false);
            let timing = state.timing;
            state
                .tokens
                .refresh(
                    old,
                    param(&form, "scope"),
                    access_token,
                    refresh_token,
                    now,
                    &timing,
                )
                .map_err(|e| match e {
                    RefreshError::Invalid => bad_request(
                        "invalid_grant",
                        "the refresh token is unknown, expired or revoked",
                    ),
                    RefreshError::ScopeWidened => {
                        bad_request("invalid_scope", "a refresh cannot add scopes")
                    }
                    RefreshError::Full => unavailable(
                        "temporarily_unavailable",
                        "too many tokens; try again shortly",
                    ),
                })?
        }
        "password" => {
            let username = required(&form, "username")?;
            let password = required(&form, "password")?;
            let user = idp
                .user(username)
                .filter(|u| idp.keys.same_secret(password, &u.password))
                .ok_or_else(|| bad_request("invalid_grant", "wrong username or password"))?;
            let scope = granted_scope(param(&form, "scope"));
            let mut state = idp.state();
            state.sweep(now, false);
            if !state.tokens.has_room() {
                return Err(unavailable(
                    "temporarily_unavailable",
                    "too many tokens; try again shortly",
                ));
            }
            let timing = state.timing;
            state.tokens.issue(
                &user.username,
                &scope,
                access_token,
                refresh_token,
                now,
                &timing,
            )
        }
        other => {
            return Err(bad_request(
                "unsupported_grant_type",
                format!(
                    "{} is not supported",
                    other.chars().take(100).collect::<String>()
                ),
            ))
        }
    };
    token_response(idp, issued)
}

/// The token response, with an ID token when the scope has `openid`.
fn token_response(idp: &DemoIdp, issued: Issued) -> Result<Value, OAuthError> {
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in.as_secs(),
        "refresh_token": issued.refresh_token,
        "scope": issued.scope,
    });
    if issued.scope.split(' ').any(|s| s == "openid") {
        let user = idp
            .user(&issued.username)
            .ok_or_else(|| bad_request("invalid_grant", "the user no longer exists"))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let ttl = issued.expires_in.as_secs();
        let claims = id_token_claims(
            user,
            &issued.scope,
            idp.config.issuer.as_str(),
            idp.client_id(),
            now,
            ttl,
        );
        let id_token = idp.keys.sign(&claims).map_err(|e| {
            tracing::error!(error = %e, "the demo provider cannot sign an ID token");
            unavailable("temporarily_unavailable", "cannot sign the ID token")
        })?;
        body["id_token"] = json!(id_token);
    }
    Ok(body)
}
