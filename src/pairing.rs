//! The pairing sessions behind the TVs. Each TV browser (one session cookie) has one
//! [`SessionRecord`] in the [`SessionStore`] (memory or Redis): its status, and the secrets
//! that never leave the server (device code, tokens). The [`Hub`] changes records for the
//! server functions, pushes every change to the push streams this replica holds, and runs
//! one task per session it owns (see `task`): start a device authorization, poll by the
//! rules in `oidc::polling`, fetch the profile, wait out the idle sign-out.
//!
//! A waiting TV costs one push stream and one task asleep on a timer, not a thread. With
//! Redis, a replica's leases are renewed every second; sessions of a replica that stops
//! renewing are adopted by another, whose task carries on with the stored device code. A
//! task writes only under the owner epoch it was started with, so once its session has been
//! adopted (or claimed for a new code) it can change nothing. Polls and refreshes are sent
//! only while the lease outlasts the request, and run to their end even when their task is
//! cancelled; a replica that stops waits for them before it hands its sessions over, so two
//! replicas never have requests for one session at the provider at once.
//!
//! New codes are rate-limited twice, both at `PAIRING_RATE_LIMIT` per minute: per TV session
//! (kept in the record) and per client address ([`AddressLimiter`], a keyed `governor`
//! limiter in `limits`, per replica), so a client cannot dodge the first by dropping its
//! cookie; and a server runs at most `MAX_PAIRINGS` pairings at once ([`PairingSlots`]).
//!
//! Logs never carry a user code, only its tag (see `code_tag`).
//!
//! Session fixation: the TV's own actions that start something worth having (Sign in, New
//! code) or end it (Sign out) move its record to a fresh session id, whose cookie goes out
//! only in the response to that action ([`Acted::moved_to`]). Nothing is left under the old
//! id: anyone else holding it (a planted cookie) sees Home, and its push streams end, on
//! every replica, with a `rotated` event so the TV's page reconnects under the new cookie.

mod code_tag;
pub mod identity;
mod in_flight;
mod session_id;
pub mod signed_in;
mod slots;
pub mod store;
mod task;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metrics::Gauge;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use self::slots::{PairingSlot, PairingSlots};
use self::store::{
    now_ms, Lease, OwnerEpoch, Saved, SessionRecord, SessionStore, StoreError, StoreEvent, Write,
};
use crate::limits::AddressLimiter;
use crate::metrics::{Metrics, PairingEnd, ThrottledBy};
use crate::model::TvStatus;
use crate::oidc::polling::{Timer, TokioTimer};
use crate::oidc::token::TokenSet;
use crate::oidc::ProviderClient;
use crate::settings::KioskSettings;

pub use self::session_id::SessionId;

/// Records nobody needs expire after this long without a write.
const KEEP_IDLE: Duration = Duration::from_secs(15 * 60);
/// Extra life for a record past its last deadline.
const KEEP_AFTER_DEADLINE: Duration = Duration::from_secs(60);
/// Local bookkeeping for a session with no stream and no task is dropped after this long.
const FORGET_LOCAL_AFTER: Duration = Duration::from_secs(2 * 60);
/// How often the leases are renewed.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// How many times a write is retried when another writer got there first.
const WRITE_ATTEMPTS: usize = 16;
/// When the server runs `MAX_PAIRINGS` already, the TV asks again after this long.
const SERVER_FULL_RETRY: Duration = Duration::from_secs(15);

/// The run of a session a task is: the record generation it works for, and the owner epoch
/// under which this replica runs it. Every write the task makes is conditional on both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Turn {
    pub generation: u64,
    pub epoch: OwnerEpoch,
}

/// All TV sessions, as this replica sees them.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    provider: Arc<ProviderClient>,
    kiosk: KioskSettings,
    store: Arc<dyn SessionStore>,
    /// Sessions this replica is serving a push stream for or running a task for.
    local: Mutex<HashMap<SessionId, Arc<LocalSession>>>,
    shutdown: CancellationToken,
    timer: Arc<dyn Timer>,
    metrics: Metrics,
    addresses: AddressLimiter,
    /// Read-held by every provider call in flight (`in_flight::InFlight`); written once,
    /// by a graceful stop, to wait for them all.
    in_flight: Arc<tokio::sync::RwLock<()>>,
    code_tags: code_tag::CodeTagger,
    slots: PairingSlots,
}

