//! `tvsignin check-config`: validates the settings, then the provider they name, and prints a
//! report on stdout, one line per check:
//!
//! ```text
//! OK    settings: valid (read from .env, the environment)
//! OK    provider: issuer https://idp.example (client tv, public: no secret)
//! OK    discovery: loaded https://idp.example/.well-known/openid-configuration
//! ...
//! WARN  revocation endpoint: not advertised; sign-out drops the tokens without revoking them
//! ```
//!
//! Exit 0 when every required check passed (warnings allowed), else 1. A bad setting is one
//! `FAIL` line naming the key. In demo mode (no provider configured) it reports that the
//! built-in demo provider will be used and exits 0 without touching the network.
//!
//! Required: valid settings; discovery loads (unless every endpoint comes from the settings);
//! the device grant, when the provider lists its grant types; the device authorization and
//! token endpoints; the JWKS URI when an ID token is expected (scope `openid`); a userinfo
//! endpoint when there is no ID token to read the person from; and the provider accepting the
//! client: a device authorization request (the test code is never shown and expires unused)
//! and one poll of the token endpoint with it, which must answer `authorization_pending` (or
//! `slow_down`), proving the client id, secret and authentication method work. Discovery
//! fails when its `issuer` differs from ISSUER (or `<TENANT_URL>/oauth2`), or when any
//! endpoint is not https (plain http only to this machine, or with ALLOW_HTTP_PROVIDER).
//! Warnings: no grant type list, no revocation endpoint, no userinfo endpoint with an ID
//! token, plain HTTP to a host other than this machine (allowed by ALLOW_HTTP_PROVIDER), a
//! secret that is not sent.

use std::fmt::Display;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use url::Url;

use crate::oidc::config::ClientAuthMethod;
use crate::oidc::discovery::Endpoints;
use crate::oidc::error::ErrorCode;
use crate::oidc::secret::DeviceCode;
use crate::oidc::{ProviderClient, ProviderConfig, ProviderError, ProviderSource};
use crate::settings::ProviderChoice;

const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Ok,
    Warn,
    Fail,
}

/// The report: lines as they are decided, and the tally.
#[derive(Default)]
struct Report {
    warnings: usize,
    failures: usize,
}

impl Report {
    fn line(&mut self, verdict: Verdict, check: &str, detail: impl Display) {
        let label = match verdict {
            Verdict::Ok => "OK",
            Verdict::Warn => {
                self.warnings += 1;
                "WARN"
            }
            Verdict::Fail => {
                self.failures += 1;
                "FAIL"
            }
        };
        let mut stdout = std::io::stdout().lock();
        // A closed pipe is no reason to panic; the exit code still tells.
        let _ = writeln!(stdout, "{label:<5} {check}: {detail}");
        let _ = stdout.flush();
    }

    fn ok(&mut self, check: &str, detail: impl Display) {
        self.line(Verdict::Ok, check, detail);
    }

    fn warn(&mut self, check: &str, detail: impl Display) {
        self.line(Verdict::Warn, check, detail);
    }

    fn fail(&mut self, check: &str, detail: impl Display) {
        self.line(Verdict::Fail, check, detail);
    }

    /// The summary line and the exit code.
    fn finish(self) -> ExitCode {
        let warnings = match self.warnings {
            0 => String::new(),
            1 => " (1 warning)".to_owned(),
            n => format!(" ({n} warnings)"),
        };
        let (text, code) = match self.failures {
            0 => (
                format!("all required checks passed{warnings}"),
                ExitCode::SUCCESS,
            ),
            1 => (
                format!("1 required check failed{warnings}"),
                ExitCode::FAILURE,
            ),
            n => (
                format!("{n} required checks failed{warnings}"),
                ExitCode::FAILURE,
            ),
        };
        let _ = writeln!(std::io::stdout().lock(), "\n{text}");
        code
    }
}

pub async fn run(config: &Path) -> ExitCode {
    let mut report = Report::default();
    let settings = match super::load_settings(config) {
        Ok(settings) => settings,
        Err(error) => {
            report.fail("settings", error);
            return report.finish();
        }
    };
    let mut sources: Vec<String> = Vec::new();
    if config.exists() {
        sources.push(config.display().to_string());
    }
    if Path::new(".env").exists() {
        sources.push(".env".to_owned());
    }
    sources.push("the environment".to_owned());
    report.ok(
        "settings",
        format!("valid (read from {})", sources.join(", ")),
    );

    match settings.provider {
        ProviderChoice::Demo { extra_users, .. } => {
            let users = if extra_users.is_empty() {
                String::new()
            } else {
                format!(" with {} extra user(s) from DEMO_USERS", extra_users.len())
            };
            report.ok(
                "provider",
                format!(
                    "none configured: the built-in demo provider will be used{users} (not for production; \
                     set TENANT_URL or ISSUER and CLIENT_ID for a real one)"
                ),
            );
            report.finish()
        }
        ProviderChoice::External(provider) => {
            check_store(&mut report, settings.redis.as_ref()).await;
            check_provider(&mut report, provider).await;
            report.finish()
        }
    }
}

