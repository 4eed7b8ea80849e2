//! A provider that answers from scripts and records when and what it was asked; a call can
//! be held until the test lets it through.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Map;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::S;
use crate::oidc::client::SignedInUser;
use crate::oidc::device::DeviceAuthorization;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::secret::{AccessToken, DeviceCode, RefreshToken};
use crate::oidc::token::TokenSet;
use crate::oidc::ProviderError;
use crate::pairing::Provider;

/// One request the core made, with what identifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    Authorize,
    Poll(String),
    CompleteSignIn(String),
    Refresh(String),
    /// The access token revoked.
    Revoke(String),
}

impl Call {
    fn method(&self) -> Method {
        match self {
            Call::Authorize => Method::Authorize,
            Call::Poll(_) => Method::Poll,
            Call::CompleteSignIn(_) => Method::CompleteSignIn,
            Call::Refresh(_) => Method::Refresh,
            Call::Revoke(_) => Method::Revoke,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Authorize,
    Poll,
    CompleteSignIn,
    Refresh,
    Revoke,
}

/// A provider that answers from scripts, and records when and what it was asked. Unscripted
/// calls get the happy answer: a fresh code, `authorization_pending`, Alice, rotated tokens.
#[derive(Default)]
pub struct Scripted {
    calls: Mutex<Vec<(Duration, Call)>>,
    authorizations: Mutex<VecDeque<Result<DeviceAuthorization, ProviderError>>>,
    polls: Mutex<VecDeque<Result<TokenSet, ProviderError>>>,
    sign_ins: Mutex<VecDeque<Result<SignedInUser, ProviderError>>>,
    refreshes: Mutex<VecDeque<Result<TokenSet, ProviderError>>>,
    held: Mutex<Vec<(Method, Arc<Semaphore>)>>,
    start: Mutex<Option<Instant>>,
}

fn take<T>(queue: &Mutex<VecDeque<T>>) -> Option<T> {
    queue.lock().unwrap().pop_front()
}

impl Scripted {
    pub fn new() -> Self {
        let scripted = Self::default();
        *scripted.start.lock().unwrap() = Some(Instant::now());
        scripted
    }

    pub fn authorize(&self, answer: Result<DeviceAuthorization, ProviderError>) {
        self.authorizations.lock().unwrap().push_back(answer);
    }

    pub fn poll(&self, answer: Result<TokenSet, ProviderError>) {
        self.polls.lock().unwrap().push_back(answer);
    }

    pub fn sign_in(&self, answer: Result<SignedInUser, ProviderError>) {
        self.sign_ins.lock().unwrap().push_back(answer);
    }

    pub fn refresh(&self, answer: Result<TokenSet, ProviderError>) {
        self.refreshes.lock().unwrap().push_back(answer);
    }

    /// Holds every call of `method` until the test adds a permit to the semaphore.
    pub fn hold(&self, method: Method) -> Arc<Semaphore> {
        let gate = Arc::new(Semaphore::new(0));
        self.held.lock().unwrap().push((method, gate.clone()));
        gate
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// When (since the provider was made) each call of `method` came.
    pub fn times(&self, method: Method) -> Vec<Duration> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|(_, c)| c.method() == method)
            .map(|(at, _)| *at)
            .collect()
    }

    /// Each poll: when it came, and the device code it carried.
    pub fn polls(&self) -> Vec<(Duration, String)> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter_map(|(at, call)| match call {
                Call::Poll(code) => Some((*at, code.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn count(&self, method: Method) -> usize {
        self.times(method).len()
    }

    async fn enter(&self, call: Call) {
        let method = call.method();
        let since = self
            .start
            .lock()
            .unwrap()
            .map_or(Duration::ZERO, |s| s.elapsed());
        self.calls.lock().unwrap().push((since, call));
        let gate = self
            .held
            .lock()
            .unwrap()
            .iter()
            .find(|(m, _)| *m == method)
            .cloned();
        if let Some((_, gate)) = gate {
            gate.acquire().await.expect("gate closed").forget();
        }
    }
}

/// A code as a provider issues it.
pub fn code(n: u32, expires_in: Duration, interval: Duration) -> DeviceAuthorization {
    DeviceAuthorization {
        device_code: DeviceCode::new(format!("device-{n}")),
        user_code: format!("CODE-{n:04}"),
        verification_uri: "https://idp.example/device".into(),
        verification_uri_complete: None,
        expires_in,
        interval,
        extra: Map::new(),
    }
}

/// Tokens numbered `n`, valid for 300 s, with a refresh token.
pub fn tokens(n: u32) -> TokenSet {
    TokenSet {
        access_token: AccessToken::new(format!("access-{n}")),
        refresh_token: Some(RefreshToken::new(format!("refresh-{n}"))),
        id_token: None,
        expires_in: Some(S(300)),
        scope: None,
    }
}

pub fn oauth(code: &str) -> ProviderError {
    ProviderError::OAuth(OAuthError {
        code: ErrorCode::parse(code),
        description: None,
    })
}

pub fn unreachable() -> ProviderError {
    ProviderError::Unreachable {
        endpoint: "token_endpoint".into(),
        detail: "connection refused".into(),
    }
}

fn alice() -> SignedInUser {
    let claims: Vec<(String, String)> = vec![
        ("email".into(), "alice@example.com".into()),
        ("phone_number".into(), "+44 1865 000000".into()),
    ];
    let mut raw: Map<String, serde_json::Value> = claims
        .iter()
        .map(|(name, value)| (name.clone(), value.clone().into()))
        .collect();
    raw.insert("sub".into(), "alice".into());
    SignedInUser {
        sub: "alice".into(),
        display_name: "Alice Liddell".into(),
        claims,
        raw,
    }
}

#[async_trait::async_trait]
impl Provider for Scripted {
    async fn start_device_authorization(&self) -> Result<DeviceAuthorization, ProviderError> {
        self.enter(Call::Authorize).await;
        take(&self.authorizations).unwrap_or_else(|| {
            let n = self.count(Method::Authorize) as u32;
            Ok(code(n, S(600), S(5)))
        })
    }

    async fn poll(&self, device_code: &DeviceCode) -> Result<TokenSet, ProviderError> {
        self.enter(Call::Poll(device_code.expose().to_owned()))
            .await;
        take(&self.polls).unwrap_or_else(|| Err(oauth("authorization_pending")))
    }

    async fn complete_sign_in(&self, tokens: &TokenSet) -> Result<SignedInUser, ProviderError> {
        let access = tokens.access_token.expose().to_owned();
        self.enter(Call::CompleteSignIn(access)).await;
        take(&self.sign_ins).unwrap_or_else(|| Ok(alice()))
    }

    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenSet, ProviderError> {
        let sent = refresh_token.expose().to_owned();
        self.enter(Call::Refresh(sent.clone())).await;
        take(&self.refreshes).unwrap_or_else(|| {
            let n: u32 = sent.trim_start_matches("refresh-").parse().unwrap_or(0);
            Ok(tokens(n + 1))
        })
    }

    async fn revoke(&self, tokens: &TokenSet) -> Result<bool, ProviderError> {
        let access = tokens.access_token.expose().to_owned();
        self.enter(Call::Revoke(access)).await;
        Ok(true)
    }

    fn client_id(&self) -> &str {
        "tv"
    }

    fn request_timeout(&self) -> Duration {
        S(10)
    }
}