/// This replica's view of one session.
struct LocalSession {
    status: watch::Sender<TvStatus>,
    state: Mutex<LocalState>,
    viewers: AtomicUsize,
    /// Cancelled when the session moves to a new id: its streams end.
    retired: CancellationToken,
}

struct LocalState {
    /// The store version of the status on `status` (older changes are ignored).
    version: u64,
    /// The session's task on this replica, with the generation it works for.
    task: Option<(u64, CancellationToken)>,
    last_used: Instant,
}

impl LocalSession {
    fn new() -> Self {
        Self {
            status: watch::channel(TvStatus::Idle).0,
            state: Mutex::new(LocalState {
                version: 0,
                task: None,
                last_used: Instant::now(),
            }),
            viewers: AtomicUsize::new(0),
            retired: CancellationToken::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LocalState> {
        // Each change under this lock is a few field writes; recover the guard after a panic.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Held while a push stream is open; the TV counts as present while any is.
pub struct ViewerGuard {
    session: Arc<LocalSession>,
    /// To forget the session once nothing uses it.
    hub: std::sync::Weak<HubInner>,
    id: SessionId,
    /// `tvsignin_push_connections`, counted up when the guard is made and down when dropped.
    connections: Gauge,
}

impl ViewerGuard {
    /// Cancelled when the session moves to a new id: the stream must end then.
    pub fn retired(&self) -> CancellationToken {
        self.session.retired.clone()
    }
}

impl Drop for ViewerGuard {
    fn drop(&mut self) {
        self.connections.decrement(1.0);
        let Some(inner) = self.hub.upgrade() else {
            self.session.viewers.fetch_sub(1, Ordering::SeqCst);
            return;
        };
        // Under the map's lock, so no new viewer or task can pick the session up meanwhile.
        let mut local = inner.local.lock().unwrap_or_else(|p| p.into_inner());
        self.session.viewers.fetch_sub(1, Ordering::SeqCst);
        self.session.lock().last_used = Instant::now();
        forget_if_unused(&mut local, &self.id, &self.session);
    }
}

/// Drops this replica's bookkeeping for a session nothing uses any more (no stream, no
/// task), so ids that come and go (made-up cookies, say) leave nothing behind. Called
/// with the map locked; viewers and tasks are only added under that lock.
fn forget_if_unused(
    local: &mut HashMap<SessionId, Arc<LocalSession>>,
    id: &SessionId,
    session: &Arc<LocalSession>,
) {
    let unused = session.viewers.load(Ordering::SeqCst) == 0 && session.lock().task.is_none();
    if unused && local.get(id).is_some_and(|held| Arc::ptr_eq(held, session)) {
        local.remove(id);
    }
}

/// A random duration in `[0, limit)` (from the OS generator, via a v4 UUID).
fn random_below(limit: Duration) -> Duration {
    let nanos = limit.as_nanos() as u64;
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(uuid::Uuid::new_v4().as_u64_pair().1 % nanos)
}

/// Whether a pairing is under way (a code is being fetched or shown).
fn in_progress(status: &TvStatus) -> bool {
    matches!(
        status,
        TvStatus::Starting | TvStatus::Waiting { .. } | TvStatus::Unreachable { .. }
    )
}

/// What an action did: the TV's status, and the id its session moved to, if it moved. The
/// caller must hand the new id (its cookie) to the TV in the response to this action.
#[derive(Debug)]
pub struct Acted {
    pub status: TvStatus,
    pub moved_to: Option<SessionId>,
}

/// What a change to a record does.
enum Step<T> {
    /// Write the changed record, and do this to the lease.
    Write(T, Lease),
    /// Nothing to write.
    Skip(T),
}

/// What a start or renew did.
enum Began {
    Already(TvStatus),
    Started {
        generation: u64,
        replaced: bool,
    },
    Throttled {
        generation: u64,
        by: ThrottledBy,
        retry_after: Duration,
    },
}

impl Hub {
    pub fn new(
        provider: Arc<ProviderClient>,
        kiosk: KioskSettings,
        store: Arc<dyn SessionStore>,
        shutdown: CancellationToken,
    ) -> Self {
        Self::with_timer(provider, kiosk, store, shutdown, Arc::new(TokioTimer))
    }

    pub fn with_timer(
        provider: Arc<ProviderClient>,
        kiosk: KioskSettings,
        store: Arc<dyn SessionStore>,
        shutdown: CancellationToken,
        timer: Arc<dyn Timer>,
    ) -> Self {
        let metrics = Metrics::new();
        // One provider client per hub in practice; were it shared, the first hub counts polls.
        provider.set_poll_observer(Arc::new(metrics.clone()));
        let addresses = AddressLimiter::new(kiosk.pairings_per_minute);
        let slots = PairingSlots::new(kiosk.max_pairings);
        let events = store.take_events();
        let hub = Self {
            inner: Arc::new(HubInner {
                provider,
                kiosk,
                store,
                local: Mutex::new(HashMap::new()),
                shutdown,
                timer,
                metrics,
                addresses,
                in_flight: Arc::new(tokio::sync::RwLock::new(())),
                code_tags: code_tag::CodeTagger::new(),
                slots,
            }),
        };
        hub.spawn_heartbeat();
        hub.spawn_presence();
        if let Some(events) = events {
            hub.spawn_listener(events);
        }
        hub
    }

    /// This server's metrics (`GET /metrics`).
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    fn local_map(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Arc<LocalSession>>> {
        self.inner.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// This replica's view of a session (made if there is none), changed by `join` under
    /// the map's lock: viewers and tasks join that way, so a session is never forgotten
    /// (see [`forget_if_unused`]) while one is joining.
    fn local(&self, id: &SessionId, join: impl FnOnce(&LocalSession)) -> Arc<LocalSession> {
        let mut local = self.local_map();
        let session = local
            .entry(id.clone())
            .or_insert_with(|| Arc::new(LocalSession::new()))
            .clone();
        session.lock().last_used = Instant::now();
        join(&session);
        session
    }

    /// Pairings this replica runs now (see `MAX_PAIRINGS`).
    pub fn pairings_in_progress(&self) -> usize {
        self.inner.slots.taken()
    }

    /// Number of sessions this replica holds in memory (streams or tasks).
    pub fn len(&self) -> usize {
        self.local_map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shows a change on this replica's streams (if newer than what they show) and stops a
    /// local task that works for an older generation.
    fn apply(&self, id: &SessionId, version: u64, generation: u64, status: TvStatus) {
        let Some(session) = self.local_map().get(id).cloned() else {
            return;
        };
        let mut state = session.lock();
        if version <= state.version {
            return;
        }
        state.version = version;
        if state.task.as_ref().is_some_and(|(g, _)| *g != generation) {
            if let Some((_, task)) = state.task.take() {
                task.cancel();
            }
        }
        // Sent under the lock, so two changes cannot reach the streams out of order.
        session.status.send_replace(status);
    }

    /// Reads, changes and writes a record, retrying when another writer got there first.
    /// With a `fence`, writes only while this replica owns the session under that epoch;
    /// `None` when it no longer does. Else the change's result, and the owner epoch after
    /// the write (`None` when nothing was written).
    async fn write<T>(
        &self,
        id: &SessionId,
        fence: Option<OwnerEpoch>,
        mut change: impl FnMut(&mut SessionRecord) -> Step<T>,
    ) -> Result<Option<(T, Option<OwnerEpoch>)>, StoreError> {
        for _ in 0..WRITE_ATTEMPTS {
            let stored = self.inner.store.load(id).await?;
            let (expected, mut record) =
                stored.map_or((0, SessionRecord::default()), |s| (s.version, s.record));
            let (out, lease) = match change(&mut record) {
                Step::Skip(out) => return Ok(Some((out, None))),
                Step::Write(out, lease) => (out, lease),
            };
            let write = Write {
                expected,
                record: &record,
                ttl: self.ttl(&record),
                lease,
                fence,
            };
            match self.inner.store.save(id, write).await? {
                Saved::Written { version, epoch } => {
                    self.apply(id, version, record.generation, record.status);
                    return Ok(Some((out, Some(epoch))));
                }
                Saved::Conflict => {}
                Saved::Fenced => return Ok(None),
            }
        }
        Err(StoreError::Unavailable(
            "too many concurrent writes to one session".into(),
        ))
    }

    /// A write made for a request (any replica may make it), with the owner epoch after it.
    async fn update<T>(
        &self,
        id: &SessionId,
        change: impl FnMut(&mut SessionRecord) -> Step<T>,
    ) -> Result<(T, Option<OwnerEpoch>), StoreError> {
        self.write(id, None, change)
            .await?
            .ok_or_else(|| StoreError::Unavailable("an unfenced write was fenced".into()))
    }

    /// As [`Hub::update`], and a written record moves to a fresh session id, leaving nothing
    /// under `id` (see the module notes on fixation). Returns the new id, and the owner epoch
    /// after the write, when it moved.
    async fn update_moving<T>(
        &self,
        id: &SessionId,
        mut change: impl FnMut(&mut SessionRecord) -> Step<T>,
    ) -> Result<(T, Option<(SessionId, OwnerEpoch)>), StoreError> {
        for _ in 0..WRITE_ATTEMPTS {
            let stored = self.inner.store.load(id).await?;
            let (expected, mut record) =
                stored.map_or((0, SessionRecord::default()), |s| (s.version, s.record));
            let (out, lease) = match change(&mut record) {
                Step::Skip(out) => return Ok((out, None)),
                Step::Write(out, lease) => (out, lease),
            };
            let new = SessionId::generate();
            let write = Write {
                expected,
                record: &record,
                ttl: self.ttl(&record),
                lease,
                fence: None,
            };
            match self.inner.store.rotate(id, &new, write).await? {
                Saved::Written { version, epoch } => {
                    self.retire(id);
                    self.apply(&new, version, record.generation, record.status);
                    return Ok((out, Some((new, epoch))));
                }
                Saved::Conflict => {}
                Saved::Fenced => {
                    return Err(StoreError::Unavailable(
                        "an unfenced move was fenced".into(),
                    ))
                }
            }
        }
        Err(StoreError::Unavailable(
            "too many concurrent writes to one session".into(),
        ))
    }

    /// The session left `id` for a new id: this replica's streams for `id` end and its task
    /// stops; whoever asks for `id` again starts from nothing.
    fn retire(&self, id: &SessionId) {
        let removed = self.local_map().remove(id);
        if let Some(session) = removed {
            if let Some((_, task)) = session.lock().task.take() {
                task.cancel();
            }
            session.retired.cancel();
        }
    }

    /// A task's write: changes the record only while the task's turn is current (its
    /// generation, and this replica's ownership under its epoch); `false` when it is not.
    async fn update_current(
        &self,
        id: &SessionId,
        turn: Turn,
        lease: Lease,
        mut change: impl FnMut(&mut SessionRecord) -> bool,
    ) -> Result<bool, StoreError> {
        let written = self
            .write(id, Some(turn.epoch), |record| {
                if record.generation != turn.generation {
                    Step::Skip(false)
                } else if change(record) {
                    Step::Write(true, lease)
                } else {
                    Step::Skip(true)
                }
            })
            .await?;
        Ok(written.is_some_and(|(current, _)| current))
    }

    /// How long a record lives without another write: past its last deadline, and never
    /// longer than needed.
    fn ttl(&self, record: &SessionRecord) -> Duration {
        let kiosk = &self.inner.kiosk;
        let now = now_ms();
        let until = |at_ms: u64| Duration::from_millis(at_ms.saturating_sub(now));
        let needed = match &record.status {
            TvStatus::Idle | TvStatus::Starting | TvStatus::Unreachable { pairing: None } => {
                KEEP_IDLE
            }
            TvStatus::Waiting { .. } | TvStatus::Unreachable { .. } => {
                record.device.as_ref().map_or(KEEP_IDLE, |d| {
                    until(d.expires_at_ms) + kiosk.expired_return_home
                })
            }
            TvStatus::Denied | TvStatus::Expired | TvStatus::Throttled { .. } => {
                record.return_home_at_ms.map_or(KEEP_IDLE, until)
            }
            TvStatus::SignedIn { sign_out_at_ms, .. } => until(*sign_out_at_ms),
        };
        needed + KEEP_AFTER_DEADLINE
    }

    /// Marks the session as seen (any request from the TV counts).
    async fn seen(&self, id: &SessionId) {
        if let Err(error) = self.inner.store.touch(std::slice::from_ref(id)).await {
            tracing::warn!(%error, "cannot mark the TV as present");
        }
    }

    /// Runs `work` while marking the TV as present: with Redis the two go out together, one
    /// round trip instead of two.
    async fn seen_while<T>(&self, id: &SessionId, work: impl std::future::Future<Output = T>) -> T {
        let ((), out) = tokio::join!(self.seen(id), work);
        out
    }

    /// The current status.
    pub async fn status(&self, id: &SessionId) -> Result<TvStatus, StoreError> {
        Ok(self
            .seen_while(id, self.inner.store.load(id))
            .await?
            .map_or(TvStatus::Idle, |s| s.record.status))
    }

    /// Subscribes to a session's status; the TV counts as present while the guard lives.
    pub async fn subscribe(
        &self,
        id: &SessionId,
    ) -> Result<(watch::Receiver<TvStatus>, ViewerGuard), StoreError> {
        let session = self.local(id, |session| {
            session.viewers.fetch_add(1, Ordering::SeqCst);
        });
        let connections = self.inner.metrics.push_connections();
        connections.increment(1.0);
        let guard = ViewerGuard {
            session: session.clone(),
            hub: Arc::downgrade(&self.inner),
            id: id.clone(),
            connections,
        };
        // Registered first, so a change made meanwhile is not missed; then the current state.
        let receiver = session.status.subscribe();
        self.seen(id).await;
        if let Some(stored) = self.inner.store.load(id).await? {
            self.apply(
                id,
                stored.version,
                stored.record.generation,
                stored.record.status,
            );
        }
        Ok((receiver, guard))
    }

    /// Starts a pairing, unless one is already under way (a reload must not make a new code).
    /// `client` is the caller's address for the per-address limit (see [`crate::limits::client_address`]).
    /// The session moves to a new id whenever something starts (or is refused).
    pub async fn start(&self, id: &SessionId, client: Option<IpAddr>) -> Result<Acted, StoreError> {
        self.begin(id, client, false).await
    }

    /// Drops the current code (if any) and starts a fresh one, under a new session id.
    pub async fn renew(&self, id: &SessionId, client: Option<IpAddr>) -> Result<Acted, StoreError> {
        self.begin(id, client, true).await
    }

    async fn begin(
        &self,
        id: &SessionId,
        client: Option<IpAddr>,
        renew: bool,
    ) -> Result<Acted, StoreError> {
        let limit = self.inner.kiosk.pairings_per_minute as usize;
        let mut slot: Option<PairingSlot> = None;
        let began = self.update_moving(id, |record| {
            slot = None;
            let keep = match &record.status {
                TvStatus::SignedIn { .. } => true,
                status => !renew && in_progress(status),
            };
            if keep {
                return Step::Skip(Began::Already(record.status.clone()));
            }
            let now = now_ms();
            record
                .recent_starts_ms
                .retain(|at| now.saturating_sub(*at) < 60_000);
            let refused = if record.recent_starts_ms.len() >= limit {
                let oldest = record.recent_starts_ms.first().copied().unwrap_or(now);
                let wait = Duration::from_millis(60_000 - now.saturating_sub(oldest).min(60_000));
                Some((ThrottledBy::Session, wait + Duration::from_secs(1)))
            } else {
                client.and_then(|address| {
                    self.inner.addresses.check(address).err().map(|wait| {
                        // Whole seconds, rounded up: the TV must not ask again too early.
                        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                        (ThrottledBy::Address, Duration::from_secs(secs))
                    })
                })
            };
            let refused = refused.or_else(|| {
                // New code replaces a pairing, so it takes a slot even on a full server.
                slot = if in_progress(&record.status) {
                    Some(self.inner.slots.take_anyway())
                } else {
                    self.inner.slots.try_take()
                };
                slot.is_none()
                    .then_some((ThrottledBy::Server, SERVER_FULL_RETRY))
            });
            record.generation += 1;
            record.device = None;
            let generation = record.generation;
            match refused {
                Some((by, retry_after)) => {
                    record.return_home_at_ms = Some(now + retry_after.as_millis() as u64);
                    record.status = TvStatus::Throttled {
                        retry_after_secs: retry_after.as_secs().max(1),
                    };
                    Step::Write(
                        Began::Throttled {
                            generation,
                            by,
                            retry_after,
                        },
                        Lease::Claim,
                    )
                }
                None => {
                    let replaced = in_progress(&record.status);
                    record.recent_starts_ms.push(now);
                    record.return_home_at_ms = None;
                    record.status = TvStatus::Starting;
                    Step::Write(
                        Began::Started {
                            generation,
                            replaced,
                        },
                        Lease::Claim,
                    )
                }
            }
        });
        let (began, moved) = self.seen_while(id, began).await?;
        // Every start and throttle claims the session and moves it to a new id, so a write
        // happened and has an epoch.
        let epoch = moved.as_ref().map(|(_, epoch)| *epoch).unwrap_or_default();
        let moved_to = moved.map(|(new, _)| new);
        let target = moved_to.clone().unwrap_or_else(|| id.clone());
        let status = match began {
            Began::Already(status) => status,
            Began::Started {
                generation,
                replaced,
            } => {
                if replaced {
                    self.inner.metrics.pairing_finished(PairingEnd::Replaced);
                }
                self.inner.metrics.pairing_started();
                self.spawn_task_after(&target, Turn { generation, epoch }, Duration::ZERO, slot);
                TvStatus::Starting
            }
            Began::Throttled {
                generation,
                by,
                retry_after,
            } => {
                match by {
                    ThrottledBy::Address => {
                        tracing::info!(address = ?client, "too many new codes from one address")
                    }
                    ThrottledBy::Server => tracing::warn!(
                        max = self.inner.kiosk.max_pairings,
                        "MAX_PAIRINGS pairings are in progress; a new one was refused"
                    ),
                    ThrottledBy::Session => {}
                }
                self.inner.metrics.pairing_throttled(by);
                self.spawn_task(&target, Turn { generation, epoch });
                TvStatus::Throttled {
                    retry_after_secs: retry_after.as_secs().max(1),
                }
            }
        };
        Ok(Acted { status, moved_to })
    }

    /// Stops the pairing and returns to Home.
    pub async fn cancel(&self, id: &SessionId) -> Result<TvStatus, StoreError> {
        let cancelled = self.update(id, |record| {
            if let TvStatus::SignedIn { .. } = record.status {
                return Step::Skip(Err(record.status.clone()));
            }
            if record.status == TvStatus::Idle {
                // Nothing to cancel; in particular no record is made for an unknown id.
                return Step::Skip(Ok(false));
            }
            let was_pairing = in_progress(&record.status);
            Self::reset(record);
            Step::Write(Ok(was_pairing), Lease::Release)
        });
        let (cancelled, _) = self.seen_while(id, cancelled).await?;
        match cancelled {
            Err(signed_in) => Ok(signed_in),
            Ok(was_pairing) => {
                if was_pairing {
                    self.inner.metrics.pairing_finished(PairingEnd::Cancelled);
                }
                Ok(TvStatus::Idle)
            }
        }
    }

    /// Back to Home with nothing held; returns the tokens to revoke.
    fn reset(record: &mut SessionRecord) -> Option<TokenSet> {
        record.generation += 1;
        record.status = TvStatus::Idle;
        record.device = None;
        record.return_home_at_ms = None;
        record.identity = None;
        record.tokens.take()
    }

    /// Signs out: forgets and revokes the tokens, returns to Home under a new session id.
    pub async fn sign_out(&self, id: &SessionId) -> Result<Acted, StoreError> {
        let tokens = self.update_moving(id, |record| {
            if record.status == TvStatus::Idle && record.tokens.is_none() {
                // Nothing to sign out of; in particular no record is made for an unknown id.
                return Step::Skip(None);
            }
            Step::Write(Self::reset(record), Lease::Release)
        });
        let (tokens, moved) = self.seen_while(id, tokens).await?;
        let moved_to = moved.map(|(new, _)| new);
        if let Some(tokens) = tokens {
            self.revoke(tokens).await;
        }
        Ok(Acted {
            status: TvStatus::Idle,
            moved_to,
        })
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
    pub async fn activity(&self, id: &SessionId) -> Result<TvStatus, StoreError> {
        let idle_sign_out = self.inner.kiosk.idle_sign_out;
        let pushed_back = self.update(id, |record| match &mut record.status {
            TvStatus::SignedIn { sign_out_at_ms, .. } => {
                let at = now_ms() + idle_sign_out.as_millis() as u64;
                *sign_out_at_ms = at;
                Step::Write(record.status.clone(), Lease::Keep)
            }
            other => Step::Skip(other.clone()),
        });
        Ok(self.seen_while(id, pushed_back).await?.0)
    }

    /// Runs the session's task on this replica for `turn`, replacing any older one.
    fn spawn_task(&self, id: &SessionId, turn: Turn) {
        self.spawn_task_after(id, turn, Duration::ZERO, None);
    }

    /// As [`Hub::spawn_task`], the task starting after `delay` and holding `slot` while its
    /// pairing is in progress.
    fn spawn_task_after(
        &self,
        id: &SessionId,
        turn: Turn,
        delay: Duration,
        slot: Option<PairingSlot>,
    ) {
        let generation = turn.generation;
        let cancel = self.inner.shutdown.child_token();
        self.local(id, |session| {
            if let Some((_, old)) = session.lock().task.replace((generation, cancel.clone())) {
                old.cancel();
            }
        });
        let hub = self.clone();
        let id = id.clone();
        // The task's logs carry the span (request id, path) of the request that started it.
        tokio::spawn(
            async move {
                if hub.nap(&cancel, delay).await {
                    task::drive(&hub, &id, turn, &cancel, slot).await;
                }
                // Looked up, not made again: a session that moved to a new id stays gone.
                let mut local = hub.local_map();
                if let Some(session) = local.get(&id).cloned() {
                    {
                        let mut state = session.lock();
                        if state.task.as_ref().is_some_and(|(g, _)| *g == generation) {
                            state.task = None;
                        }
                    }
                    forget_if_unused(&mut local, &id, &session);
                }
            }
            .in_current_span(),
        );
    }

    /// Sleeps unless cancelled; returns false when cancelled.
    async fn nap(&self, cancel: &CancellationToken, duration: Duration) -> bool {
        tokio::select! {
            _ = cancel.cancelled() => false,
            _ = self.inner.timer.sleep(duration) => true,
        }
    }

    /// Whether no TV has looked at this session for `ABANDON_AFTER_SECS`.
    async fn is_abandoned(&self, id: &SessionId) -> bool {
        let after = self.inner.kiosk.abandon_after.as_millis() as u64;
        match self.inner.store.last_seen_ms(id).await {
            Ok(seen) => seen.is_none_or(|at| now_ms().saturating_sub(at) > after),
            // Unknown: keep going rather than drop a pairing someone may be watching.
            Err(_) => false,
        }
    }

    /// Renews the leases every second; runs the sessions adopted from a replica that
    /// stopped, and stops every local task if this replica's own leases lapsed.
    fn spawn_heartbeat(&self) {
        let weak = Arc::downgrade(&self.inner);
        let shutdown = self.inner.shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let Some(inner) = weak.upgrade() else { return };
                let hub = Hub { inner };
                match hub.inner.store.heartbeat().await {
                    Ok(beat) => {
                        if beat.lost {
                            hub.stop_local_tasks();
                        }
                        if !beat.adopted.is_empty() {
                            tracing::info!(
                                count = beat.adopted.len(),
                                "adopted sessions from a replica that stopped"
                            );
                        }
                        for (id, epoch) in beat.adopted {
                            hub.resume(&id, epoch).await;
                        }
                    }
                    Err(error) => tracing::warn!(%error, "cannot renew the leases"),
                }
            }
        });
    }

    /// Stopping gracefully (after the streams and tasks ended): once the polls and refreshes
    /// in flight have ended and what they brought is stored, the other replicas take this
    /// one's sessions at once instead of waiting for its lease to lapse. If they do not end
    /// in time, the lease is left to lapse, which is just as safe, only slower.
    pub async fn release(&self) {
        if let Some(_no_new_calls) = self.drain().await {
            self.inner.store.release().await;
        }
    }

    /// Starts the task for a session this replica just adopted. Adopted pairings start at
    /// a random point within their interval, so taking over thousands at once does not poll
    /// the provider in one burst (waiting longer than the interval is always allowed).
    async fn resume(&self, id: &SessionId, epoch: OwnerEpoch) {
        match self.inner.store.load(id).await {
            Ok(Some(stored)) => {
                let generation = stored.record.generation;
                let spread = stored
                    .record
                    .device
                    .as_ref()
                    .map_or(Duration::ZERO, |d| d.interval);
                // An adopted pairing runs on, even on a full server.
                let slot =
                    in_progress(&stored.record.status).then(|| self.inner.slots.take_anyway());
                self.apply(id, stored.version, generation, stored.record.status);
                self.spawn_task_after(id, Turn { generation, epoch }, random_below(spread), slot);
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "cannot load an adopted session"),
        }
    }

    fn stop_local_tasks(&self) {
        for session in self.local_map().values() {
            if let Some((_, task)) = session.lock().task.take() {
                task.cancel();
            }
        }
    }

    /// Marks sessions with an open stream as seen, often enough that a present TV never
    /// looks gone; forgets local bookkeeping nobody needs.
    fn spawn_presence(&self) {
        let weak = Arc::downgrade(&self.inner);
        let shutdown = self.inner.shutdown.clone();
        let every = (self.inner.kiosk.abandon_after / 4)
            .clamp(Duration::from_millis(250), Duration::from_secs(5));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_forget = Instant::now();
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let Some(inner) = weak.upgrade() else { return };
                let watched: Vec<SessionId> = {
                    let mut local = inner.local.lock().unwrap_or_else(|p| p.into_inner());
                    if last_forget.elapsed() >= Duration::from_secs(60) {
                        last_forget = Instant::now();
                        local.retain(|_, s| {
                            s.viewers.load(Ordering::SeqCst) > 0 || {
                                let state = s.lock();
                                state.task.is_some()
                                    || state.last_used.elapsed() < FORGET_LOCAL_AFTER
                            }
                        });
                        inner.addresses.forget_idle();
                    }
                    local
                        .iter()
                        .filter(|(_, s)| s.viewers.load(Ordering::SeqCst) > 0)
                        .map(|(id, _)| id.clone())
                        .collect()
                };
                if let Err(error) = inner.store.touch(&watched).await {
                    tracing::warn!(%error, "cannot mark TVs as present");
                }
            }
        });
    }

    /// Applies other replicas' changes to this replica's streams and tasks.
    fn spawn_listener(&self, mut events: tokio::sync::mpsc::UnboundedReceiver<StoreEvent>) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let Some(inner) = weak.upgrade() else { return };
                let hub = Hub { inner };
                match event {
                    StoreEvent::Retired(id) => hub.retire(&id),
                    StoreEvent::Changed(change) => {
                        if !hub.local_map().contains_key(&change.id) {
                            continue;
                        }
                        match change.status() {
                            Ok(status) => {
                                hub.apply(&change.id, change.version, change.generation, status)
                            }
                            Err(error) => tracing::warn!(
                                %error,
                                "ignoring a change message that does not open with STORE_KEY \
                                 (altered or forged, or sealed with a key this replica lacks)"
                            ),
                        }
                    }
                    StoreEvent::Resync => {
                        let ids: Vec<SessionId> = hub.local_map().keys().cloned().collect();
                        for id in ids {
                            if let Ok(Some(stored)) = hub.inner.store.load(&id).await {
                                let generation = stored.record.generation;
                                hub.apply(&id, stored.version, generation, stored.record.status);
                            }
                        }
                    }
                }
            }
        });
    }
}
