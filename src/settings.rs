//! The app's settings, in layers: built-in defaults, then `Leptos.toml`, then a `.env` file
//! in the working directory, then the environment (last wins). The same key names work in all
//! three. A bad value stops start-up with one line naming the key.

pub mod front_door;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::oidc::config::{EndpointOverrides, ProviderConfig};
use crate::oidc::secret::ClientSecret;
use crate::oidc::url_policy::UrlPolicy;
use crate::oidc::userinfo::ClaimSelection;
use crate::oidc::{ClientAuthMethod, ProviderSource};
use crate::seal::{StoreKey, StoreKeys};

mod screens;
pub use screens::{Logo, ScreenSettings};

/// Every key the app reads, with a one-line description (`tvsignin check-config` and the
/// unknown-key check use this list).
pub const KEYS: &[(&str, &str)] = &[
    ("TENANT_URL", "IBM Security Verify tenant URL (discovery at <TENANT_URL>/oauth2/.well-known/openid-configuration)"),
    ("ISSUER", "any OpenID provider's issuer URL (discovery at <ISSUER>/.well-known/openid-configuration)"),
    ("CLIENT_ID", "the OAuth client ID"),
    ("CLIENT_SECRET", "the client secret (absent: a public client)"),
    ("SCOPE", "scopes to ask for (default: openid profile email)"),
    ("CLIENT_AUTH_METHOD", "client_secret_basic, client_secret_post or none (default: from discovery)"),
    ("AUTH_PARAMS", "extra device authorization parameters, URL-encoded (e.g. audience=https%3A%2F%2Fapi)"),
    ("DEVICE_AUTHORIZATION_ENDPOINT", "override for the device authorization endpoint"),
    ("TOKEN_ENDPOINT", "override for the token endpoint"),
    ("USERINFO_ENDPOINT", "override for the userinfo endpoint"),
    ("REVOCATION_ENDPOINT", "override for the revocation endpoint"),
    ("JWKS_URI", "override for the JWKS URI"),
    ("HTTP_TIMEOUT_SECS", "overall timeout for each provider request (default 15)"),
    ("ALLOW_HTTP_PROVIDER", "true: allow plain http:// provider URLs to other machines, for a lab (default false: https, or http to this machine only)"),
    ("LISTEN_ADDR", "address:port to listen on (default 127.0.0.1:3000; 0.0.0.0:3000 in demo mode without PUBLIC_URL)"),
    ("PUBLIC_URL", "the URL phones and TVs use to reach this server (demo provider links, QR)"),
    ("SITE_DIR", "the browser files, a directory holding pkg/ (default: /usr/share/tvsignin/site for the installed binary, target/site for a build)"),
    ("IDLE_SIGN_OUT_SECS", "signed-in TVs sign out after this long without use (default 600)"),
    ("SIGN_OUT_WARNING_SECS", "how long the TV warns before that (default 60)"),
    ("EXPIRED_RETURN_HOME_SECS", "an expired or declined code returns to Home after this long (default 180)"),
    ("ABANDON_AFTER_SECS", "stop polling when no TV has looked for this long (default 20)"),
    ("PAIRING_RATE_LIMIT", "new pairings allowed per TV session and per client address per minute (default 10)"),
    ("SHOW_CLAIMS", "claims the signed-in screen shows, comma-separated (nested ones as ext.tenantId), or none (default: name,preferred_username,email)"),
    ("LANGUAGE", "the screens' language for every TV: en, de, fr, es or ja (default: each browser's Accept-Language, else English)"),
    ("ORG_NAME", "the operator's name, in the screens' header, title and phishing warning"),
    ("ACCENT_COLOR", "the screens' accent colour, #rrggbb (buttons, badge)"),
    ("LOGO_FILE", "the operator's logo in the screens' header: an .svg, .png, .webp or .jpg file up to 512 KB"),
    ("TRUST_PROXY", "true: trust X-Forwarded-For/-Proto from a reverse proxy (default false)"),
    ("TRUST_PROXY_HOPS", "with TRUST_PROXY: how many proxies in a row append to X-Forwarded-For in front of tvsignin; the client is that many entries from the right (default 1)"),
    ("MAX_PAIRINGS", "pairings in progress on one server at once; more are refused until some end (default 1000)"),
    ("MAX_PUSH_STREAMS_PER_ADDRESS", "open push streams (/events) per client address; more are answered 429 (default 100)"),
    ("MAX_CONNECTIONS", "open connections to one server; more are answered 503 (default 20000, or the open-file limit less 256 when that is lower)"),
    ("REDIS_URL", "keep sessions in Redis (redis://host:port/db, or rediss:// for TLS) so several replicas act as one app (default: in memory)"),
    ("REDIS_CA_FILE", "with rediss://: a PEM file of the CA certificates to trust for Redis instead of the system's"),
    ("STORE_KEY", "32 random bytes, base64, that encrypt device codes and tokens in Redis (required with REDIS_URL; openssl rand -base64 32)"),
    ("STORE_KEY_PREVIOUS", "earlier STORE_KEYs, comma-separated, still accepted for reading while sessions move to the new key"),
    ("DEMO", "true: run the built-in demo provider even though PUBLIC_URL is https or TRUST_PROXY is set; false: never run it (default: only when no provider is configured and neither is set)"),
    ("DEMO_CODE_TTL_SECS", "demo provider only: how long a device code lives (default 600)"),
    ("DEMO_INTERVAL_SECS", "demo provider only: the polling interval it asks for (default 5)"),
    ("DEMO_USERS", "demo provider only: extra users, name:password pairs separated by commas"),
    ("BASE_PATH", "serve under this path prefix, e.g. /tvsignin (default: PUBLIC_URL's path, else /)"),
    ("APP_URL", "where a signed-in TV continues to by itself (an http(s) URL, or a path on this host)"),
    ("APP_CONTINUE_SECS", "seconds the signed-in screen shows before going to APP_URL (default 5)"),
    ("FORWARD_AUTH_USER_CLAIM", "what X-Auth-Request-User carries: sub, preferred_username or email (default sub)"),
    ("FORWARD_AUTH_GROUPS_CLAIM", "the claim X-Auth-Request-Groups comes from, dotted for nested ones (default groups)"),
    ("FORWARD_AUTH_ACCESS_TOKEN", "true: the forward-auth check also answers X-Auth-Request-Access-Token (default false)"),
    ("FORWARD_AUTH_RECHECK_SECS", "the forward-auth check asks the provider's userinfo whether a session's token still works at most this often (default 60)"),
    ("FORWARD_AUTH_JWT", "true: the forward-auth check also answers X-Auth-Request-Jwt, a signed assertion (default false)"),
    ("FORWARD_AUTH_JWT_KEY_FILE", "PEM file of the PKCS#8 P-256 key that signs the assertion (default: a key made at start; required with REDIS_URL)"),
    ("FORWARD_AUTH_JWT_TTL_SECS", "how long an assertion is valid (default 60)"),
    ("FORWARD_AUTH_JWT_AUDIENCE", "the assertion's aud claim (default: none)"),
];

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("bad setting {key}: {problem}")]
pub struct SettingsError {
    pub key: String,
    pub problem: String,
}

