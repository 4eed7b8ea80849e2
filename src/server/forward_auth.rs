//! tvsignin as the front door of another app: the forward-auth check a reverse proxy asks
//! before it lets a request through to the app (nginx `auth_request`, Traefik `forwardAuth`,
//! Caddy `forward_auth`), the key set that verifies its signed assertion, and the sign-out
//! page an app can link to.
//!
//! `<prefix>/auth` (any method, as proxies pass the original one) reads the TV's session
//! cookie and nothing else of the request. A signed-in session gets `200` with the identity
//! in the header names oauth2-proxy uses: `X-Auth-Request-User` (`FORWARD_AUTH_USER_CLAIM`),
//! `-Email`, `-Preferred-Username`, `-Groups` (comma-separated), and on request
//! `-Access-Token` (the current one: the session refreshes it before it expires) and `-Jwt`
//! (see `crate::assertion`). Everything else gets `401`, which the proxy turns into the
//! sign-in screen. No request header is ever copied into the answer, and the check never sets
//! a cookie.
//!
//! A session ends for the app when the TV signs out, at the idle sign-out (each check counts
//! as use of the TV, and pushes that back), when its access token expired without a refresh,
//! and when the provider stops accepting it: at most every `FORWARD_AUTH_RECHECK_SECS` a check
//! shows the access token to the provider's userinfo endpoint, and a token the provider calls
//! invalid (revoked, say) signs the TV out. When the provider cannot be reached, the last
//! answer stands until the next recheck is due, so an outage at the provider does not lock
//! every TV out of its app.

mod sign_out_page;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRef;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use axum_extra::extract::CookieJar;
use leptos::config::LeptosOptions;
use serde_json::{json, Map};
use url::Url;

use super::session::SessionSigner;
use super::session::{is_https, COOKIE_NAME, SECURE_COOKIE_NAME};
use crate::assertion::AssertionKey;
use crate::metrics::CheckResult;
use crate::oidc::ProviderClient;
use crate::oidc::ProviderError;
use crate::pairing::signed_in::SignedInSession;
use crate::pairing::store::now_ms;
use crate::pairing::{Hub, SessionId};
use crate::settings::front_door::{FrontDoorSettings, UserClaim};
use crate::settings::Settings;

/// The identity headers, as oauth2-proxy names them.
pub const USER: &str = "x-auth-request-user";
pub const EMAIL: &str = "x-auth-request-email";
pub const PREFERRED_USERNAME: &str = "x-auth-request-preferred-username";
pub const GROUPS: &str = "x-auth-request-groups";
pub const ACCESS_TOKEN: &str = "x-auth-request-access-token";
pub const JWT: &str = "x-auth-request-jwt";

/// Once this many sessions have a recheck time, those that need no more are forgotten.
const PRUNE_ABOVE: usize = 1024;

/// What the front door's handlers read: the check itself and the parts of the app state it
/// consults (taken from the app state by `FromRef`, so this room needs nothing else of it).
#[derive(Clone)]
pub struct FrontDoor {
    pub check: Arc<ForwardAuth>,
    pub hub: Hub,
    pub provider: Arc<ProviderClient>,
    pub settings: Arc<Settings>,
    pub sessions: Arc<SessionSigner>,
    pub leptos_options: LeptosOptions,
    /// The sign-out page's words.
    pub texts: Arc<crate::i18n::catalog::Catalog>,
}

/// The routes, relative to the prefix; none of them sets a session cookie.
pub fn routes<S>() -> Router<S>
where
    FrontDoor: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/auth", any(check))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/sign-out", get(sign_out_page::show))
}

/// The check's state: when each session's token was last shown to the provider, and the
/// assertion's key.
pub struct ForwardAuth {
    user_claim: UserClaim,
    pass_access_token: bool,
    recheck_every: Duration,
    assertion: Option<Assertion>,
    /// Per session, when its token was last shown to the provider; the lock makes
    /// simultaneous checks of one session wait for one answer instead of asking again.
    rechecked: Mutex<HashMap<SessionId, Arc<tokio::sync::Mutex<Option<Instant>>>>>,
}

