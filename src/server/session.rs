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

use crate::settings::Settings;

pub use signer::SessionSigner;

pub use crate::pairing::SessionId;

/// The cookie's name over plain HTTP.
pub const COOKIE_NAME: &str = "tvsignin_session";
/// Its name over HTTPS: browsers accept a `__Host-` cookie only when it is Secure, has
/// `Path=/` and no `Domain`, so it cannot be set for this host from any other.
pub const SECURE_COOKIE_NAME: &str = "__Host-tvsignin_session";

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
pub fn is_https(settings: &Settings, request: &Request) -> bool {
    let forwarded = settings.trust_proxy
        && request
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    forwarded
        || settings
            .public_url
            .as_ref()
            .is_some_and(|u| u.scheme() == "https")
}

/// Middleware: makes sure every request carries a [`SessionId`] extension (and a
/// [`SessionMove`]), setting the cookie when the browser has none this server issued, when
/// it was signed with a previous key, or when an action moved the session.
pub async fn ensure_session(
    State(signer): State<Arc<SessionSigner>>,
    State(settings): State<Arc<Settings>>,
    jar: CookieJar,
    mut request: Request,
    next: Next,
) -> Response {
    let secure = is_https(&settings, &request);
    let name = if secure {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    };
    let verified = jar
        .get(name)
        .and_then(|cookie| signer.verify(cookie.value()));
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
        Some(id) => with_cookie(response, name, signer.cookie_value(&id), secure),
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
    fn a_session_moves_once() {
        let moved = SessionMove::default();
        assert_eq!(moved.new_id(), None);
        let first = SessionId::generate();
        moved.clone().moved_to(first.clone());
        moved.moved_to(SessionId::generate());
        assert_eq!(moved.new_id(), Some(first));
    }
}