fn bad(key: &str, problem: impl Into<String>) -> SettingsError {
    SettingsError {
        key: key.to_owned(),
        problem: problem.into(),
    }
}

/// Raw key/value pairs before interpretation, with where each came from.
#[derive(Clone, Debug, Default)]
pub struct RawSettings {
    values: BTreeMap<String, String>,
}

impl RawSettings {
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Reads `Leptos.toml` (if present), then `.env` (if present), then the environment.
    pub fn load(toml_path: &Path, dotenv_path: &Path) -> Result<Self, SettingsError> {
        let mut values = BTreeMap::new();
        if toml_path.exists() {
            let text = std::fs::read_to_string(toml_path).map_err(|e| {
                bad(
                    &toml_path.display().to_string(),
                    format!("cannot read: {e}"),
                )
            })?;
            read_toml(&text, &mut values)
                .map_err(|problem| bad(&toml_path.display().to_string(), problem))?;
        }
        if dotenv_path.exists() {
            let iter = dotenvy::from_path_iter(dotenv_path)
                .map_err(|e| bad(".env", format!("cannot read: {e}")))?;
            for item in iter {
                let (key, value) = item.map_err(|e| bad(".env", format!("cannot parse: {e}")))?;
                if is_known(&key) {
                    values.insert(key, value);
                }
            }
        }
        for (key, _) in KEYS {
            if let Ok(value) = std::env::var(key) {
                values.insert((*key).to_owned(), value);
            }
        }
        Ok(Self { values })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

fn is_known(key: &str) -> bool {
    KEYS.iter().any(|(k, _)| *k == key)
}

/// `Leptos.toml` holds the same keys as the environment, grouped in tables for reading.
fn read_toml(text: &str, out: &mut BTreeMap<String, String>) -> Result<(), String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("not valid TOML: {}", e.message()))?;
    fn walk(table: &toml::Table, out: &mut BTreeMap<String, String>) -> Result<(), String> {
        for (key, value) in table {
            match value {
                toml::Value::Table(inner) => walk(inner, out)?,
                _ if !is_known(key) => return Err(format!("unknown key {key}")),
                toml::Value::String(s) => {
                    out.insert(key.clone(), s.clone());
                }
                toml::Value::Integer(i) => {
                    out.insert(key.clone(), i.to_string());
                }
                toml::Value::Boolean(b) => {
                    out.insert(key.clone(), b.to_string());
                }
                other => {
                    return Err(format!(
                        "{key} must be a string, number or boolean, not {}",
                        other.type_str()
                    ))
                }
            }
        }
        Ok(())
    }
    walk(&table, out)
}

/// Which provider the app signs in with.
// Made once at start-up, so the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum ProviderChoice {
    /// A real provider.
    External(ProviderConfig),
    /// Nothing configured: the built-in demo provider.
    Demo {
        extra_users: Vec<(String, String)>,
        /// How long a demo device code lives (`DEMO_CODE_TTL_SECS`, default 600 s).
        code_ttl: Duration,
        /// The polling interval the demo provider asks for (`DEMO_INTERVAL_SECS`, default 5 s).
        interval: Duration,
    },
}

/// Kiosk behaviour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KioskSettings {
    pub idle_sign_out: Duration,
    pub sign_out_warning: Duration,
    pub expired_return_home: Duration,
    pub abandon_after: Duration,
    pub pairings_per_minute: u32,
    /// The claims a signed-in TV shows; the rest never leave the server.
    pub show_claims: ClaimSelection,
    /// Pairings in progress on this server at once (`MAX_PAIRINGS`).
    pub max_pairings: usize,
    /// Claims kept at sign-in for the forward-auth check (see `front_door`).
    pub identity_claims: front_door::IdentityClaims,
}