struct Assertion {
    key: Arc<AssertionKey>,
    issuer: String,
    audience: Option<String>,
    ttl: Duration,
}

impl std::fmt::Debug for ForwardAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardAuth")
            .field("user_claim", &self.user_claim)
            .field("pass_access_token", &self.pass_access_token)
            .field("assertion", &self.assertion.is_some())
            .finish_non_exhaustive()
    }
}

impl ForwardAuth {
    /// The check as the settings describe it; `public` (with the prefix) is the assertion's
    /// issuer.
    ///
    /// # Panics
    /// When an assertion key must be made and the OS random generator is unusable.
    pub fn new(settings: &FrontDoorSettings, public: &Url) -> Self {
        let auth = &settings.forward_auth;
        let assertion = auth.assertion.as_ref().map(|a| Assertion {
            key: a.key.clone().unwrap_or_else(|| {
                Arc::new(
                    AssertionKey::generate()
                        .expect("cannot make the assertion's key (no OS randomness?)"),
                )
            }),
            issuer: public.as_str().trim_end_matches('/').to_owned(),
            audience: a.audience.clone(),
            ttl: a.ttl,
        });
        Self {
            user_claim: auth.user_claim,
            pass_access_token: auth.pass_access_token,
            recheck_every: auth.recheck_every,
            assertion,
            rechecked: Mutex::new(HashMap::new()),
        }
    }

    fn rechecked(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<SessionId, Arc<tokio::sync::Mutex<Option<Instant>>>>>
    {
        self.rechecked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The recheck slot of a session, forgetting those that need no more (a slot in use, or
    /// rechecked within the interval, is kept).
    fn slot(&self, id: &SessionId) -> Arc<tokio::sync::Mutex<Option<Instant>>> {
        let mut map = self.rechecked();
        if map.len() > PRUNE_ABOVE {
            let every = self.recheck_every;
            map.retain(|_, slot| {
                slot.try_lock()
                    .map_or(true, |at| at.is_some_and(|at| at.elapsed() < every))
            });
        }
        map.entry(id.clone()).or_default().clone()
    }

    /// Whether the provider still accepts the session's access token: asked at most every
    /// `recheck_every`; `false` only when the provider says the token is no good.
    async fn still_accepted(
        &self,
        state: &FrontDoor,
        id: &SessionId,
        session: &SignedInSession,
    ) -> bool {
        let slot = self.slot(id);
        let mut last = slot.lock().await;
        if last.is_some_and(|at| at.elapsed() < self.recheck_every) {
            return true;
        }
        let verdict = match state.provider.userinfo(&session.access_token).await {
            Ok(info) if info.sub() == session.identity.sub => true,
            Ok(_) => {
                tracing::warn!(
                    "forward auth: userinfo names another subject than the one who signed in"
                );
                false
            }
            Err(error) if token_refused(&error) => {
                tracing::info!(%error, "forward auth: the provider no longer accepts the session's token");
                false
            }
            // No userinfo endpoint: nothing to ask. The token's expiry still ends access.
            Err(ProviderError::Unsupported(_)) => true,
            Err(error) => {
                // An outage at the provider: the last answer stands until the next recheck.
                tracing::warn!(%error, kind = error.kind(), "forward auth: cannot recheck the session's token at the provider");
                true
            }
        };
        *last = Some(Instant::now());
        verdict
    }

    fn forget(&self, id: &SessionId) {
        self.rechecked().remove(id);
    }

    /// The identity headers for a signed-in session.
    fn headers(&self, session: &SignedInSession) -> HeaderMap {
        let identity = &session.identity;
        let user = match self.user_claim {
            UserClaim::Sub => Some(&identity.sub),
            UserClaim::PreferredUsername => identity.preferred_username.as_ref(),
            UserClaim::Email => identity.email.as_ref(),
        }
        .unwrap_or(&identity.sub);
        let groups = identity.groups.join(",");
        let mut headers = HeaderMap::new();
        let mut put = |name: &'static str, value: Option<&str>| {
            let Some(value) = value.filter(|v| !v.is_empty()) else {
                return;
            };
            match HeaderValue::from_str(value) {
                Ok(value) => {
                    headers.insert(HeaderName::from_static(name), value);
                }
                Err(_) => tracing::warn!(
                    header = name,
                    "forward auth: a claim cannot be sent as a header"
                ),
            }
        };
        put(USER, Some(user));
        put(EMAIL, identity.email.as_deref());
        put(PREFERRED_USERNAME, identity.preferred_username.as_deref());
        put(GROUPS, Some(&groups));
        if self.pass_access_token {
            put(ACCESS_TOKEN, Some(session.access_token.expose()));
        }
        if let Some(assertion) = &self.assertion {
            match assertion.sign(session) {
                Ok(jwt) => put(JWT, Some(&jwt)),
                Err(error) => tracing::error!(%error, "forward auth: cannot sign the assertion"),
            }
        }
        headers
    }
}

impl Assertion {
    /// The identity as a JWT valid for `ttl`.
    fn sign(&self, session: &SignedInSession) -> Result<String, jsonwebtoken::errors::Error> {
        let identity = &session.identity;
        let now = now_ms() / 1_000;
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.issuer));
        claims.insert("sub".into(), json!(identity.sub));
        if let Some(audience) = &self.audience {
            claims.insert("aud".into(), json!(audience));
        }
        claims.insert("iat".into(), json!(now));
        claims.insert("nbf".into(), json!(now));
        claims.insert("exp".into(), json!(now + self.ttl.as_secs()));
        for (name, value) in [
            ("name", &identity.name),
            ("email", &identity.email),
            ("preferred_username", &identity.preferred_username),
        ] {
            if let Some(value) = value {
                claims.insert(name.into(), json!(value));
            }
        }
        claims.insert("groups".into(), json!(identity.groups));
        self.key.sign(&claims)
    }
}

