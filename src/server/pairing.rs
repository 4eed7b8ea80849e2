//! The pairing sessions behind the TVs. Each TV browser (one session cookie) has one
//! [`TvSession`]: its status (pushed to every open stream), and the secrets that never leave
//! the server (the device code lives only inside the polling task; tokens live here).
//!
//! One task per active session does the work: start a device authorization, poll by the
//! rules in `oidc::polling`, fetch the profile, then wait out the idle sign-out. A waiting TV
//! therefore costs one task asleep on a timer, not a thread.
//!
//! New codes are rate-limited twice, both at `PAIRING_RATE_LIMIT` per minute: per TV session
//! (a sliding window here) and per client address ([`AddressLimiter`], a keyed `governor`
//! limiter in `limits`), so a client cannot dodge the first by dropping its cookie.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use metrics::Gauge;
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::limits::AddressLimiter;
use super::metrics::{Metrics, PairingEnd, ThrottledBy};
use super::qr::qr_svg;
use super::session::SessionId;
use super::settings::KioskSettings;
use crate::model::{Claim, PairingView, Profile, TvStatus};
use crate::oidc::device::DeviceAuthorization;
use crate::oidc::polling::{run_polling, PollOutcome, PollProgress, PollState, Timer, TokioTimer};
use crate::oidc::token::TokenSet;
use crate::oidc::ProviderClient;

/// How long an idle session with nobody watching is kept in memory.
const FORGET_IDLE_AFTER: Duration = Duration::from_secs(15 * 60);
/// Retry delays when the provider cannot start a pairing.
const START_RETRY_MIN: Duration = Duration::from_secs(2);
const START_RETRY_MAX: Duration = Duration::from_secs(30);

fn unix_ms(at: Instant) -> u64 {
    let now_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let now = Instant::now();
    let unix = if at >= now {
        now_unix + (at - now)
    } else {
        now_unix.saturating_sub(now - at)
    };
    unix.as_millis() as u64
}

/// All TV sessions of this server.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    provider: Arc<ProviderClient>,
    kiosk: KioskSettings,
    sessions: Mutex<HashMap<SessionId, Arc<TvSession>>>,
    shutdown: CancellationToken,
    timer: Arc<dyn Timer>,
    metrics: Metrics,
    addresses: AddressLimiter,
}

/// One TV browser.
pub struct TvSession {
    status: watch::Sender<TvStatus>,
    state: Mutex<SessionState>,
    viewers: AtomicUsize,
    /// Woken when the person uses the TV while signed in (moves the idle sign-out).
    activity: Notify,
}

struct SessionState {
    /// Bumped by every start, renew, cancel and sign-out; a task only writes while its
    /// generation is current, so a stale task can never overwrite a newer state.
    generation: u64,
    task: Option<CancellationToken>,
    tokens: Option<TokenSet>,
    last_seen: Instant,
    sign_out_at: Option<Instant>,
    recent_starts: VecDeque<Instant>,
}

/// Held while a push stream is open; the TV counts as present while any is.
pub struct ViewerGuard {
    session: Arc<TvSession>,
    /// `tvsignin_push_connections`, counted up when the guard is made and down when dropped.
    connections: Gauge,
}

impl Drop for ViewerGuard {
    fn drop(&mut self) {
        self.connections.decrement(1.0);
        self.session.viewers.fetch_sub(1, Ordering::SeqCst);
        self.session.touch();
    }
}

