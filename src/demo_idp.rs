//! The built-in demo OpenID provider, served under `/demo-idp` when no real provider is
//! configured. Not for production: its built-in users' passwords are shown on its own pages.
//!
//! It speaks plain OAuth 2.0 / OpenID Connect, so the app's own provider client talks to it
//! exactly as to a real provider:
//!
//! | path (under the issuer)             | what                                              |
//! | ----------------------------------- | ------------------------------------------------- |
//! | `/.well-known/openid-configuration` | discovery                                         |
//! | `/jwks`                             | the ES256 (P-256) signing key made at start       |
//! | `/device_authorization`             | RFC 8628 §3.1                                     |
//! | `/token`                            | device code, refresh token and password grants    |
//! | `/userinfo`                         | the user's claims (Bearer)                        |
//! | `/revoke`                           | RFC 7009                                          |
//! | `/device`                           | the phone page: enter the code, sign in, allow    |
//!
//! The only client is the public client from [`DemoConfig::client_id`] (`none` client
//! authentication). Everything is kept in memory behind one mutex, swept as it expires and
//! capped in size. Requests that add to it or check a password are rate-limited per client
//! address (`limit`).
//!
//! Two settings change the timing: `DEMO_CODE_TTL_SECS` (how long a device code lives,
//! default 600) and `DEMO_INTERVAL_SECS` (the polling interval it asks for, default 5), in
//! `Leptos.toml`, `.env` or the environment like every setting. Tests may also use
//! [`DemoIdp::set_timing`].

mod banner;
mod crypto;
mod endpoints;
mod grants;
mod limit;
mod phone;
mod phone_pages;
mod store;
mod token_endpoint;
mod users;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use url::Url;

pub use self::banner::banner;
use self::crypto::Keys;
use self::limit::DemoLimiter;
use self::store::State;
use self::users::DemoUser;
use crate::i18n::catalog::{Catalog, PHONE};

/// How the demo provider is set up.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// Its issuer, as the server itself reaches it (loopback).
    pub issuer: Url,
    /// Where phones reach this server (verification links use it).
    pub public_base: Url,
    pub client_id: String,
    pub extra_users: Vec<(String, String)>,
    /// Code life and polling interval (from `DEMO_CODE_TTL_SECS`, `DEMO_INTERVAL_SECS`).
    pub timing: DemoTiming,
    /// How many `X-Forwarded-For` entries trusted proxies wrote (0 without `TRUST_PROXY`):
    /// client addresses for the rate limit come from there.
    pub trusted_proxy_hops: usize,
    /// The phone pages' language from `LANGUAGE`; `None`: each phone's `Accept-Language`.
    pub language: Option<&'static str>,
}

/// How long things live and how often the TV may poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoTiming {
    /// A device code's life (`expires_in`).
    pub code_ttl: Duration,
    /// The polling interval asked for (whole seconds, at least 1).
    pub interval: Duration,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
}

impl Default for DemoTiming {
    fn default() -> Self {
        Self {
            code_ttl: Duration::from_secs(600),
            interval: Duration::from_secs(5),
            access_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

impl DemoTiming {
    /// Whole seconds (at least 1) everywhere, as the protocol sends them.
    fn normalized(self) -> Self {
        let whole = |d: Duration| Duration::from_secs(d.as_secs().max(1));
        Self {
            code_ttl: whole(self.code_ttl),
            interval: whole(self.interval),
            access_token_ttl: whole(self.access_token_ttl),
            refresh_token_ttl: whole(self.refresh_token_ttl),
        }
    }
}

/// The demo provider's state.
pub struct DemoIdp {
    config: DemoConfig,
    users: Vec<DemoUser>,
    keys: Keys,
    state: Mutex<State>,
    limiter: DemoLimiter,
    /// The phone pages' words, every language parsed once.
    texts: Catalog,
}

impl std::fmt::Debug for DemoIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoIdp")
            .field("issuer", &self.config.issuer.as_str())
            .finish_non_exhaustive()
    }
}

impl DemoIdp {
    /// Sets the provider up with a fresh signing key.
    ///
    /// # Panics
    /// When the operating system's random number generator is unusable.
    pub fn new(config: DemoConfig) -> Self {
        let keys = Keys::generate()
            .expect("the demo provider cannot generate its signing key (no OS randomness?)");
        let users = users::demo_users(&config.extra_users);
        let timing = config.timing.normalized();
        Self {
            config,
            users,
            keys,
            state: Mutex::new(State::new(timing)),
            limiter: DemoLimiter::default(),
            texts: Catalog::new(PHONE, &[]),
        }
    }

    /// The routes, relative to `/demo-idp`.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/", get(to_device_page))
            .route(
                "/.well-known/openid-configuration",
                get(endpoints::discovery),
            )
            .route("/jwks", get(endpoints::jwks))
            .route(
                "/device_authorization",
                post(endpoints::device_authorization),
            )
            .route("/token", post(token_endpoint::token))
            .route(
                "/userinfo",
                get(endpoints::userinfo).post(endpoints::userinfo),
            )
            .route("/revoke", post(endpoints::revoke))
            .route("/device", get(phone::show).post(phone::submit))
            .fallback(endpoints::not_found)
            .with_state(self)
    }

    /// The timing in force.
    pub fn timing(&self) -> DemoTiming {
        self.state().timing
    }

    /// Changes the timing for codes and tokens issued from now on (tests use short ones).
    pub fn set_timing(&self, timing: DemoTiming) {
        self.state().timing = timing.normalized();
    }

    /// The client this provider accepts.
    pub fn client_id(&self) -> &str {
        &self.config.client_id
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The issuer without a trailing slash; every endpoint hangs off it.
    fn issuer(&self) -> &str {
        self.config.issuer.as_str().trim_end_matches('/')
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer())
    }

    /// The path phones use for this provider's pages (`/demo-idp`, under PUBLIC_URL's path).
    fn public_path(&self) -> String {
        format!(
            "{}/demo-idp",
            self.config.public_base.path().trim_end_matches('/')
        )
    }

    /// The phone page's full URL.
    fn verification_uri(&self) -> String {
        format!(
            "{}/demo-idp/device",
            self.config.public_base.as_str().trim_end_matches('/')
        )
    }

    fn public_is_https(&self) -> bool {
        self.config.public_base.scheme() == "https"
    }

    fn user(&self, username: &str) -> Option<&DemoUser> {
        self.users.iter().find(|u| u.username == username)
    }
}

async fn to_device_page(
    axum::extract::State(idp): axum::extract::State<Arc<DemoIdp>>,
) -> impl IntoResponse {
    Redirect::to(&format!("{}/device", idp.public_path()))
}