/// Everything the app is configured with.
#[derive(Clone, Debug)]
pub struct Settings {
    pub provider: ProviderChoice,
    pub kiosk: KioskSettings,
    /// `None`: the default for the mode (see [`Settings::listen_addr`]).
    pub listen_addr: Option<SocketAddr>,
    pub public_url: Option<Url>,
    pub trust_proxy: bool,
    /// With `trust_proxy`: how many proxies append to `X-Forwarded-For` (`TRUST_PROXY_HOPS`).
    pub proxy_hops: usize,
    /// Open push streams per client address (`MAX_PUSH_STREAMS_PER_ADDRESS`).
    pub max_push_streams_per_address: usize,
    /// Open connections (`MAX_CONNECTIONS`); `None`: the default, which depends on the
    /// open-file limit (see `start::connection_limit`).
    pub max_connections: Option<usize>,
    /// `None`: sessions are kept in memory.
    pub redis: Option<RedisSettings>,
    /// The browser files (`SITE_DIR`); `None`: found from the binary (see `site`).
    pub site_dir: Option<PathBuf>,
    /// The screens' language and brand.
    pub screens: ScreenSettings,
    /// `BASE_PATH`, `APP_URL` and the forward-auth check.
    pub front_door: front_door::FrontDoorSettings,
}

/// The shared session store (`REDIS_URL`, `REDIS_CA_FILE`, `STORE_KEY`, `STORE_KEY_PREVIOUS`).
#[derive(Clone)]
pub struct RedisSettings {
    /// May hold a password, so `Debug` shows only the host.
    pub url: Url,
    /// With `rediss://`: the CA certificates (PEM) to trust instead of the system's.
    pub ca_pem: Option<Vec<u8>>,
    pub key: StoreKeys,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("host", &self.url.host_str())
            .field("tls", &self.uses_tls())
            .field("own_ca", &self.ca_pem.is_some())
            .field("key", &self.key)
            .finish()
    }
}

impl RedisSettings {
    pub fn uses_tls(&self) -> bool {
        self.url.scheme() == "rediss"
    }
}

