//! The TV session cookie: each browser gets a random, HttpOnly, SameSite=Strict id that keys
//! its pairing. Ids are issued only here, signed (`signer`); a cookie this server did not
//! issue is replaced with a new id. Over HTTPS the cookie is named with the `__Host-` prefix,
//! so no other host (a sibling subdomain, say) can set it. An action may move the session to
//! a new id ([`SessionMove`]; Sign in, New code and Sign out do, see `pairing`): this layer
//! then sets the new id's cookie on that action's own response.

pub mod signer;

use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;

use super::state::AppState;

pub use signer::SessionSigner;

/// The cookie's name over plain HTTP.
pub const COOKIE_NAME: &str = "tvsignin_session";
/// Its name over HTTPS: browsers accept a `__Host-` cookie only when it is Secure, has
/// `Path=/` and no `Domain`, so it cannot be set for this host from any other.
pub const SECURE_COOKIE_NAME: &str = "__Host-tvsignin_session";

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

/// Where an action says that it moved the request's session to a new id; the session layer
/// puts that id's cookie on the response. Set at most once per request.
#[derive(Clone, Debug, Default)]
pub struct SessionMove(Arc<OnceLock<SessionId>>);

impl SessionMove {
    /// The session now lives under `id`.
    pub fn moved_to(&self, id: SessionId) {
        if self.0.set(id).is_err() {
            tracing::error!("a request moved its session twice; the first move stands");
        }
    }

    fn new_id(&self) -> Option<SessionId> {
        self.0.get().cloned()
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

/// Middleware: makes sure every request carries a [`SessionId`] extension (and a
/// [`SessionMove`]), setting the cookie when the browser has none this server issued, when
/// it was signed with a previous key, or when an action moved the session.
pub async fn ensure_session(
    State(state): State<AppState>,
    jar: CookieJar,
    mut request: Request,
    next: Next,
) -> Response {
    let secure = is_https(&state, &request);
    let name = if secure {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    };
    let verified = jar
        .get(name)
        .and_then(|cookie| state.sessions.verify(cookie.value()));
    let (id, sign_again) = match verified {
        Some(verified) => (verified.id, verified.stale_key),
        None => {
            if jar.get(name).is_some() {
                tracing::debug!("a session cookie this server did not issue was replaced");
            }
            (SessionId::generate(), true)
        }
    };
    let moved = SessionMove::default();
    request.extensions_mut().insert(id.clone());
    request.extensions_mut().insert(moved.clone());
    let response = next.run(request).await;
    let cookie_id = moved.new_id().or_else(|| sign_again.then_some(id));
    match cookie_id {
        Some(id) => with_cookie(response, name, state.sessions.cookie_value(&id), secure),
        None => response,
    }
}

fn with_cookie(
    mut response: Response,
    name: &'static str,
    value: String,
    secure: bool,
) -> Response {
    let cookie = Cookie::build((name, value))
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

    #[test]
    fn a_session_moves_once() {
        let moved = SessionMove::default();
        assert_eq!(moved.new_id(), None);
        let first = SessionId::generate();
        moved.clone().moved_to(first.clone());
        moved.moved_to(SessionId::generate());
        assert_eq!(moved.new_id(), Some(first));
    }
}
