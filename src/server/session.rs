//! The TV session cookie: each browser gets a random, HttpOnly, SameSite=Strict id that keys
//! its pairing. The id carries no meaning and no secret beyond being unguessable.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;

use super::state::AppState;

pub const COOKIE_NAME: &str = "tvsignin_session";

/// A TV browser's session id (122 random bits from the OS generator, as hex).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(String);

impl SessionId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Accepts only ids this server could have made.
    pub fn parse(value: &str) -> Option<Self> {
        (value.len() == 32
            && value
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether the browser reached us over HTTPS (directly, or through a trusted proxy).
pub fn is_https(state: &AppState, request: &Request) -> bool {
    let forwarded = state.settings.trust_proxy
        && request
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    forwarded
        || state
            .settings
            .public_url
            .as_ref()
            .is_some_and(|u| u.scheme() == "https")
}

/// Middleware: makes sure every request carries a [`SessionId`] extension, setting the cookie
/// when the browser has none.
pub async fn ensure_session(
    State(state): State<AppState>,
    jar: CookieJar,
    mut request: Request,
    next: Next,
) -> Response {
    let existing = jar
        .get(COOKIE_NAME)
        .and_then(|c| SessionId::parse(c.value()));
    let is_new = existing.is_none();
    let id = existing.unwrap_or_else(SessionId::generate);
    let secure = is_https(&state, &request);
    request.extensions_mut().insert(id.clone());
    let mut response = next.run(request).await;
    if is_new {
        let cookie = Cookie::build((COOKIE_NAME, id.0))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(secure)
            .build();
        if let Ok(value) = cookie.to_string().parse() {
            response
                .headers_mut()
                .append(http::header::SET_COOKIE, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_junk_is_refused() {
        let id = SessionId::generate();
        assert_eq!(SessionId::parse(id.as_str()), Some(id.clone()));
        assert_ne!(SessionId::generate(), id);
        for junk in [
            "",
            "abc",
            "../../etc/passwd",
            &"A".repeat(32),
            &"g".repeat(32),
        ] {
            assert_eq!(SessionId::parse(junk), None, "{junk}");
        }
    }
}