fn parse_redis(raw: &RawSettings, demo: bool) -> Result<Option<RedisSettings>, SettingsError> {
    let Some(value) = raw.get("REDIS_URL") else {
        for key in ["REDIS_CA_FILE", "STORE_KEY", "STORE_KEY_PREVIOUS"] {
            if raw.get(key).is_some() {
                return Err(bad(key, "is set but REDIS_URL is not"));
            }
        }
        return Ok(None);
    };
    // Never echo the value: it may carry a password.
    let url = Url::parse(value).map_err(|e| bad("REDIS_URL", format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "redis" | "rediss") || url.host_str().is_none_or(str::is_empty) {
        return Err(bad(
            "REDIS_URL",
            "must look like redis://host:port/db or rediss://host:port/db (sockets are not supported)",
        ));
    }
    if url.fragment().is_some() {
        // The client reads `#insecure` as "skip certificate checks"; nothing else goes there.
        return Err(bad(
            "REDIS_URL",
            "must not end in a #fragment (certificate checks cannot be turned off; use REDIS_CA_FILE for a private CA)",
        ));
    }
    if demo {
        return Err(bad(
            "REDIS_URL",
            "the built-in demo provider keeps its codes in one process; set ISSUER or TENANT_URL to run with Redis",
        ));
    }
    let ca_pem = match raw.get("REDIS_CA_FILE") {
        None => None,
        Some(_) if url.scheme() != "rediss" => {
            return Err(bad(
                "REDIS_CA_FILE",
                "is set but REDIS_URL is not rediss:// (TLS)",
            ))
        }
        Some(path) => Some(read_ca_file(path)?),
    };
    let key = raw
        .get("STORE_KEY")
        .ok_or_else(|| {
            bad(
                "STORE_KEY",
                "is required with REDIS_URL (make one with `openssl rand -base64 32`)",
            )
        })
        .and_then(|k| StoreKey::from_base64(k).map_err(|problem| bad("STORE_KEY", problem)))?;
    let previous = raw
        .get("STORE_KEY_PREVIOUS")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .enumerate()
                .map(|(n, k)| {
                    StoreKey::from_base64(k).map_err(|problem| {
                        bad("STORE_KEY_PREVIOUS", format!("key {}: {problem}", n + 1))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    let key = StoreKeys::new(key, previous);
    Ok(Some(RedisSettings { url, ca_pem, key }))
}

/// Reads a PEM file that must hold at least one certificate.
fn read_ca_file(path: &str) -> Result<Vec<u8>, SettingsError> {
    let pem = std::fs::read(path)
        .map_err(|e| bad("REDIS_CA_FILE", format!("cannot read {path}: {e}")))?;
    let has_certificate = pem
        .windows(b"-----BEGIN CERTIFICATE-----".len())
        .any(|w| w == b"-----BEGIN CERTIFICATE-----");
    if !has_certificate {
        return Err(bad(
            "REDIS_CA_FILE",
            format!("{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
        ));
    }
    Ok(pem)
}

pub use crate::oidc::url_policy::is_this_machine;

/// A provider URL: `https`, or plain `http` to this machine, or anywhere with
/// `ALLOW_HTTP_PROVIDER` (tokens and the client secret would cross the network in clear).
fn parse_provider_url(
    raw: &RawSettings,
    key: &str,
    allow_plain_http: bool,
) -> Result<Option<Url>, SettingsError> {
    let url = parse_url(raw, key)?;
    if let Some(url) = &url {
        let policy = UrlPolicy {
            allow_plain_http,
            // The settings are the operator's word: a local helper is fine.
            provider_is_local: true,
        };
        policy
            .check(url, false)
            .map_err(|refusal| bad(key, format!("{url} {}", refusal.explain())))?;
    }
    Ok(url)
}

fn parse_url(raw: &RawSettings, key: &str) -> Result<Option<Url>, SettingsError> {
    let Some(value) = raw.get(key) else {
        return Ok(None);
    };
    let url = Url::parse(value).map_err(|e| bad(key, format!("{value:?} is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad(
            key,
            format!("{value:?} is not an absolute http(s) URL"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            key,
            format!("{value:?} must not have a query or fragment"),
        ));
    }
    Ok(Some(url))
}

fn parse_secs(
    raw: &RawSettings,
    key: &str,
    default: u64,
    min: u64,
) -> Result<Duration, SettingsError> {
    match raw.get(key) {
        None => Ok(Duration::from_secs(default)),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n >= min => Ok(Duration::from_secs(n)),
            Ok(n) => Err(bad(key, format!("{n} is too small (at least {min})"))),
            Err(_) => Err(bad(key, format!("{v:?} is not a whole number of seconds"))),
        },
    }
}

fn parse_count(raw: &RawSettings, key: &str, default: usize) -> Result<usize, SettingsError> {
    match raw.get(key) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| bad(key, format!("{v:?} is not a positive whole number"))),
    }
}

fn parse_bool(raw: &RawSettings, key: &str) -> Result<bool, SettingsError> {
    match raw.get(key).map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some(other) => Err(bad(key, format!("{other:?} is not true or false"))),
    }
}

/// Parameters the client sets itself may not be overridden through AUTH_PARAMS.
const RESERVED_PARAMS: &[&str] = &[
    "client_id",
    "client_secret",
    "scope",
    "grant_type",
    "device_code",
];

impl Settings {
    pub fn from_raw(raw: &RawSettings) -> Result<Self, SettingsError> {
        let allow_http = parse_bool(raw, "ALLOW_HTTP_PROVIDER")?;
        let provider_url = |key| parse_provider_url(raw, key, allow_http);
        let tenant = provider_url("TENANT_URL")?;
        let issuer = provider_url("ISSUER")?;
        let overrides = EndpointOverrides {
            device_authorization: provider_url("DEVICE_AUTHORIZATION_ENDPOINT")?,
            token: provider_url("TOKEN_ENDPOINT")?,
            userinfo: provider_url("USERINFO_ENDPOINT")?,
            revocation: provider_url("REVOCATION_ENDPOINT")?,
            jwks_uri: provider_url("JWKS_URI")?,
        };
        let source = match (tenant, issuer) {
            (Some(_), Some(_)) => {
                return Err(bad("ISSUER", "set either TENANT_URL or ISSUER, not both"))
            }
            (Some(t), None) => Some(ProviderSource::Tenant(t)),
            (None, Some(i)) => Some(ProviderSource::Issuer(i)),
            (None, None) if overrides.token.is_some() => Some(ProviderSource::Manual),
            (None, None) => None,
        };
        let public_url = parse_url(raw, "PUBLIC_URL")?;
        let trust_proxy = parse_bool(raw, "TRUST_PROXY")?;
        let demo = parse_demo_choice(raw)?;
        let provider = match source {
            None => {
                if raw.get("CLIENT_ID").is_some() {
                    return Err(bad(
                        "CLIENT_ID",
                        "is set but no provider is: set TENANT_URL or ISSUER too",
                    ));
                }
                if !cfg!(feature = "demo") {
                    return Err(bad(
                        "ISSUER",
                        "no provider is configured (set TENANT_URL or ISSUER), and this build \
                         has no demo provider",
                    ));
                }
                check_demo_allowed(demo, public_url.as_ref(), trust_proxy)?;
                ProviderChoice::Demo {
                    extra_users: parse_demo_users(raw)?,
                    code_ttl: parse_secs(raw, "DEMO_CODE_TTL_SECS", 600, 2)?,
                    interval: parse_secs(raw, "DEMO_INTERVAL_SECS", 5, 1)?,
                }
            }
            Some(_) if demo == Some(true) => return Err(bad(
                "DEMO",
                "is true, but a provider is configured (TENANT_URL, ISSUER or TOKEN_ENDPOINT): \
                     remove one or the other",
            )),
            Some(source) => {
                let client_id = raw
                    .get("CLIENT_ID")
                    .ok_or_else(|| bad("CLIENT_ID", "is required when a provider is configured"))?;
                let mut config = ProviderConfig::new(source, client_id);
                config.client_secret = raw.get("CLIENT_SECRET").map(ClientSecret::new);
                if let Some(scope) = raw.get("SCOPE") {
                    config.scope = scope.split_whitespace().collect::<Vec<_>>().join(" ");
                }
                config.overrides = overrides;
                config.allow_plain_http = allow_http;
                if let Some(method) = raw.get("CLIENT_AUTH_METHOD") {
                    let method = ClientAuthMethod::parse(method).ok_or_else(|| {
                        bad(
                            "CLIENT_AUTH_METHOD",
                            format!(
                                "{method:?} is not client_secret_basic, client_secret_post or none"
                            ),
                        )
                    })?;
                    if method != ClientAuthMethod::None && config.client_secret.is_none() {
                        return Err(bad(
                            "CLIENT_AUTH_METHOD",
                            format!("{} needs CLIENT_SECRET", method.as_str()),
                        ));
                    }
                    config.auth_method = Some(method);
                }
                if let Some(params) = raw.get("AUTH_PARAMS") {
                    let pairs: Vec<(String, String)> =
                        serde_urlencoded::from_str(params).map_err(|e| {
                            bad(
                                "AUTH_PARAMS",
                                format!("not URL-encoded name=value pairs ({e})"),
                            )
                        })?;
                    if let Some((name, _)) = pairs
                        .iter()
                        .find(|(k, _)| RESERVED_PARAMS.contains(&k.as_str()))
                    {
                        return Err(bad(
                            "AUTH_PARAMS",
                            format!("{name} is set by tvsignin itself"),
                        ));
                    }
                    config.extra_auth_params = pairs;
                }
                config.request_timeout = parse_secs(raw, "HTTP_TIMEOUT_SECS", 15, 1)?;
                config.connect_timeout = config.request_timeout.min(Duration::from_secs(5));
                ProviderChoice::External(config)
            }
        };
        let listen_addr = match raw.get("LISTEN_ADDR") {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| {
                bad(
                    "LISTEN_ADDR",
                    format!("{v:?} is not an address:port such as 127.0.0.1:3000"),
                )
            })?),
        };
        let idle_sign_out = parse_secs(raw, "IDLE_SIGN_OUT_SECS", 600, 10)?;
        let sign_out_warning = parse_secs(raw, "SIGN_OUT_WARNING_SECS", 60, 1)?;
        if sign_out_warning >= idle_sign_out {
            return Err(bad(
                "SIGN_OUT_WARNING_SECS",
                "must be shorter than IDLE_SIGN_OUT_SECS",
            ));
        }
        let pairings_per_minute = match raw.get("PAIRING_RATE_LIMIT") {
            None => 10,
            Some(v) => v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                bad(
                    "PAIRING_RATE_LIMIT",
                    format!("{v:?} is not a positive whole number"),
                )
            })?,
        };
        let trust_proxy = parse_bool(raw, "TRUST_PROXY")?;
        if !trust_proxy && raw.get("TRUST_PROXY_HOPS").is_some() {
            return Err(bad(
                "TRUST_PROXY_HOPS",
                "is set but TRUST_PROXY is not true",
            ));
        }
        let max_connections = match raw.get("MAX_CONNECTIONS") {
            None => None,
            Some(_) => Some(parse_count(raw, "MAX_CONNECTIONS", 1)?),
        };
        let redis = parse_redis(raw, matches!(provider, ProviderChoice::Demo { .. }))?;
        let front_door = front_door::parse(raw, public_url.as_ref(), redis.is_some())?;
        Ok(Self {
            provider,
            kiosk: KioskSettings {
                idle_sign_out,
                sign_out_warning,
                expired_return_home: parse_secs(raw, "EXPIRED_RETURN_HOME_SECS", 180, 1)?,
                abandon_after: parse_secs(raw, "ABANDON_AFTER_SECS", 20, 2)?,
                pairings_per_minute,
                show_claims: match raw.get("SHOW_CLAIMS") {
                    None => ClaimSelection::default(),
                    Some(list) => ClaimSelection::parse(list)
                        .map_err(|problem| bad("SHOW_CLAIMS", problem))?,
                },
                max_pairings: parse_count(raw, "MAX_PAIRINGS", 1000)?,
                identity_claims: front_door.identity_claims.clone(),
            },
            listen_addr,
            public_url,
            trust_proxy,
            proxy_hops: parse_count(raw, "TRUST_PROXY_HOPS", 1)?,
            max_push_streams_per_address: parse_count(raw, "MAX_PUSH_STREAMS_PER_ADDRESS", 100)?,
            max_connections,
            redis,
            site_dir: raw
                .get("SITE_DIR")
                .map(|dir| check_site_dir(dir).map_err(|problem| bad("SITE_DIR", problem)))
                .transpose()?,
            screens: ScreenSettings::parse(raw)?,
            front_door,
        })
    }

    /// How many `X-Forwarded-For` entries, counted from the right, trusted proxies wrote: 0
    /// when no proxy is trusted (see `limits::client_address`).
    pub fn trusted_proxy_hops(&self) -> usize {
        if self.trust_proxy {
            self.proxy_hops
        } else {
            0
        }
    }

    pub fn is_demo(&self) -> bool {
        matches!(self.provider, ProviderChoice::Demo { .. })
    }

    /// Where to listen: the setting, else all interfaces in demo mode without a public URL (so
    /// a phone on the LAN can reach the demo provider), else loopback.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen_addr.unwrap_or_else(|| {
            if self.is_demo() && self.public_url.is_none() {
                SocketAddr::from(([0, 0, 0, 0], 3000))
            } else {
                SocketAddr::from(([127, 0, 0, 1], 3000))
            }
        })
    }
}