/// Whether the provider refused the token itself (as opposed to failing).
fn token_refused(error: &ProviderError) -> bool {
    match error {
        ProviderError::OAuth(oauth) => oauth.code.as_str() == "invalid_token",
        ProviderError::Status { status, .. } => *status == 401,
        _ => false,
    }
}

/// The session a request's cookie names, if this server (or its fleet) issued the cookie.
/// Only the cookie is read.
pub(super) fn session_of(state: &FrontDoor, request: &Request) -> Option<SessionId> {
    let name = if is_https(&state.settings, request) {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    };
    let jar = CookieJar::from_headers(request.headers());
    let cookie = jar.get(name)?;
    state.sessions.verify(cookie.value()).map(|v| v.id)
}

/// `<prefix>/auth`.
async fn check(State(state): State<FrontDoor>, request: Request) -> Response {
    let redirect = asks_for_redirect(&request);
    let session = session_of(&state, &request);
    drop(request);
    let decided = decide(&state, session).await;
    let metrics = state.hub.metrics();
    match decided {
        Ok(headers) => {
            metrics.forward_auth_check(CheckResult::Allowed);
            (StatusCode::OK, no_store(), headers).into_response()
        }
        Err(Refused::Unavailable(answer)) => {
            metrics.forward_auth_check(CheckResult::Unavailable);
            answer
        }
        Err(refused) => {
            metrics.forward_auth_check(match refused {
                Refused::Ended => CheckResult::Ended,
                _ => CheckResult::NotSignedIn,
            });
            if redirect {
                // Proxies that hand a refusal to the browser as it is (Traefik, Caddy) ask
                // for a redirect to the sign-in screen instead; nginx's auth_request needs
                // the 401.
                (
                    StatusCode::FOUND,
                    no_store(),
                    [(header::LOCATION, state.settings.front_door.base_path.home())],
                    "Not signed in.",
                )
                    .into_response()
            } else {
                not_signed_in()
            }
        }
    }
}

