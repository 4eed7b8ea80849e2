//! [`ProviderClient`]: the one object the server and the command line use to talk to the
//! provider. It loads discovery (retrying on failure), authenticates the client the way the
//! settings or discovery say, and turns every answer into a typed value or a [`ProviderError`].

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::JwkSet;
use serde_json::{Map, Value};

use super::config::{ClientAuthMethod, ProviderConfig};
use super::device::DeviceAuthorization;
use super::discovery::{Endpoints, ProviderMetadata};
use super::error::ProviderError;
use super::http::{self, ProviderResponse, Resend};
use super::id_token::{self, Expectations, IdClaims, VerifyError};
use super::polling::{self, PollResponse};
use super::secret::{AccessToken, DeviceCode, IdToken, Password, RefreshToken};
use super::token::TokenSet;
use super::userinfo::UserInfo;

const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Never refetch the JWKS more often than this, however many unknown `kid`s arrive.
const JWKS_REFETCH_GAP: Duration = Duration::from_secs(30);

/// Who signed in: the verified subject, their display name and all their claims.
#[derive(Clone, Debug, PartialEq)]
pub struct SignedInUser {
    pub sub: String,
    pub display_name: String,
    /// Flattened for display (`ext.tenantId`), sorted by name.
    pub claims: Vec<(String, String)>,
    /// The same claims as the provider sent them (nested objects kept).
    pub raw: Map<String, Value>,
}

/// What `/readyz` and the TV need to know about the provider.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderHealth {
    pub discovery_loaded: bool,
    pub last_error: Option<String>,
    /// The last discovery named another issuer than the settings: the provider's own words
    /// are in `last_error`, so a public report says only this.
    pub issuer_mismatch: bool,
}

impl ProviderHealth {
    /// Discovery is loaded and the last request did not fail at the network level.
    pub fn is_ready(&self) -> bool {
        self.discovery_loaded && self.last_error.is_none()
    }
}