/// With `REDIS_URL`: connects, and proves `STORE_KEY` can seal and open a value.
async fn check_store(report: &mut Report, redis: Option<&crate::settings::RedisSettings>) {
    let Some(redis) = redis else {
        report.ok(
            "session store",
            "in memory (one server; set REDIS_URL for replicas)",
        );
        return;
    };
    let host = redis.url.host_str().unwrap_or_default().to_owned();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let connected =
        crate::pairing::store::redis::RedisStore::connect(redis, shutdown.clone()).await;
    shutdown.cancel();
    match connected {
        Ok(_) => {
            let how = if redis.uses_tls() {
                "over TLS"
            } else {
                "in clear text"
            };
            report.ok("session store", format!("Redis at {host} answers ({how})"))
        }
        Err(error) => report.fail("session store", format!("REDIS_URL ({host}): {error}")),
    }
    let sealed = redis.key.seal(b"check", b"check").ok();
    match sealed.map(|s| redis.key.open(b"check", &s)) {
        Some(Ok(_)) => report.ok("STORE_KEY", "seals and opens (AES-256-GCM)"),
        _ => report.fail("STORE_KEY", "cannot seal with this key"),
    }
}

fn source_text(source: &ProviderSource) -> String {
    match source {
        ProviderSource::Issuer(url) => format!("issuer {}", url.as_str().trim_end_matches('/')),
        ProviderSource::Tenant(url) => format!(
            "IBM Security Verify tenant {}",
            url.as_str().trim_end_matches('/')
        ),
        ProviderSource::Manual => "no discovery: every endpoint from the settings".to_owned(),
    }
}

/// One endpoint line: where it is and where that came from; plain HTTP elsewhere (which only
/// ALLOW_HTTP_PROVIDER lets through) warns.
fn endpoint_line(report: &mut Report, check: &str, url: &Url, overridden_by: Option<&str>) {
    let from =
        overridden_by.map_or_else(|| "from discovery".to_owned(), |key| format!("from {key}"));
    // Plain HTTP is fine to this machine only.
    if url.scheme() == "http" && !crate::settings::is_this_machine(url) {
        report.warn(
            check,
            format!(
                "{url} ({from}) uses plain HTTP: tokens and codes cross the network unencrypted"
            ),
        );
    } else {
        report.ok(check, format!("{url} ({from})"));
    }
}

async fn check_provider(report: &mut Report, config: ProviderConfig) {
    let kind = if config.client_secret.is_some() {
        "confidential: CLIENT_SECRET set"
    } else {
        "public: no secret"
    };
    report.ok(
        "provider",
        format!(
            "{} (client {}, {kind}; scope {:?})",
            source_text(&config.source),
            config.client_id,
            config.scope
        ),
    );
    let wants_id_token = config.scope.split_whitespace().any(|s| s == "openid");

    let client = match ProviderClient::new(config.clone()) {
        Ok(client) => client,
        Err(error) => {
            report.fail("provider client", error);
            return;
        }
    };

    let key = match &config.source {
        ProviderSource::Tenant(_) => "TENANT_URL (plus /oauth2)",
        _ => "ISSUER",
    };
    let endpoints = match client.load_endpoints().await {
        Ok(endpoints) => endpoints,
        Err(ProviderError::IssuerMismatch { expected, found }) => {
            if let Some(url) = config.source.discovery_url() {
                report.ok("discovery", format!("loaded {url}"));
            }
            report.fail(
                "issuer",
                format!(
                    "discovery names {found}, {key} gives {expected:?}: they must be identical \
                     (OpenID Connect Discovery 4.3), so the provider is not used; check the setting"
                ),
            );
            return;
        }
        Err(error) => {
            // The error names the discovery URL, the refused URL or the missing setting.
            report.fail("discovery", error);
            return;
        }
    };
    match config.source.discovery_url() {
        Some(url) => report.ok("discovery", format!("loaded {url}")),
        None => report.ok("discovery", "not used: endpoints from the settings"),
    }
    if let Some(found) = endpoints.issuer.as_deref() {
        report.ok("issuer", format!("{found} (as {key} names it)"));
    }

    let grant_listed = check_grant(report, &endpoints);
    check_endpoints(report, &endpoints, &config, wants_id_token);
    check_auth_method(report, &endpoints, &config);

    // Ask the provider: does it accept this client for the device flow?
    if endpoints.device_authorization.is_some() && grant_listed != Some(false) {
        probe(report, &client).await;
    } else {
        report.fail(
            "client accepted",
            "not tried: the provider offers no device authorization for this client",
        );
    }
}