/// `DEMO`: `Some(true)` runs the demo provider even on a server that looks like production,
/// `Some(false)` never runs it, `None` leaves it to [`check_demo_allowed`].
fn parse_demo_choice(raw: &RawSettings) -> Result<Option<bool>, SettingsError> {
    raw.get("DEMO").map(|_| parse_bool(raw, "DEMO")).transpose()
}

/// With no provider configured, the built-in demo provider starts, unless the settings say
/// this is a production server: an https `PUBLIC_URL` or a trusted proxy. Then a missing
/// `.env` would silently open a sign-in that anyone on the network can use; only `DEMO=true`
/// says that is meant.
fn check_demo_allowed(
    demo: Option<bool>,
    public_url: Option<&Url>,
    trust_proxy: bool,
) -> Result<(), SettingsError> {
    const SET_A_PROVIDER: &str =
        "set ISSUER (or TENANT_URL) and CLIENT_ID for your identity provider";
    let production_sign = if public_url.is_some_and(|u| u.scheme() == "https") {
        Some("PUBLIC_URL is https")
    } else if trust_proxy {
        Some("TRUST_PROXY is set")
    } else {
        None
    };
    match (demo, production_sign) {
        (Some(true), _) | (None, None) => Ok(()),
        (Some(false), _) => Err(bad(
            "ISSUER",
            format!("no provider is configured and DEMO=false forbids the built-in demo provider: {SET_A_PROVIDER}"),
        )),
        (None, Some(sign)) => Err(bad(
            "ISSUER",
            format!(
                "no provider is configured, and {sign}, so this looks like a production server, \
                 where the built-in demo provider is refused: {SET_A_PROVIDER}, or set DEMO=true \
                 to run the demo provider anyway"
            ),
        )),
    }
}

