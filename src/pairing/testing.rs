//! Test support for the pairing core: a scripted provider that records every call (and can
//! hold one until the test lets it through), a wall clock that follows tokio's paused time,
//! a store whose heartbeat a test can script, and a rig that runs a whole hub on them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Map;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::store::memory::MemoryStore;
use super::store::{
    Clock, Heartbeat, OwnerEpoch, Saved, SessionRecord, SessionStore, StoreError, StoreEvent,
    Stored, Write,
};
use super::{Hub, Provider, SessionId};
use crate::model::TvStatus;
use crate::oidc::client::SignedInUser;
use crate::oidc::device::DeviceAuthorization;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::polling::TokioTimer;
use crate::oidc::secret::{AccessToken, DeviceCode, RefreshToken};
use crate::oidc::token::TokenSet;
use crate::oidc::userinfo::ClaimSelection;
use crate::oidc::ProviderError;
use crate::settings::KioskSettings;

pub const S: fn(u64) -> Duration = Duration::from_secs;

/// Where the virtual wall clock starts (any fixed time will do).
const EPOCH_MS: u64 = 1_700_000_000_000;

/// Wall-clock time that moves with tokio's clock: under `start_paused`, virtual.
pub struct VirtualClock {
    start: Instant,
}

impl VirtualClock {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl Clock for VirtualClock {
    fn now_ms(&self) -> u64 {
        EPOCH_MS + self.start.elapsed().as_millis() as u64
    }
}

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

pub fn alice() -> SignedInUser {
    SignedInUser {
        sub: "alice".into(),
        display_name: "Alice Liddell".into(),
        claims: vec![
            ("email".into(), "alice@example.com".into()),
            ("phone_number".into(), "+44 1865 000000".into()),
        ],
        raw: Map::new(),
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

/// A memory store whose heartbeat and lease a test decides, like a replica in a fleet.
pub struct FleetStore {
    pub memory: MemoryStore,
    pub lost: AtomicBool,
    pub lease_in_doubt: AtomicBool,
    pub adopt: Mutex<Vec<(SessionId, OwnerEpoch)>>,
}

impl FleetStore {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            memory: MemoryStore::with_clock(clock),
            lost: AtomicBool::new(false),
            lease_in_doubt: AtomicBool::new(false),
            adopt: Mutex::new(Vec::new()),
        }
    }
}

#[async_trait::async_trait]
impl SessionStore for FleetStore {
    async fn load(&self, id: &SessionId) -> Result<Option<Stored>, StoreError> {
        self.memory.load(id).await
    }
    async fn save(&self, id: &SessionId, write: Write<'_>) -> Result<Saved, StoreError> {
        self.memory.save(id, write).await
    }
    async fn rotate(
        &self,
        old: &SessionId,
        new: &SessionId,
        write: Write<'_>,
    ) -> Result<Saved, StoreError> {
        self.memory.rotate(old, new, write).await
    }
    async fn touch(&self, ids: &[SessionId]) -> Result<(), StoreError> {
        self.memory.touch(ids).await
    }
    async fn last_seen_ms(&self, id: &SessionId) -> Result<Option<u64>, StoreError> {
        self.memory.last_seen_ms(id).await
    }
    async fn heartbeat(&self) -> Result<Heartbeat, StoreError> {
        Ok(Heartbeat {
            adopted: std::mem::take(&mut *self.adopt.lock().unwrap()),
            lost: self.lost.load(Ordering::SeqCst),
        })
    }
    fn lease_valid(&self) -> bool {
        !self.lease_in_doubt.load(Ordering::SeqCst)
    }
    fn take_events(&self) -> Option<mpsc::UnboundedReceiver<StoreEvent>> {
        None
    }
    async fn release(&self) {}
}

/// The kiosk settings' defaults.
pub fn kiosk() -> KioskSettings {
    KioskSettings {
        idle_sign_out: S(600),
        sign_out_warning: S(60),
        expired_return_home: S(180),
        abandon_after: S(20),
        pairings_per_minute: 10,
        show_claims: ClaimSelection::default(),
        max_pairings: 1000,
    }
}

/// A hub on a scripted provider and a store, all in tokio's (paused) time.
pub struct Rig {
    pub hub: Hub,
    pub provider: Arc<Scripted>,
    pub store: Arc<dyn SessionStore>,
    pub clock: Arc<VirtualClock>,
    pub shutdown: CancellationToken,
}

impl Rig {
    pub fn new() -> Self {
        Self::with(kiosk())
    }

    pub fn with(kiosk: KioskSettings) -> Self {
        let clock = Arc::new(VirtualClock::new());
        let store = Arc::new(MemoryStore::with_clock(clock.clone()));
        Self::on(kiosk, clock, store)
    }

    pub fn on(
        kiosk: KioskSettings,
        clock: Arc<VirtualClock>,
        store: Arc<dyn SessionStore>,
    ) -> Self {
        let provider = Arc::new(Scripted::new());
        let shutdown = CancellationToken::new();
        let hub = Hub::with_clocks(
            provider.clone(),
            kiosk,
            store.clone(),
            shutdown.clone(),
            Arc::new(TokioTimer),
            clock.clone(),
        );
        Self {
            hub,
            provider,
            store,
            clock,
            shutdown,
        }
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Starts a pairing for a new TV; returns the id its session moved to.
    pub async fn start(&self) -> SessionId {
        let acted = self.hub.start(&SessionId::generate(), None).await.unwrap();
        assert_eq!(acted.status, TvStatus::Starting);
        acted.moved_to.expect("a start moves the session")
    }

    /// The stored record (without marking the TV as present, unlike `Hub::status`).
    pub async fn record(&self, id: &SessionId) -> Option<SessionRecord> {
        self.store.load(id).await.unwrap().map(|s| s.record)
    }

    /// The stored status (without marking the TV as present).
    pub async fn shown(&self, id: &SessionId) -> TvStatus {
        self.record(id).await.map_or(TvStatus::Idle, |r| r.status)
    }

    /// A series' value in the metrics, e.g. `tvsignin_pairings_finished_total{outcome="denied"}`.
    pub fn metric(&self, series: &str) -> f64 {
        let text = self.hub.metrics().render();
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Lets tokio's paused clock run for `duration` (every timer due meanwhile fires in order).
pub async fn wait(duration: Duration) {
    tokio::time::sleep(duration).await;
}