/// Why a check did not let the request through.
enum Refused {
    NotSignedIn,
    /// Signed in until now: the access is gone, and the TV was signed out.
    Ended,
    /// It cannot be told now; the answer says so.
    Unavailable(Response),
}

/// Whether the check's URL carries `?redirect`.
fn asks_for_redirect(request: &Request) -> bool {
    request.uri().query().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some("redirect"))
    })
}

/// The identity headers for the session a request's cookie names, if it is signed in.
async fn decide(state: &FrontDoor, id: Option<SessionId>) -> Result<HeaderMap, Refused> {
    let Some(id) = id else {
        return Err(Refused::NotSignedIn);
    };
    let session = match state.hub.signed_in_session(&id).await {
        Ok(Some(session)) => session,
        Ok(None) => return Err(Refused::NotSignedIn),
        Err(error) => {
            tracing::error!(%error, "forward auth: the session store failed");
            let busy = (
                StatusCode::SERVICE_UNAVAILABLE,
                no_store(),
                "Try again in a moment.",
            );
            return Err(Refused::Unavailable(busy.into_response()));
        }
    };
    let auth = &state.check;
    let now = now_ms();
    if session.sign_out_at_ms <= now {
        // The idle sign-out is due; the session's task is ending it this moment.
        return Err(Refused::NotSignedIn);
    }
    let expired = session.access_expires_at_ms.is_some_and(|at| at <= now);
    if expired || !auth.still_accepted(state, &id, &session).await {
        if expired {
            tracing::info!(
                "forward auth: the session's access token expired and was not refreshed"
            );
        }
        end(state, &id).await;
        return Err(Refused::Ended);
    }
    note_use(state, &id, &session).await;
    Ok(auth.headers(&session))
}

/// Signs the TV out, so its screen offers Sign in again instead of sending it back to an
/// app that would refuse it.
async fn end(state: &FrontDoor, id: &SessionId) {
    state.check.forget(id);
    if let Err(error) = state.hub.sign_out(id).await {
        tracing::warn!(%error, "forward auth: cannot sign the session out");
    }
}

/// Each check counts as use of the TV: the idle sign-out moves later, though at most once in
/// a twentieth of its time (1 to 30 s), not for every request the app's page makes.
async fn note_use(state: &FrontDoor, id: &SessionId, session: &SignedInSession) {
    let idle = state.hub.idle_sign_out();
    let step = (idle / 20).clamp(Duration::from_secs(1), Duration::from_secs(30));
    let last_use = session
        .sign_out_at_ms
        .saturating_sub(idle.as_millis() as u64);
    if now_ms().saturating_sub(last_use) >= step.as_millis() as u64 {
        if let Err(error) = state.hub.activity(id).await {
            tracing::warn!(%error, "forward auth: cannot postpone the idle sign-out");
        }
    }
}

fn no_store() -> [(HeaderName, HeaderValue); 1] {
    [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))]
}

fn not_signed_in() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        no_store(),
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        "Not signed in.",
    )
        .into_response()
}