/// A client of one OpenID provider.
pub struct ProviderClient {
    http: reqwest::Client,
    config: ProviderConfig,
    endpoints: RwLock<Option<Arc<Endpoints>>>,
    /// Set when a request failed at the network level: discovery is reloaded next time.
    stale: Mutex<bool>,
    health: RwLock<ProviderHealth>,
    jwks: RwLock<Option<Arc<JwkSet>>>,
    jwks_fetched_at: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for ProviderClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ProviderClient {
    pub fn new(config: ProviderConfig) -> Result<Self, ProviderError> {
        Ok(Self {
            http: http::build_client(&config)?,
            config,
            endpoints: RwLock::new(None),
            stale: Mutex::new(true),
            health: RwLock::new(ProviderHealth::default()),
            jwks: RwLock::new(None),
            jwks_fetched_at: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    pub fn health(&self) -> ProviderHealth {
        self.health.read().map(|h| h.clone()).unwrap_or_default()
    }

    fn set_health(&self, loaded: bool, error: Option<&ProviderError>) {
        if let Ok(mut h) = self.health.write() {
            h.discovery_loaded = loaded;
            h.last_error = error.map(ToString::to_string);
            h.issuer_mismatch = matches!(error, Some(ProviderError::IssuerMismatch { .. }));
        }
    }

    fn note_failure(&self, error: &ProviderError) {
        if matches!(
            error,
            ProviderError::Unreachable { .. } | ProviderError::Timeout { .. }
        ) {
            if let Ok(mut stale) = self.stale.lock() {
                *stale = true;
            }
            if let Ok(mut h) = self.health.write() {
                h.last_error = Some(error.to_string());
                h.issuer_mismatch = false;
            }
        }
    }

    fn limit(&self) -> usize {
        self.config.max_response_bytes
    }

    /// The endpoints in use. Loads discovery the first time and again after network trouble;
    /// when a reload fails, the last good endpoints stay in use.
    pub async fn endpoints(&self) -> Result<Arc<Endpoints>, ProviderError> {
        let cached = self.endpoints.read().ok().and_then(|e| e.clone());
        let stale = self.stale.lock().map(|s| *s).unwrap_or(true);
        match (cached, stale) {
            (Some(endpoints), false) => Ok(endpoints),
            (cached, _) => match self.load_endpoints().await {
                Ok(endpoints) => Ok(endpoints),
                Err(error) => match cached {
                    Some(endpoints) => Ok(endpoints),
                    None => Err(error),
                },
            },
        }
    }

    /// Fetches discovery now (or resolves the manual endpoints) and caches the result.
    pub async fn load_endpoints(&self) -> Result<Arc<Endpoints>, ProviderError> {
        let result = async {
            let metadata = match self.config.source.discovery_url() {
                None => None,
                Some(url) => {
                    let response = http::send(
                        self.http.get(&url),
                        &url,
                        self.limit(),
                        Resend::IfUnanswered,
                    )
                    .await?;
                    Some(ProviderMetadata::parse(&response)?)
                }
            };
            Endpoints::resolve(metadata.as_ref(), &self.config)
        }
        .await;
        match result {
            Ok(endpoints) => {
                let endpoints = Arc::new(endpoints);
                if let Ok(mut slot) = self.endpoints.write() {
                    *slot = Some(endpoints.clone());
                }
                if let Ok(mut stale) = self.stale.lock() {
                    *stale = false;
                }
                self.set_health(true, None);
                Ok(endpoints)
            }
            Err(error) => {
                let loaded = self.endpoints.read().map(|e| e.is_some()).unwrap_or(false);
                self.set_health(loaded, Some(&error));
                Err(error)
            }
        }
    }

    /// Adds client authentication to a token-endpoint-style request. With Basic the secret
    /// goes in the header only; with Post in the body only: never both.
    fn authenticate(
        &self,
        request: reqwest::RequestBuilder,
        form: &mut Vec<(String, String)>,
        method: ClientAuthMethod,
    ) -> reqwest::RequestBuilder {
        let secret = self.config.client_secret.as_ref();
        match (method, secret) {
            (ClientAuthMethod::ClientSecretBasic, Some(secret)) => {
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                request.basic_auth(enc(&self.config.client_id), Some(enc(secret.expose())))
            }
            (ClientAuthMethod::ClientSecretPost, Some(secret)) => {
                form.push(("client_id".into(), self.config.client_id.clone()));
                form.push(("client_secret".into(), secret.expose().to_owned()));
                request
            }
            _ => {
                form.push(("client_id".into(), self.config.client_id.clone()));
                request
            }
        }
    }

    async fn post_form(
        &self,
        url: &url::Url,
        name: &str,
        mut form: Vec<(String, String)>,
        method: ClientAuthMethod,
        resend: Resend,
    ) -> Result<ProviderResponse, ProviderError> {
        let request = self.authenticate(self.http.post(url.clone()), &mut form, method);
        let result = http::send(request.form(&form), name, self.limit(), resend).await;
        if let Err(error) = &result {
            self.note_failure(error);
        }
        result
    }

    /// A request to the token endpoint, authenticated as discovery or the settings say.
    async fn token_request(
        &self,
        endpoints: &Endpoints,
        form: Vec<(String, String)>,
    ) -> Result<ProviderResponse, ProviderError> {
        // Never sent twice: a poll or refresh the provider handled before the connection
        // died must not be repeated (see `Resend::Never`).
        self.post_form(
            &endpoints.token,
            "token_endpoint",
            form,
            endpoints.auth_method,
            Resend::Never,
        )
        .await
    }

    /// RFC 8628 §3.1: asks for a device code and user code.
    pub async fn start_device_authorization(&self) -> Result<DeviceAuthorization, ProviderError> {
        let endpoints = self.endpoints().await?;
        let url = endpoints.device_authorization()?.clone();
        let mut form: Vec<(String, String)> = vec![("scope".into(), self.config.scope.clone())];
        form.extend(self.config.extra_auth_params.iter().cloned());
        let response = self
            .post_form(
                &url,
                "device_authorization_endpoint",
                form,
                endpoints.auth_method,
                Resend::IfUnanswered,
            )
            .await?;
        DeviceAuthorization::parse(&response)
    }

    /// RFC 8628 §3.4: one poll of the token endpoint.
    pub async fn poll_token(&self, device_code: &DeviceCode) -> Result<TokenSet, ProviderError> {
        let endpoints = self.endpoints().await?;
        let form = vec![
            ("grant_type".into(), DEVICE_CODE_GRANT.to_owned()),
            ("device_code".into(), device_code.expose().to_owned()),
        ];
        let response = self.token_request(&endpoints, form).await?;
        TokenSet::parse(&response)
    }

    /// One poll, reduced to what the polling rules need (see [`polling::response_to`]).
    pub async fn poll_for_rules(&self, device_code: &DeviceCode) -> Result<TokenSet, PollResponse> {
        self.poll_token(device_code).await.map_err(|error| {
            let response = polling::response_to(&error);
            polling::log_poll_error(&error, &response);
            response
        })
    }

    /// RFC 6749 §6: a new token set from a refresh token.
    pub async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenSet, ProviderError> {
        let endpoints = self.endpoints().await?;
        let form = vec![
            ("grant_type".into(), "refresh_token".to_owned()),
            ("refresh_token".into(), refresh_token.expose().to_owned()),
        ];
        let response = self.token_request(&endpoints, form).await?;
        let mut tokens = TokenSet::parse(&response)?;
        // Providers that do not rotate refresh tokens leave it out: keep using the old one.
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.clone());
        }
        Ok(tokens)
    }

    /// RFC 6749 §4.3: the password grant (command line only; deprecated by RFC 9700).
    pub async fn password_grant(
        &self,
        username: &str,
        password: &Password,
    ) -> Result<TokenSet, ProviderError> {
        let endpoints = self.endpoints().await?;
        let form = vec![
            ("grant_type".into(), "password".to_owned()),
            ("username".into(), username.to_owned()),
            ("password".into(), password.expose().to_owned()),
            ("scope".into(), self.config.scope.clone()),
        ];
        let response = self.token_request(&endpoints, form).await?;
        TokenSet::parse(&response)
    }

    /// RFC 7009: revokes the refresh token (which ends the grant at most providers) and the
    /// access token. Without a revocation endpoint there is nothing to do.
    pub async fn revoke(&self, tokens: &TokenSet) -> Result<bool, ProviderError> {
        let endpoints = self.endpoints().await?;
        let Some(url) = endpoints.revocation.clone() else {
            return Ok(false);
        };
        let mut list: Vec<(&str, String)> = Vec::new();
        if let Some(rt) = &tokens.refresh_token {
            list.push(("refresh_token", rt.expose().to_owned()));
        }
        list.push(("access_token", tokens.access_token.expose().to_owned()));
        for (hint, token) in list {
            let form = vec![
                ("token".into(), token),
                ("token_type_hint".into(), hint.to_owned()),
            ];
            let response = self
                .post_form(
                    &url,
                    "revocation_endpoint",
                    form,
                    endpoints.auth_method,
                    Resend::IfUnanswered,
                )
                .await?;
            if let Some(error) = response.oauth_error() {
                // unsupported_token_type for one kind is not fatal: try the other.
                tracing::warn!(%error, hint, "revocation refused");
            } else if !(200..300).contains(&response.status) {
                return Err(ProviderError::Status {
                    endpoint: "revocation_endpoint".into(),
                    status: response.status,
                });
            }
        }
        Ok(true)
    }

    /// OpenID Connect userinfo with the access token.
    pub async fn userinfo(&self, access_token: &AccessToken) -> Result<UserInfo, ProviderError> {
        let endpoints = self.endpoints().await?;
        let url = endpoints.userinfo.clone().ok_or_else(|| {
            ProviderError::Unsupported(
                "the provider has no userinfo_endpoint; set USERINFO_ENDPOINT".into(),
            )
        })?;
        let request = self.http.get(url).bearer_auth(access_token.expose());
        let response = http::send(
            request,
            "userinfo_endpoint",
            self.limit(),
            Resend::IfUnanswered,
        )
        .await;
        if let Err(error) = &response {
            self.note_failure(error);
        }
        UserInfo::parse(&response?)
    }

    async fn fetch_jwks(&self, endpoints: &Endpoints) -> Result<Arc<JwkSet>, ProviderError> {
        let url = endpoints.jwks_uri.clone().ok_or_else(|| {
            ProviderError::Unsupported("the provider has no jwks_uri; set JWKS_URI".into())
        })?;
        let response = http::send(
            self.http.get(url),
            "jwks_uri",
            self.limit(),
            Resend::IfUnanswered,
        )
        .await?;
        let object = response.success_object()?;
        let set: JwkSet = serde_json::from_value(Value::Object(object))
            .map_err(|e| response.malformed(format!("not a JWK set: {e}")))?;
        let set = Arc::new(set);
        if let Ok(mut slot) = self.jwks.write() {
            *slot = Some(set.clone());
        }
        if let Ok(mut at) = self.jwks_fetched_at.lock() {
            *at = Some(Instant::now());
        }
        Ok(set)
    }

    /// Verifies an ID token; an unknown `kid` refetches the JWKS once (keys rotate).
    pub async fn verify_id_token(&self, token: &IdToken) -> Result<IdClaims, ProviderError> {
        let endpoints = self.endpoints().await?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        // Discovery's issuer, else the one the settings name: the ID token's `iss` is always
        // checked when there is anything to check it against.
        let issuer = endpoints
            .issuer
            .clone()
            .or_else(|| self.config.source.issuer());
        let expect = Expectations {
            issuer: issuer.as_deref(),
            client_id: &self.config.client_id,
            allowed_algs: &endpoints.id_token_algs,
            skew: self.config.clock_skew,
            now,
        };
        let cached = self.jwks.read().ok().and_then(|j| j.clone());
        let keys = match cached {
            Some(keys) => keys,
            None => self.fetch_jwks(&endpoints).await?,
        };
        match id_token::verify(token, &keys, &expect) {
            Ok(claims) => Ok(claims),
            Err(VerifyError::UnknownKey(kid)) => {
                let recent = self
                    .jwks_fetched_at
                    .lock()
                    .ok()
                    .and_then(|at| *at)
                    .is_some_and(|at| at.elapsed() < JWKS_REFETCH_GAP);
                if recent && self.jwks.read().map(|j| j.is_some()).unwrap_or(false) {
                    // Fetched moments ago: the key really is unknown.
                    return Err(ProviderError::InvalidIdToken(format!(
                        "unknown signing key {kid:?}"
                    )));
                }
                let keys = self.fetch_jwks(&endpoints).await?;
                id_token::verify(token, &keys, &expect).map_err(|e| match e {
                    VerifyError::UnknownKey(kid) => {
                        ProviderError::InvalidIdToken(format!("unknown signing key {kid:?}"))
                    }
                    VerifyError::Invalid(m) => ProviderError::InvalidIdToken(m),
                })
            }
            Err(VerifyError::Invalid(m)) => Err(ProviderError::InvalidIdToken(m)),
        }
    }

    /// Turns fresh tokens into a person: verifies the ID token (if any), fetches userinfo (if
    /// the provider has it) and checks both name the same subject.
    pub async fn complete_sign_in(&self, tokens: &TokenSet) -> Result<SignedInUser, ProviderError> {
        let id_claims = match &tokens.id_token {
            Some(token) => Some(self.verify_id_token(token).await?),
            None => None,
        };
        let endpoints = self.endpoints().await?;
        let info = if endpoints.userinfo.is_some() {
            let info = self.userinfo(&tokens.access_token).await?;
            if let Some(id) = &id_claims {
                if id.sub != info.sub() {
                    return Err(ProviderError::InvalidIdToken(
                        "userinfo sub differs from the ID token's".into(),
                    ));
                }
            }
            info
        } else if let Some(id) = &id_claims {
            UserInfo {
                claims: id.claims.clone(),
            }
        } else {
            return Err(ProviderError::Unsupported(
                "no ID token and no userinfo endpoint: cannot tell who signed in".into(),
            ));
        };
        Ok(SignedInUser {
            sub: info.sub().to_owned(),
            display_name: info.display_name(),
            claims: info.flattened(),
            raw: info.claims,
        })
    }
}