impl TvSession {
    fn new() -> Self {
        Self {
            status: watch::channel(TvStatus::Idle).0,
            state: Mutex::new(SessionState {
                generation: 0,
                task: None,
                tokens: None,
                last_seen: Instant::now(),
                sign_out_at: None,
                recent_starts: VecDeque::new(),
            }),
            viewers: AtomicUsize::new(0),
            activity: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SessionState> {
        // A panic while holding this lock cannot leave the state half-written in a way that
        // matters more than losing the TV's session, so recover the guard.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn touch(&self) {
        self.lock().last_seen = Instant::now();
    }

    pub fn status(&self) -> TvStatus {
        self.status.borrow().clone()
    }

    /// Looks at the status without copying it (a pairing carries its QR code).
    fn status_is(&self, check: impl FnOnce(&TvStatus) -> bool) -> bool {
        check(&self.status.borrow())
    }

    /// Switches the pairing on screen between waiting and unreachable, in place, if
    /// `generation` is still current; pushes only when that changes the state.
    fn set_trouble(&self, generation: u64, trouble: bool) {
        // Held while the status changes, so a newer generation cannot slip in between.
        let state = self.lock();
        if state.generation != generation {
            return;
        }
        self.status.send_if_modified(|status| {
            let next = match (trouble, std::mem::replace(status, TvStatus::Idle)) {
                (true, TvStatus::Waiting { pairing }) => TvStatus::Unreachable {
                    pairing: Some(pairing),
                },
                (
                    false,
                    TvStatus::Unreachable {
                        pairing: Some(pairing),
                    },
                ) => TvStatus::Waiting { pairing },
                (_, unchanged) => {
                    *status = unchanged;
                    return false;
                }
            };
            *status = next;
            true
        });
    }

    /// Sets the status if `generation` is still current.
    fn set_if_current(&self, generation: u64, status: TvStatus) -> bool {
        let state = self.lock();
        if state.generation != generation {
            return false;
        }
        self.status.send_replace(status);
        true
    }

    fn is_abandoned(&self, after: Duration) -> bool {
        self.viewers.load(Ordering::SeqCst) == 0 && self.lock().last_seen.elapsed() > after
    }
}

/// Whether a pairing is under way (a code is being fetched or shown).
fn in_progress(status: &TvStatus) -> bool {
    matches!(
        status,
        TvStatus::Starting | TvStatus::Waiting { .. } | TvStatus::Unreachable { .. }
    )
}

/// Why a pairing could not start now.
#[derive(Debug, PartialEq, Eq)]
pub enum StartRefused {
    TooMany { retry_after: Duration },
}

impl Hub {
    pub fn new(
        provider: Arc<ProviderClient>,
        kiosk: KioskSettings,
        shutdown: CancellationToken,
    ) -> Self {
        Self::with_timer(provider, kiosk, shutdown, Arc::new(TokioTimer))
    }

    pub fn with_timer(
        provider: Arc<ProviderClient>,
        kiosk: KioskSettings,
        shutdown: CancellationToken,
        timer: Arc<dyn Timer>,
    ) -> Self {
        let metrics = Metrics::new();
        // One provider client per hub in practice; were it shared, the first hub counts polls.
        provider.set_poll_observer(Arc::new(metrics.clone()));
        let addresses = AddressLimiter::new(kiosk.pairings_per_minute);
        let hub = Self {
            inner: Arc::new(HubInner {
                provider,
                kiosk,
                sessions: Mutex::new(HashMap::new()),
                shutdown,
                timer,
                metrics,
                addresses,
            }),
        };
        hub.spawn_sweeper();
        hub
    }

    /// This server's metrics (`GET /metrics`).
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Arc<TvSession>>> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The session for `id`, created on first use.
    pub fn session(&self, id: &SessionId) -> Arc<TvSession> {
        let session = self
            .sessions()
            .entry(id.clone())
            .or_insert_with(|| Arc::new(TvSession::new()))
            .clone();
        session.touch();
        session
    }

    /// The current status, without creating a session.
    pub fn status(&self, id: &SessionId) -> TvStatus {
        let session = self.sessions().get(id).cloned();
        match session {
            Some(s) => {
                s.touch();
                s.status()
            }
            None => TvStatus::Idle,
        }
    }

    /// Number of sessions held in memory.
    pub fn len(&self) -> usize {
        self.sessions().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Subscribes to a session's status; the TV counts as present while the guard lives.
    pub fn subscribe(&self, id: &SessionId) -> (watch::Receiver<TvStatus>, ViewerGuard) {
        let session = self.session(id);
        session.viewers.fetch_add(1, Ordering::SeqCst);
        let connections = self.inner.metrics.push_connections();
        connections.increment(1.0);
        (
            session.status.subscribe(),
            ViewerGuard {
                session,
                connections,
            },
        )
    }

    /// Starts a pairing, unless one is already under way (a reload must not make a new code).
    /// `client` is the caller's address for the per-address limit (see [`super::limits::client_address`]).
    pub fn start(&self, id: &SessionId, client: Option<IpAddr>) -> Result<TvStatus, StartRefused> {
        let session = self.session(id);
        match session.status() {
            status @ (TvStatus::Waiting { .. }
            | TvStatus::Starting
            | TvStatus::Unreachable { .. }
            | TvStatus::SignedIn { .. }) => Ok(status),
            _ => self.begin(&session, client),
        }
    }

    /// Drops the current code (if any) and starts a fresh one.
    pub fn renew(&self, id: &SessionId, client: Option<IpAddr>) -> Result<TvStatus, StartRefused> {
        let session = self.session(id);
        if session.status_is(|s| matches!(s, TvStatus::SignedIn { .. })) {
            return Ok(session.status());
        }
        self.begin(&session, client)
    }

    fn begin(
        &self,
        session: &Arc<TvSession>,
        client: Option<IpAddr>,
    ) -> Result<TvStatus, StartRefused> {
        let result = self.try_begin(session, client);
        if let Err(StartRefused::TooMany { retry_after }) = &result {
            self.show_throttled(session, *retry_after);
        }
        result
    }

    /// Tells the TV to wait (the push stream carries it), then returns it to Home.
    fn show_throttled(&self, session: &Arc<TvSession>, retry_after: Duration) {
        let (generation, cancel) = {
            let mut state = session.lock();
            if let Some(task) = state.task.take() {
                task.cancel();
            }
            state.generation += 1;
            let cancel = self.inner.shutdown.child_token();
            state.task = Some(cancel.clone());
            session.status.send_replace(TvStatus::Throttled {
                retry_after_secs: retry_after.as_secs().max(1),
            });
            (state.generation, cancel)
        };
        let hub = self.clone();
        let session = session.clone();
        tokio::spawn(async move {
            if hub.nap(&cancel, retry_after).await {
                session.set_if_current(generation, TvStatus::Idle);
            }
        });
    }

    fn try_begin(
        &self,
        session: &Arc<TvSession>,
        client: Option<IpAddr>,
    ) -> Result<TvStatus, StartRefused> {
        let (generation, cancel) = {
            let mut state = session.lock();
            let now = Instant::now();
            while state
                .recent_starts
                .front()
                .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60))
            {
                state.recent_starts.pop_front();
            }
            if state.recent_starts.len() >= self.inner.kiosk.pairings_per_minute as usize {
                let oldest = state.recent_starts.front().copied().unwrap_or(now);
                let retry_after = Duration::from_secs(60)
                    .saturating_sub(now.duration_since(oldest))
                    + Duration::from_secs(1);
                self.inner.metrics.pairing_throttled(ThrottledBy::Session);
                return Err(StartRefused::TooMany { retry_after });
            }
            if let Some(address) = client {
                if let Err(wait) = self.inner.addresses.check(address) {
                    tracing::info!(%address, "too many new codes from one address");
                    self.inner.metrics.pairing_throttled(ThrottledBy::Address);
                    // Whole seconds, rounded up: the TV must not ask again too early.
                    let retry_after =
                        Duration::from_secs(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
                    return Err(StartRefused::TooMany { retry_after });
                }
            }
            state.recent_starts.push_back(now);
            if session.status_is(in_progress) {
                self.inner.metrics.pairing_finished(PairingEnd::Replaced);
            }
            self.inner.metrics.pairing_started();
            if let Some(task) = state.task.take() {
                task.cancel();
            }
            state.generation += 1;
            let cancel = self.inner.shutdown.child_token();
            state.task = Some(cancel.clone());
            session.status.send_replace(TvStatus::Starting);
            (state.generation, cancel)
        };
        let hub = self.clone();
        let task_session = session.clone();
        // The task's logs carry the span (request id, path) of the request that started it.
        tokio::spawn(
            async move { hub.pairing_task(task_session, generation, cancel).await }
                .in_current_span(),
        );
        Ok(TvStatus::Starting)
    }

    /// Stops the pairing and returns to Home.
    pub fn cancel(&self, id: &SessionId) -> TvStatus {
        let session = self.session(id);
        let status = session.status();
        if matches!(status, TvStatus::SignedIn { .. }) {
            return status;
        }
        if in_progress(&status) {
            self.inner.metrics.pairing_finished(PairingEnd::Cancelled);
        }
        Self::reset(&session);
        TvStatus::Idle
    }

    fn reset(session: &TvSession) -> Option<TokenSet> {
        let mut state = session.lock();
        state.generation += 1;
        if let Some(task) = state.task.take() {
            task.cancel();
        }
        state.sign_out_at = None;
        session.status.send_replace(TvStatus::Idle);
        state.tokens.take()
    }

    /// Signs out: forgets and revokes the tokens, returns to Home.
    pub async fn sign_out(&self, id: &SessionId) -> TvStatus {
        let session = self.session(id);
        if let Some(tokens) = Self::reset(&session) {
            self.revoke(tokens).await;
        }
        TvStatus::Idle
    }

    async fn revoke(&self, tokens: TokenSet) {
        match self.inner.provider.revoke(&tokens).await {
            Ok(true) => tracing::info!("tokens revoked"),
            Ok(false) => tracing::info!("the provider has no revocation endpoint; tokens dropped"),
            Err(error) => {
                tracing::warn!(%error, "revocation failed; tokens dropped anyway");
                self.inner.metrics.provider_error("revocation", &error);
            }
        }
    }

    /// The person used the TV: pushes the idle sign-out back.
    pub fn activity(&self, id: &SessionId) -> TvStatus {
        let session = self.session(id);
        let status = {
            let mut state = session.lock();
            match session.status() {
                TvStatus::SignedIn {
                    profile, warn_secs, ..
                } => {
                    let at = Instant::now() + self.inner.kiosk.idle_sign_out;
                    state.sign_out_at = Some(at);
                    let status = TvStatus::SignedIn {
                        profile,
                        sign_out_at_ms: unix_ms(at),
                        warn_secs,
                    };
                    session.status.send_replace(status.clone());
                    status
                }
                other => other,
            }
        };
        session.activity.notify_one();
        status
    }

    fn pairing_view(auth: &DeviceAuthorization, expires_at: Instant) -> PairingView {
        let qr_target = auth
            .verification_uri_complete
            .as_deref()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .unwrap_or(&auth.verification_uri);
        PairingView {
            user_code: auth.user_code.clone(),
            verification_uri: auth.verification_uri.clone(),
            verification_uri_complete: auth.verification_uri_complete.clone(),
            qr_svg: qr_svg(qr_target).unwrap_or_default(),
            expires_at_ms: unix_ms(expires_at),
            interval_secs: auth.interval.as_secs(),
        }
    }

    /// Sleeps unless cancelled; returns false when cancelled.
    async fn nap(&self, cancel: &CancellationToken, duration: Duration) -> bool {
        tokio::select! {
            _ = cancel.cancelled() => false,
            _ = self.inner.timer.sleep(duration) => true,
        }
    }

    async fn pairing_task(
        self,
        session: Arc<TvSession>,
        generation: u64,
        cancel: CancellationToken,
    ) {
        let provider = self.inner.provider.clone();
        let abandon_after = self.inner.kiosk.abandon_after;

        // 1. Device authorization, retried while the provider cannot be reached.
        let mut retry = START_RETRY_MIN;
        let auth = loop {
            match provider.start_device_authorization().await {
                Ok(auth) => break auth,
                Err(error) => {
                    tracing::warn!(%error, kind = error.kind(), "cannot start a device authorization; retrying in {retry:?}");
                    self.inner
                        .metrics
                        .provider_error("device_authorization", &error);
                    session.set_if_current(generation, TvStatus::Unreachable { pairing: None });
                    if !self.nap(&cancel, retry).await || session.is_abandoned(abandon_after) {
                        self.abandon(&session, generation);
                        return;
                    }
                    retry = (retry * 2).min(START_RETRY_MAX);
                }
            }
        };
        let issued_at = self.inner.timer.now();
        let expires_at = Instant::now() + auth.expires_in;
        let pairing = Self::pairing_view(&auth, expires_at);
        if !session.set_if_current(generation, TvStatus::Waiting { pairing }) {
            return;
        }
        tracing::info!(user_code = %auth.user_code, expires_in = ?auth.expires_in, interval = ?auth.interval, "pairing started");

        // 2. Poll by the RFC 8628 rules until approved, denied, expired, or nobody watches.
        let state = PollState::new(auth.interval, issued_at, auth.expires_in);
        let device_code = auth.device_code;
        let outcome = run_polling(
            state,
            self.inner.timer.as_ref(),
            &cancel,
            || {
                let abandoned = session.is_abandoned(abandon_after);
                if abandoned {
                    cancel.cancel();
                }
                let provider = provider.clone();
                let device_code = device_code.clone();
                async move {
                    if abandoned {
                        return Err(crate::oidc::polling::PollResponse::Trouble);
                    }
                    provider.poll_for_rules(&device_code).await
                }
            },
            |progress| {
                let trouble = matches!(progress, PollProgress::Trouble { .. });
                session.set_trouble(generation, trouble);
            },
        )
        .await;
        drop(device_code);

        // 3. The outcome.
        match outcome {
            PollOutcome::Approved(tokens) => {
                self.signed_in(session, generation, cancel, tokens).await
            }
            PollOutcome::Denied => {
                tracing::info!("pairing declined on the phone");
                self.finish(
                    session,
                    generation,
                    cancel,
                    TvStatus::Denied,
                    PairingEnd::Denied,
                )
                .await;
            }
            PollOutcome::Expired => {
                tracing::info!("pairing expired");
                self.finish(
                    session,
                    generation,
                    cancel,
                    TvStatus::Expired,
                    PairingEnd::Expired,
                )
                .await;
            }
            PollOutcome::Rejected(code) => {
                tracing::warn!(error = %code, "the provider ended the pairing");
                self.finish(
                    session,
                    generation,
                    cancel,
                    TvStatus::Expired,
                    PairingEnd::Rejected,
                )
                .await;
            }
            PollOutcome::Cancelled => {
                if session.is_abandoned(abandon_after) {
                    self.abandon(&session, generation);
                }
            }
        }
    }

    fn abandon(&self, session: &TvSession, generation: u64) {
        if session.set_if_current(generation, TvStatus::Idle) {
            tracing::info!("no TV is watching; pairing stopped");
            self.inner.metrics.pairing_finished(PairingEnd::Abandoned);
        }
    }

    /// Shows a final state, then returns to Home after a while.
    async fn finish(
        &self,
        session: Arc<TvSession>,
        generation: u64,
        cancel: CancellationToken,
        status: TvStatus,
        end: PairingEnd,
    ) {
        if !session.set_if_current(generation, status) {
            return;
        }
        self.inner.metrics.pairing_finished(end);
        if self
            .nap(&cancel, self.inner.kiosk.expired_return_home)
            .await
        {
            session.set_if_current(generation, TvStatus::Idle);
        }
    }

    async fn signed_in(
        &self,
        session: Arc<TvSession>,
        generation: u64,
        cancel: CancellationToken,
        tokens: TokenSet,
    ) {
        let provider = self.inner.provider.clone();
        let user = match provider.complete_sign_in(&tokens).await {
            Ok(user) => user,
            Err(error) => {
                tracing::warn!(%error, kind = error.kind(), "sign-in could not be completed");
                self.inner.metrics.provider_error("sign_in", &error);
                self.revoke(tokens).await;
                self.finish(
                    session,
                    generation,
                    cancel,
                    TvStatus::Expired,
                    PairingEnd::Failed,
                )
                .await;
                return;
            }
        };
        tracing::info!(sub = %user.sub, "signed in");
        let profile = Profile {
            display_name: user.display_name,
            claims: user
                .claims
                .into_iter()
                .map(|(name, value)| Claim { name, value })
                .collect(),
        };
        let warn_secs = self.inner.kiosk.sign_out_warning.as_secs();
        let mut tokens = tokens;
        let mut obtained = Instant::now();
        let stored = {
            let mut state = session.lock();
            let current = state.generation == generation;
            if current {
                let at = Instant::now() + self.inner.kiosk.idle_sign_out;
                state.sign_out_at = Some(at);
                state.tokens = Some(tokens.clone());
                session.status.send_replace(TvStatus::SignedIn {
                    profile,
                    sign_out_at_ms: unix_ms(at),
                    warn_secs,
                });
            }
            current
        };
        if !stored {
            // Cancelled or signed out while the profile was being fetched.
            self.revoke(tokens).await;
            return;
        }
        self.inner.metrics.pairing_finished(PairingEnd::SignedIn);
        self.inner.metrics.signed_in(&provider.config().client_id);

        // Wait for the idle sign-out, refreshing the access token before it expires.
        loop {
            let (sign_out_at, current) = {
                let state = session.lock();
                (state.sign_out_at, state.generation == generation)
            };
            let Some(sign_out_at) = sign_out_at.filter(|_| current) else {
                return;
            };
            let refresh_at = tokens
                .expires_in
                .filter(|_| tokens.refresh_token.is_some())
                .map(|life| obtained + life.saturating_sub(Duration::from_secs(60)).max(life / 2));
            let wake = refresh_at.map_or(sign_out_at, |r| r.min(sign_out_at));
            let wait = wake.saturating_duration_since(Instant::now());
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = session.activity.notified() => continue,
                _ = self.inner.timer.sleep(wait) => {}
            }
            if Instant::now() >= sign_out_at {
                let taken = Self::idle_sign_out(&session, generation);
                let Some(taken) = taken else { continue };
                tracing::info!("idle sign-out");
                if let Some(tokens) = taken {
                    self.revoke(tokens).await;
                }
                return;
            }
            if let Some(refresh_token) = tokens.refresh_token.clone() {
                match provider.refresh(&refresh_token).await {
                    Ok(fresh) => {
                        tokens = fresh;
                        obtained = Instant::now();
                        Self::store_tokens(&session, generation, &tokens);
                        tracing::debug!("access token refreshed");
                    }
                    Err(error) => {
                        tracing::warn!(%error, "refresh failed; keeping the session until idle sign-out");
                        self.inner.metrics.provider_error("refresh", &error);
                        tokens.refresh_token = None;
                    }
                }
            }
        }
    }

    /// Signs out an idle session: `None` if the sign-out moved or the session changed
    /// meanwhile, else the tokens to revoke.
    fn idle_sign_out(session: &TvSession, generation: u64) -> Option<Option<TokenSet>> {
        let mut state = session.lock();
        if state.generation != generation || state.sign_out_at.is_some_and(|a| a > Instant::now()) {
            return None;
        }
        state.generation += 1;
        state.task = None;
        state.sign_out_at = None;
        session.status.send_replace(TvStatus::Idle);
        Some(state.tokens.take())
    }

    fn store_tokens(session: &TvSession, generation: u64, tokens: &TokenSet) {
        let mut state = session.lock();
        if state.generation == generation {
            state.tokens = Some(tokens.clone());
        }
    }

    /// Forgets sessions nobody has looked at for a long time and that hold nothing.
    fn spawn_sweeper(&self) {
        let weak = Arc::downgrade(&self.inner);
        let shutdown = self.inner.shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let Some(inner) = weak.upgrade() else { return };
                inner.addresses.forget_idle();
                let mut sessions = inner.sessions.lock().unwrap_or_else(|p| p.into_inner());
                sessions.retain(|_, s| {
                    !(s.status_is(|s| matches!(s, TvStatus::Idle))
                        && s.is_abandoned(FORGET_IDLE_AFTER))
                });
            }
        });
    }
}