/// `<prefix>/.well-known/jwks.json`: the key that verifies the assertions (404 without them).
async fn jwks(State(state): State<FrontDoor>) -> Response {
    match &state.check.assertion {
        Some(assertion) => (
            [(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            )],
            Json(assertion.key.jwks()),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "No assertions are signed here.").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::oidc::error::{ErrorCode, OAuthError};
    use crate::oidc::secret::AccessToken;
    use crate::pairing::identity::Identity;
    use crate::settings::front_door::{AssertionSettings, ForwardAuthSettings};

    fn session() -> SignedInSession {
        SignedInSession {
            identity: Identity {
                sub: "alice".into(),
                name: Some("Alice Liddell".into()),
                email: Some("alice@example.test".into()),
                preferred_username: Some("alice.l".into()),
                groups: vec!["staff".into(), "kiosk-admins".into()],
            },
            access_token: AccessToken::new("at-123"),
            access_expires_at_ms: None,
            sign_out_at_ms: u64::MAX,
        }
    }

    fn auth(forward_auth: ForwardAuthSettings) -> ForwardAuth {
        let settings = FrontDoorSettings {
            forward_auth,
            ..FrontDoorSettings::default()
        };
        ForwardAuth::new(
            &settings,
            &Url::parse("https://tv.example/tvsignin/").unwrap(),
        )
    }

    fn text(headers: &HeaderMap, name: &str) -> Option<String> {
        headers.get(name).map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn identity_headers_and_opt_in_secrets() {
        let plain = auth(ForwardAuthSettings::default()).headers(&session());
        assert_eq!(text(&plain, USER).as_deref(), Some("alice"));
        assert_eq!(text(&plain, EMAIL).as_deref(), Some("alice@example.test"));
        assert_eq!(text(&plain, PREFERRED_USERNAME).as_deref(), Some("alice.l"));
        assert_eq!(text(&plain, GROUPS).as_deref(), Some("staff,kiosk-admins"));
        assert_eq!(
            text(&plain, ACCESS_TOKEN),
            None,
            "the token only when asked for"
        );
        assert_eq!(text(&plain, JWT), None);
        assert_eq!(plain.len(), 4);

        let rich = auth(ForwardAuthSettings {
            user_claim: UserClaim::PreferredUsername,
            pass_access_token: true,
            assertion: Some(AssertionSettings {
                key: None,
                ttl: Duration::from_secs(30),
                audience: Some("dashboard".into()),
            }),
            ..ForwardAuthSettings::default()
        });
        let headers = rich.headers(&session());
        assert_eq!(text(&headers, USER).as_deref(), Some("alice.l"));
        assert_eq!(text(&headers, ACCESS_TOKEN).as_deref(), Some("at-123"));
        let jwt = text(&headers, JWT).unwrap();
        let assertion = rich.assertion.as_ref().unwrap();
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(assertion.key.jwks()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(&set.keys[0]).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&["dashboard"]);
        validation.set_issuer(&["https://tv.example/tvsignin"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(&jwt, &key, &validation)
            .unwrap()
            .claims;
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["groups"], json!(["staff", "kiosk-admins"]));
        assert_eq!(claims["email"], "alice@example.test");
        let life = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
        assert_eq!(life, 30);
        assert!(!jwt.contains("at-123") && claims.get("access_token").is_none());

        // A user claim the person lacks falls back to the subject; empty claims send nothing.
        let mut bare = session();
        bare.identity.preferred_username = None;
        bare.identity.email = None;
        bare.identity.groups.clear();
        let headers = rich.headers(&bare);
        assert_eq!(text(&headers, USER).as_deref(), Some("alice"));
        assert_eq!(
            (text(&headers, EMAIL), text(&headers, GROUPS)),
            (None, None)
        );
        // A claim that cannot be a header value is left out, not sent broken.
        bare.identity.email = Some("a\r\nx-auth-request-user: mallory".into());
        let headers = rich.headers(&bare);
        assert_eq!(text(&headers, EMAIL), None);
        assert_eq!(text(&headers, USER).as_deref(), Some("alice"));
    }

    #[test]
    fn only_a_refusal_of_the_token_ends_a_session() {
        let oauth = |code: &str| {
            ProviderError::OAuth(OAuthError {
                code: ErrorCode::parse(code),
                description: None,
            })
        };
        let status = |status| ProviderError::Status {
            endpoint: "userinfo_endpoint".into(),
            status,
        };
        assert!(token_refused(&oauth("invalid_token")));
        assert!(token_refused(&status(401)));
        for kept in [
            oauth("invalid_request"),
            status(500),
            status(403),
            ProviderError::Timeout {
                endpoint: "userinfo_endpoint".into(),
            },
            ProviderError::Unsupported("no userinfo endpoint".into()),
        ] {
            assert!(!token_refused(&kept), "{kept}");
        }
    }
}