fn parse_demo_users(raw: &RawSettings) -> Result<Vec<(String, String)>, SettingsError> {
    let Some(list) = raw.get("DEMO_USERS") else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(|pair| {
            let (name, password) = pair
                .trim()
                .split_once(':')
                .ok_or_else(|| bad("DEMO_USERS", format!("{pair:?} is not name:password")))?;
            if name.is_empty()
                || password.is_empty()
                || !name.chars().all(|c| c.is_ascii_alphanumeric())
            {
                return Err(bad(
                    "DEMO_USERS",
                    format!("{name:?} needs a plain name and a password"),
                ));
            }
            Ok((name.to_owned(), password.to_owned()))
        })
        .collect()
}

/// Checks a `SITE_DIR` value: a directory holding the bundle's `pkg/`.
fn check_site_dir(value: &str) -> Result<std::path::PathBuf, String> {
    let path = std::path::PathBuf::from(value);
    match std::fs::metadata(&path) {
        Err(error) => Err(format!("cannot use {value:?}: {error}")),
        Ok(meta) if !meta.is_dir() => Err(format!("{value:?} is not a directory")),
        Ok(_) if !path.join("pkg").is_dir() => Err(format!(
            "{value:?} has no pkg/ directory: it must be the site cargo-leptos builds \
             (target/site), or /usr/share/tvsignin/site where the package installs it"
        )),
        Ok(_) => Ok(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::from_raw(&RawSettings::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn nothing_configured_is_demo_mode() {
        let s = settings(&[]).unwrap();
        assert!(s.is_demo());
        assert_eq!(s.listen_addr(), "0.0.0.0:3000".parse().unwrap());
        let s = settings(&[("PUBLIC_URL", "http://127.0.0.1:3000")]).unwrap();
        assert_eq!(s.listen_addr(), "127.0.0.1:3000".parse().unwrap());
    }

    #[test]
    fn demo_mode_is_refused_where_production_shows() {
        // (settings, demo mode or the key a refusal names)
        type Case<'a> = (&'a [(&'a str, &'a str)], Result<bool, &'a str>);
        let cases: &[Case] = &[
            (&[], Ok(true)),
            (&[("PUBLIC_URL", "http://192.168.1.20:3000")], Ok(true)),
            (&[("PUBLIC_URL", "https://kiosk.example")], Err("ISSUER")),
            (&[("TRUST_PROXY", "true")], Err("ISSUER")),
            (
                &[("PUBLIC_URL", "https://kiosk.example"), ("DEMO", "true")],
                Ok(true),
            ),
            (&[("TRUST_PROXY", "true"), ("DEMO", "yes")], Ok(true)),
            (&[("DEMO", "false")], Err("ISSUER")),
            (&[("DEMO", "sometimes")], Err("DEMO")),
            (
                &[
                    ("ISSUER", "https://idp.example"),
                    ("CLIENT_ID", "tv"),
                    ("DEMO", "true"),
                ],
                Err("DEMO"),
            ),
            (
                &[
                    ("ISSUER", "https://idp.example"),
                    ("CLIENT_ID", "tv"),
                    ("DEMO", "false"),
                ],
                Ok(false),
            ),
            (
                &[
                    ("ISSUER", "https://idp.example"),
                    ("CLIENT_ID", "tv"),
                    ("PUBLIC_URL", "https://kiosk.example"),
                    ("TRUST_PROXY", "true"),
                ],
                Ok(false),
            ),
        ];
        for (pairs, expected) in cases {
            match (settings(pairs), expected) {
                (Ok(s), Ok(demo)) => assert_eq!(s.is_demo(), *demo, "{pairs:?}"),
                (Err(e), Err(key)) => {
                    assert_eq!(e.key, *key, "{pairs:?}: {e}");
                    if *key == "ISSUER" {
                        assert!(e.problem.contains("demo provider"), "{e}");
                    }
                }
                (other, _) => panic!("{pairs:?}: {other:?}"),
            }
        }
        let refused = settings(&[("PUBLIC_URL", "https://kiosk.example")]).unwrap_err();
        assert!(
            refused.problem.contains("PUBLIC_URL is https")
                && refused.problem.contains("DEMO=true"),
            "{refused}"
        );
    }

    #[test]
    fn show_claims_defaults_to_a_short_list() {
        let shown = |pairs: &[(&str, &str)]| settings(pairs).unwrap().kiosk.show_claims;
        assert_eq!(shown(&[]).names(), ["name", "preferred_username", "email"]);
        assert_eq!(
            shown(&[("SHOW_CLAIMS", "email, ext.tenantId")]).names(),
            ["email", "ext.tenantId"]
        );
        assert!(shown(&[("SHOW_CLAIMS", "none")]).names().is_empty());
    }

    #[test]
    fn edge_limits_and_proxy_hops() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.kiosk.max_pairings, 1000);
        assert_eq!(s.max_push_streams_per_address, 100);
        assert_eq!(s.max_connections, None);
        assert_eq!(s.trusted_proxy_hops(), 0, "no proxy is trusted by default");
        let s = settings(&[("TRUST_PROXY", "true"), ("DEMO", "true")]).unwrap();
        assert_eq!(s.trusted_proxy_hops(), 1, "one proxy by default");
        let s = settings(&[
            ("TRUST_PROXY", "true"),
            ("DEMO", "true"),
            ("TRUST_PROXY_HOPS", "2"),
            ("MAX_PAIRINGS", "5"),
            ("MAX_PUSH_STREAMS_PER_ADDRESS", "3"),
            ("MAX_CONNECTIONS", "64"),
        ])
        .unwrap();
        assert_eq!(s.trusted_proxy_hops(), 2);
        assert_eq!(s.kiosk.max_pairings, 5);
        assert_eq!(s.max_push_streams_per_address, 3);
        assert_eq!(s.max_connections, Some(64));
    }

    #[test]
    fn tenant_url_settings() {
        let s = settings(&[
            ("TENANT_URL", "https://acme.verify.ibm.com"),
            ("CLIENT_ID", "tv"),
            ("CLIENT_SECRET", "s"),
            ("SCOPE", "openid  profile"),
        ])
        .unwrap();
        let ProviderChoice::External(c) = s.provider else {
            panic!("not external")
        };
        assert!(matches!(c.source, ProviderSource::Tenant(_)));
        assert_eq!(c.scope, "openid profile");
        assert_eq!(c.client_secret.unwrap().expose(), "s");
    }

    #[test]
    fn bad_values_name_the_key() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("TENANT_URL", "not a url"), ("CLIENT_ID", "x")],
                "TENANT_URL",
            ),
            (
                &[("TENANT_URL", "ftp://x.example"), ("CLIENT_ID", "x")],
                "TENANT_URL",
            ),
            (&[("ISSUER", "https://x.example")], "CLIENT_ID"),
            (
                &[
                    ("ISSUER", "https://x.example"),
                    ("TENANT_URL", "https://y.example"),
                    ("CLIENT_ID", "x"),
                ],
                "ISSUER",
            ),
            (
                &[
                    ("ISSUER", "https://x.example"),
                    ("CLIENT_ID", "x"),
                    ("CLIENT_AUTH_METHOD", "magic"),
                ],
                "CLIENT_AUTH_METHOD",
            ),
            (
                &[
                    ("ISSUER", "https://x.example"),
                    ("CLIENT_ID", "x"),
                    ("CLIENT_AUTH_METHOD", "client_secret_post"),
                ],
                "CLIENT_AUTH_METHOD",
            ),
            (
                &[
                    ("ISSUER", "https://x.example"),
                    ("CLIENT_ID", "x"),
                    ("AUTH_PARAMS", "scope=evil"),
                ],
                "AUTH_PARAMS",
            ),
            (&[("LISTEN_ADDR", "localhost")], "LISTEN_ADDR"),
            (&[("IDLE_SIGN_OUT_SECS", "ten")], "IDLE_SIGN_OUT_SECS"),
            (
                &[
                    ("IDLE_SIGN_OUT_SECS", "30"),
                    ("SIGN_OUT_WARNING_SECS", "60"),
                ],
                "SIGN_OUT_WARNING_SECS",
            ),
            (&[("TRUST_PROXY", "maybe")], "TRUST_PROXY"),
            (&[("TRUST_PROXY_HOPS", "2")], "TRUST_PROXY_HOPS"),
            (
                &[
                    ("TRUST_PROXY", "true"),
                    ("DEMO", "true"),
                    ("TRUST_PROXY_HOPS", "0"),
                ],
                "TRUST_PROXY_HOPS",
            ),
            (&[("MAX_PAIRINGS", "0")], "MAX_PAIRINGS"),
            (
                &[("MAX_PUSH_STREAMS_PER_ADDRESS", "many")],
                "MAX_PUSH_STREAMS_PER_ADDRESS",
            ),
            (&[("MAX_CONNECTIONS", "-1")], "MAX_CONNECTIONS"),
            (&[("DEMO_INTERVAL_SECS", "0")], "DEMO_INTERVAL_SECS"),
            (&[("DEMO_CODE_TTL_SECS", "soon")], "DEMO_CODE_TTL_SECS"),
            (&[("CLIENT_ID", "x")], "CLIENT_ID"),
            (&[("SHOW_CLAIMS", "*")], "SHOW_CLAIMS"),
            (&[("SHOW_CLAIMS", "name,,email")], "SHOW_CLAIMS"),
        ];
        for (pairs, key) in cases {
            let err = settings(pairs).unwrap_err();
            assert_eq!(err.key, *key, "{pairs:?}: {err}");
            assert!(err.to_string().starts_with(&format!("bad setting {key}: ")));
        }
    }

    #[test]
    fn provider_urls_are_https_unless_on_this_machine_or_allowed() {
        let with = |key: &'static str, url: &'static str, allow: Option<&'static str>| {
            let mut pairs = vec![("CLIENT_ID", "tv"), (key, url)];
            if key != "ISSUER" && key != "TENANT_URL" {
                pairs.push(("ISSUER", "https://idp.example"));
            }
            if let Some(allow) = allow {
                pairs.push(("ALLOW_HTTP_PROVIDER", allow));
            }
            settings(&pairs)
        };
        for key in [
            "ISSUER",
            "TENANT_URL",
            "DEVICE_AUTHORIZATION_ENDPOINT",
            "TOKEN_ENDPOINT",
            "USERINFO_ENDPOINT",
            "REVOCATION_ENDPOINT",
            "JWKS_URI",
        ] {
            let err = with(key, "http://idp.example/x", None).unwrap_err();
            assert_eq!(err.key, key, "{err}");
            assert!(err.problem.contains("ALLOW_HTTP_PROVIDER"), "{err}");
            assert!(with(key, "https://idp.example/x", None).is_ok(), "{key}");
            assert!(with(key, "http://127.0.0.1:4000/x", None).is_ok(), "{key}");
            assert!(with(key, "http://localhost:4000/x", None).is_ok(), "{key}");
            let lab = with(key, "http://idp.lab/x", Some("true")).unwrap();
            let ProviderChoice::External(config) = lab.provider else {
                panic!("{key}: not external");
            };
            assert!(config.allow_plain_http, "{key}");
        }
        let err = with("ISSUER", "https://idp.example", Some("perhaps")).unwrap_err();
        assert_eq!(err.key, "ALLOW_HTTP_PROVIDER");
    }

    #[test]
    fn redis_over_tls_with_a_private_ca() {
        const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let dir = std::env::temp_dir().join(format!("tvsignin-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(
            &ca,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let not_pem = dir.join("key.txt");
        std::fs::write(&not_pem, "just text").unwrap();
        let (ca, not_pem) = (ca.to_str().unwrap(), not_pem.to_str().unwrap());
        fn with(extra: &[(&str, &str)]) -> Result<Settings, SettingsError> {
            let mut pairs = vec![
                ("ISSUER", "https://x.example"),
                ("CLIENT_ID", "x"),
                ("STORE_KEY", KEY),
            ];
            pairs.extend_from_slice(extra);
            settings(&pairs)
        }

        let s = with(&[
            ("REDIS_URL", "rediss://r.example:6380/0"),
            ("REDIS_CA_FILE", ca),
        ])
        .unwrap();
        let redis = s.redis.unwrap();
        assert!(redis.uses_tls());
        assert!(redis
            .ca_pem
            .unwrap()
            .starts_with(b"-----BEGIN CERTIFICATE-----"));
        let s = with(&[("REDIS_URL", "rediss://r.example:6380/0")]).unwrap();
        assert!(
            s.redis.as_ref().unwrap().ca_pem.is_none(),
            "system roots by default"
        );
        assert!(!with(&[("REDIS_URL", "redis://r.example/0")])
            .unwrap()
            .redis
            .unwrap()
            .uses_tls());

        // Extra settings, the key the error names, and what it says.
        type Refused<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let refused: &[Refused] = &[
            (
                &[("REDIS_URL", "rediss://r.example/0#insecure")],
                "REDIS_URL",
                "fragment",
            ),
            (
                &[("REDIS_URL", "redis://r.example/0"), ("REDIS_CA_FILE", ca)],
                "REDIS_CA_FILE",
                "rediss://",
            ),
            (
                &[
                    ("REDIS_URL", "rediss://r.example/0"),
                    ("REDIS_CA_FILE", not_pem),
                ],
                "REDIS_CA_FILE",
                "no PEM",
            ),
            (
                &[
                    ("REDIS_URL", "rediss://r.example/0"),
                    ("REDIS_CA_FILE", "/nonexistent/ca.pem"),
                ],
                "REDIS_CA_FILE",
                "cannot read",
            ),
            (
                &[("REDIS_CA_FILE", ca)],
                "REDIS_CA_FILE",
                "REDIS_URL is not",
            ),
            (
                &[("REDIS_URL", "unix:///run/redis.sock")],
                "REDIS_URL",
                "rediss://",
            ),
        ];
        for (extra, key, says) in refused {
            let err = with(extra).unwrap_err();
            assert_eq!(err.key, *key, "{extra:?}: {err}");
            assert!(err.problem.contains(says), "{extra:?}: {err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn previous_store_keys_are_a_comma_separated_list() {
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine;
        let k = |b: u8| STANDARD.encode([b; 32]);
        let (one, two) = (k(1), k(2));
        let list = format!("{one}, {two},");
        let base = [
            ("ISSUER", "https://x.example"),
            ("CLIENT_ID", "x"),
            ("REDIS_URL", "redis://127.0.0.1/0"),
            ("STORE_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        ];
        let with = |previous: &str| {
            let mut pairs = base.to_vec();
            pairs.push(("STORE_KEY_PREVIOUS", previous));
            settings(&pairs)
        };
        let keys = with(&list).unwrap().redis.unwrap().key;
        // Either previous key opens; the current key seals.
        for b in [1, 2] {
            let old = StoreKey::from_base64(&k(b)).unwrap();
            let sealed = old.seal(b"s", b"v").unwrap();
            assert_eq!(keys.open(b"s", &sealed).unwrap(), b"v");
        }
        let err = with(&format!("{one},not-a-key")).unwrap_err();
        assert_eq!(err.key, "STORE_KEY_PREVIOUS", "{err}");
        assert!(err.problem.starts_with("key 2: "), "{err}");
        let alone = settings(&[("STORE_KEY_PREVIOUS", one.as_str())]).unwrap_err();
        assert_eq!(alone.key, "STORE_KEY_PREVIOUS", "{alone}");
    }

    #[test]
    fn toml_uses_the_same_keys_in_tables() {
        let mut out = BTreeMap::new();
        read_toml("[provider]\nISSUER = \"https://x.example\"\nCLIENT_ID = \"tv\"\n[kiosk]\nIDLE_SIGN_OUT_SECS = 300\n", &mut out).unwrap();
        assert_eq!(
            out.get("IDLE_SIGN_OUT_SECS").map(String::as_str),
            Some("300")
        );
        let err = read_toml("[provider]\nISUER = \"x\"\n", &mut out).unwrap_err();
        assert!(err.contains("ISUER"), "{err}");
    }

    #[test]
    fn a_bad_site_dir_is_explained() {
        let dir = std::env::temp_dir().join(format!("tvsignin-site-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let site = dir.join("site");
        std::fs::create_dir_all(&site).unwrap();
        let problem = check_site_dir(&site.to_string_lossy()).unwrap_err();
        assert!(problem.contains("has no pkg/ directory"), "{problem}");
        let file = site.join("favicon.ico");
        std::fs::write(&file, b"").unwrap();
        let problem = check_site_dir(&file.to_string_lossy()).unwrap_err();
        assert!(problem.contains("is not a directory"), "{problem}");
        let problem = check_site_dir("/nonexistent/site").unwrap_err();
        assert!(
            problem.contains("cannot use \"/nonexistent/site\""),
            "{problem}"
        );
        std::fs::create_dir_all(site.join("pkg")).unwrap();
        assert_eq!(check_site_dir(&site.to_string_lossy()).unwrap(), site);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