/// Whether the provider lists the device grant (`None`: it lists no grant types).
fn check_grant(report: &mut Report, endpoints: &Endpoints) -> Option<bool> {
    match &endpoints.grant_types_supported {
        Some(grants) if grants.iter().any(|g| g == DEVICE_CODE_GRANT) => {
            report.ok("device grant", "listed in grant_types_supported");
            Some(true)
        }
        Some(grants) => {
            report.fail(
                "device grant",
                format!(
                    "grant_types_supported ({}) does not list {DEVICE_CODE_GRANT}",
                    grants.join(", ")
                ),
            );
            Some(false)
        }
        None => {
            report.warn(
                "device grant",
                "the provider publishes no grant_types_supported; cannot confirm the device grant",
            );
            None
        }
    }
}

fn check_endpoints(
    report: &mut Report,
    endpoints: &Endpoints,
    config: &ProviderConfig,
    wants_id_token: bool,
) {
    let o = &config.overrides;
    let key = |set: bool, name: &'static str| set.then_some(name);
    match &endpoints.device_authorization {
        Some(url) => endpoint_line(
            report,
            "device authorization endpoint",
            url,
            key(
                o.device_authorization.is_some(),
                "DEVICE_AUTHORIZATION_ENDPOINT",
            ),
        ),
        None => report.fail(
            "device authorization endpoint",
            "not advertised; set DEVICE_AUTHORIZATION_ENDPOINT",
        ),
    }
    endpoint_line(
        report,
        "token endpoint",
        &endpoints.token,
        key(o.token.is_some(), "TOKEN_ENDPOINT"),
    );
    match &endpoints.userinfo {
        Some(url) => endpoint_line(report, "userinfo endpoint", url, key(o.userinfo.is_some(), "USERINFO_ENDPOINT")),
        None if wants_id_token => report.warn("userinfo endpoint", "not advertised; the profile shown comes from the ID token only (set USERINFO_ENDPOINT)"),
        None => report.fail("userinfo endpoint", "not advertised and the scope has no openid: nothing tells who signed in; set USERINFO_ENDPOINT"),
    }
    match &endpoints.jwks_uri {
        Some(url) => endpoint_line(
            report,
            "jwks_uri",
            url,
            key(o.jwks_uri.is_some(), "JWKS_URI"),
        ),
        None if wants_id_token => report.fail(
            "jwks_uri",
            "not advertised; ID tokens cannot be verified; set JWKS_URI",
        ),
        None => report.warn(
            "jwks_uri",
            "not advertised (not needed while the scope has no openid)",
        ),
    }
    match &endpoints.revocation {
        Some(url) => endpoint_line(report, "revocation endpoint", url, key(o.revocation.is_some(), "REVOCATION_ENDPOINT")),
        None => report.warn("revocation endpoint", "not advertised; sign-out drops the tokens without revoking them (set REVOCATION_ENDPOINT)"),
    }
}

fn check_auth_method(report: &mut Report, endpoints: &Endpoints, config: &ProviderConfig) {
    let method = endpoints.auth_method.as_str();
    let why = match (config.auth_method, &config.client_secret) {
        (Some(_), _) => "from CLIENT_AUTH_METHOD",
        (None, None) => "public client: client_id in the body",
        (None, Some(_)) => "the default for a client with a secret, as token_endpoint_auth_methods_supported allows",
    };
    if endpoints.auth_method == ClientAuthMethod::None && config.client_secret.is_some() {
        report.warn(
            "client authentication",
            format!("{method} ({why}): CLIENT_SECRET is set but never sent"),
        );
    } else {
        report.ok("client authentication", format!("{method} ({why})"));
    }
}

/// A device authorization request, then one poll with its code.
async fn probe(report: &mut Report, client: &ProviderClient) {
    let auth = match client.start_device_authorization().await {
        Ok(auth) => auth,
        Err(error) => {
            report.fail("device authorization request", explain(&error));
            return;
        }
    };
    report.ok(
        "device authorization request",
        format!("accepted: the provider issued a test code (never shown, expires unused); phones go to {}", auth.verification_uri),
    );
    let code: &DeviceCode = &auth.device_code;
    match client.poll_token(code).await {
        Err(ProviderError::OAuth(e))
            if matches!(
                e.code,
                ErrorCode::AuthorizationPending | ErrorCode::SlowDown
            ) =>
        {
            report.ok(
                "token endpoint poll",
                format!(
                    "answered {} for the test code: the client is accepted",
                    e.code
                ),
            );
        }
        Ok(_) => report.warn(
            "token endpoint poll",
            "issued tokens for a code nobody approved",
        ),
        Err(error) => report.fail("token endpoint poll", explain(&error)),
    }
}

/// The error, with a hint for the usual client mistakes.
fn explain(error: &ProviderError) -> String {
    let hint = match error.oauth().map(|e| &e.code) {
        Some(ErrorCode::InvalidClient) => {
            " (check CLIENT_ID, CLIENT_SECRET and CLIENT_AUTH_METHOD)"
        }
        Some(ErrorCode::UnauthorizedClient | ErrorCode::UnsupportedGrantType) => {
            " (enable the device grant for this client at the provider)"
        }
        Some(ErrorCode::InvalidScope) => " (check SCOPE)",
        _ => "",
    };
    format!("{error}{hint}")
}
