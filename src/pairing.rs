//! The pairing sessions behind the TVs. Each TV browser (one session cookie) has one
//! [`SessionRecord`](store::SessionRecord) in the [`SessionStore`] (memory or Redis): its
//! status, and the secrets that never leave the server (device code, tokens). The [`Hub`]
//! changes records for the server functions, pushes every change to the push streams this
//! replica holds, and runs one task per session it owns: start a device authorization, poll
//! by the rules in `oidc::polling`, fetch the profile, wait out the idle sign-out.
//!
//! Where each part lives (each module imports only its own children and leaf siblings,
//! never the hub):
//! - `lifecycle`: what a session's task does next, as a pure state machine: the record and
//!   an event in, a step out (write this change under this lease, call the provider, sleep
//!   until then, revoke these tokens, report this, stop);
//! - `task`: the driver that performs those steps and nothing else;
//! - `records`: the one write path (compare-and-set, retried; fenced by the owner epoch for
//!   tasks; optionally moving the record to a fresh id);
//! - `sessions`: this replica's view (the status each push stream shows, the task it runs);
//! - `admission`: the limits on new codes; `slots`: the `MAX_PAIRINGS` places;
//! - `loops`: lease renewal and adoption, presence marking, other replicas' changes;
//! - `provider`: the provider as the core sees it ([`Provider`]); `in_flight`: the polls and
//!   refreshes sent under a lease;
//! - `store`: the records and where they are kept.
//!
//! Time comes from outside: a [`Timer`] for sleeps and the instants the polling rules count
//! by, a [`Clock`] for the wall-clock times records hold. A server uses tokio's timer and
//! the system clock; the tests run the whole core in tokio's paused time.
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
//! (kept in the record) and per client address, so a client cannot dodge the first by dropping
//! its cookie: counted in Redis for the whole fleet where there is one
//! ([`SessionStore::count_new_code`]), else by this replica
//! ([`AddressLimiter`](crate::limits::AddressLimiter), a keyed `governor` limiter); and a
//! server runs at most `MAX_PAIRINGS` pairings at once (see `admission`).
//!
//! Logs never carry a user code, only its tag (see `code_tag`).
//!
//! Session fixation: the TV's own actions that start something worth having (Sign in, New
//! code) or end it (Sign out) move its record to a fresh session id, whose cookie goes out
//! only in the response to that action ([`Acted::moved_to`]). Nothing is left under the old
//! id: anyone else holding it (a planted cookie) sees Home, and its push streams end, on
//! every replica, with a `rotated` event so the TV's page reconnects under the new cookie.

mod admission;
mod code_tag;
pub mod identity;
mod in_flight;
mod lifecycle;
mod loops;
mod provider;
mod records;
mod session_id;
mod sessions;
pub mod signed_in;
mod slots;
pub mod store;
mod task;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use self::admission::{AddressCount, Admission, Began};
use self::in_flight::Calls;
use self::loops::Upkeep;
use self::records::{Edit, Place, Records};
use self::sessions::LocalSessions;
use self::store::{Clock, Lease, SessionStore, StoreError, WallClock};
use self::task::{TaskKit, Tasks, Turn};
use crate::metrics::{Metrics, PairingEnd, ThrottledBy};
use crate::model::TvStatus;
use crate::oidc::polling::{Timer, TokioTimer};
use crate::oidc::ProviderClient;
use crate::settings::KioskSettings;

pub use self::provider::Provider;
pub use self::session_id::SessionId;
pub use self::sessions::ViewerGuard;

/// All TV sessions, as this replica sees them.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    provider: Arc<dyn Provider>,
    kiosk: KioskSettings,
    records: Arc<Records>,
    tasks: Tasks,
    admission: Arc<Admission>,
    calls: Calls,
    metrics: Metrics,
    /// Keeps the background loops running (they end with the hub).
    _upkeep: Arc<Upkeep>,
}

/// What an action did: the TV's status, and the id its session moved to, if it moved. The
/// caller must hand the new id (its cookie) to the TV in the response to this action.
#[derive(Debug)]
pub struct Acted {
    pub status: TvStatus,
    pub moved_to: Option<SessionId>,
}

impl Hub {
    pub fn new(
        provider: Arc<ProviderClient>,
        kiosk: KioskSettings,
        store: Arc<dyn SessionStore>,
        shutdown: CancellationToken,
    ) -> Self {
        Self::with_clocks(
            provider,
            kiosk,
            store,
            shutdown,
            Arc::new(TokioTimer),
            Arc::new(WallClock),
        )
    }

    /// A hub on any [`Provider`], with its timer (sleeps, and the instants the polling rules
    /// and the per-address limit count by) and its wall clock (the times records hold).
    pub fn with_clocks(
        provider: Arc<dyn Provider>,
        kiosk: KioskSettings,
        store: Arc<dyn SessionStore>,
        shutdown: CancellationToken,
        timer: Arc<dyn Timer>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let metrics = Metrics::new();
        let events = store.take_events();
        let local = Arc::new(LocalSessions::default());
        let records = Arc::new(Records::new(
            store.clone(),
            local,
            clock,
            kiosk.expired_return_home,
        ));
        let calls = Calls::new(store, provider.clone(), metrics.clone());
        let admission = Arc::new(Admission::new(
            kiosk.pairings_per_minute,
            kiosk.max_pairings,
            timer.clone(),
        ));
        let kit = TaskKit {
            records: records.clone(),
            provider: provider.clone(),
            calls: calls.clone(),
            timer,
            metrics: metrics.clone(),
            code_tags: code_tag::CodeTagger::new(),
            kiosk: kiosk.clone(),
        };
        let tasks = Tasks::new(kit, shutdown.clone());
        let upkeep = Arc::new(Upkeep {
            records: records.clone(),
            tasks: tasks.clone(),
            admission: admission.clone(),
            presence_every: (kiosk.abandon_after / 4)
                .clamp(Duration::from_millis(250), Duration::from_secs(5)),
        });
        upkeep.spawn(&shutdown, events);
        Self {
            inner: Arc::new(HubInner {
                provider,
                kiosk,
                records,
                tasks,
                admission,
                calls,
                metrics,
                _upkeep: upkeep,
            }),
        }
    }

    /// This server's metrics (`GET /metrics`).
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Pairings this replica runs now (see `MAX_PAIRINGS`).
    pub fn pairings_in_progress(&self) -> usize {
        self.inner.admission.slots().taken()
    }

    /// Number of sessions this replica holds in memory (streams or tasks).
    pub fn len(&self) -> usize {
        self.inner.records.local().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The current status.
    pub async fn status(&self, id: &SessionId) -> Result<TvStatus, StoreError> {
        let records = &self.inner.records;
        Ok(records
            .seen_while(id, records.load(id))
            .await?
            .map_or(TvStatus::Idle, |s| s.record.status))
    }

    /// Subscribes to a session's status; the TV counts as present while the guard lives.
    pub async fn subscribe(
        &self,
        id: &SessionId,
    ) -> Result<(watch::Receiver<TvStatus>, ViewerGuard), StoreError> {
        let records = &self.inner.records;
        let connections = self.inner.metrics.push_connections();
        // Registered first, so a change made meanwhile is not missed; then the current state.
        let (receiver, guard) = records.local().watch(id, connections);
        records.seen(id).await;
        records.reload(id).await?;
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
        let inner = &self.inner;
        let records = &inner.records;
        let address = self.count_address(id, client, renew).await?;
        let began = records.update(id, Place::Move, |record| {
            let now_ms = records.now_ms();
            inner
                .admission
                .begin(record, now_ms, client, address, renew)
        });
        let ((began, slot), landed) = records.seen_while(id, began).await?;
        // Every start and throttle claims the session and moves it to a new id, so a write
        // happened and has an epoch.
        let epoch = landed.as_ref().map(|l| l.epoch).unwrap_or_default();
        let moved_to = landed.and_then(|l| l.moved_to);
        let target = moved_to.clone().unwrap_or_else(|| id.clone());
        let status = match began {
            Began::Already(status) => status,
            Began::Started {
                generation,
                replaced,
            } => {
                if replaced {
                    inner.metrics.pairing_finished(PairingEnd::Replaced);
                }
                inner.metrics.pairing_started();
                let turn = Turn { generation, epoch };
                inner.tasks.spawn(&target, turn, Duration::ZERO, slot);
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
                        max = inner.kiosk.max_pairings,
                        "MAX_PAIRINGS pairings are in progress; a new one was refused"
                    ),
                    ThrottledBy::Session => {}
                }
                inner.metrics.pairing_throttled(by);
                let turn = Turn { generation, epoch };
                inner.tasks.spawn(&target, turn, Duration::ZERO, None);
                TvStatus::Throttled {
                    retry_after_secs: retry_after.as_secs().max(1),
                }
            }
        };
        Ok(Acted { status, moved_to })
    }

    /// Where a shared store counts new codes per client address for the whole fleet, counts
    /// this one there, unless the start would not reach that limit (a reload while a pairing
    /// is under way, or the session's own limit refusing it first).
    async fn count_address(
        &self,
        id: &SessionId,
        client: Option<IpAddr>,
        renew: bool,
    ) -> Result<AddressCount, StoreError> {
        let records = &self.inner.records;
        let store = records.store();
        let Some(client) = client.filter(|_| store.counts_addresses()) else {
            return Ok(AddressCount::Here);
        };
        let record = records
            .load(id)
            .await?
            .map(|s| s.record)
            .unwrap_or_default();
        let admission = &self.inner.admission;
        if !admission.reaches_address_limit(&record, records.now_ms(), renew) {
            return Ok(AddressCount::Shared(None));
        }
        let key = crate::limits::address_key(client);
        let wait = store.count_new_code(key, admission.per_minute()).await?;
        Ok(AddressCount::Shared(wait))
    }

    /// Stops the pairing and returns to Home.
    pub async fn cancel(&self, id: &SessionId) -> Result<TvStatus, StoreError> {
        let records = &self.inner.records;
        let cancelled = records.update(id, Place::Stay, |record| {
            if let TvStatus::SignedIn { .. } = record.status {
                return Edit::Skip(Err(record.status.clone()));
            }
            if record.status == TvStatus::Idle {
                // Nothing to cancel; in particular no record is made for an unknown id.
                return Edit::Skip(Ok(false));
            }
            let was_pairing = record.status.is_busy();
            lifecycle::reset(record);
            Edit::Write(Ok(was_pairing), Lease::Release)
        });
        let (cancelled, _) = records.seen_while(id, cancelled).await?;
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

    /// Signs out: forgets and revokes the tokens, returns to Home under a new session id.
    pub async fn sign_out(&self, id: &SessionId) -> Result<Acted, StoreError> {
        let records = &self.inner.records;
        let tokens = records.update(id, Place::Move, |record| {
            if record.status == TvStatus::Idle && record.tokens.is_none() {
                // Nothing to sign out of; in particular no record is made for an unknown id.
                return Edit::Skip(None);
            }
            Edit::Write(lifecycle::reset(record), Lease::Release)
        });
        let (tokens, landed) = records.seen_while(id, tokens).await?;
        if let Some(tokens) = tokens {
            let inner = &self.inner;
            provider::revoke(inner.provider.as_ref(), &inner.metrics, tokens).await;
        }
        Ok(Acted {
            status: TvStatus::Idle,
            moved_to: landed.and_then(|l| l.moved_to),
        })
    }

    /// The person used the TV: pushes the idle sign-out back.
    pub async fn activity(&self, id: &SessionId) -> Result<TvStatus, StoreError> {
        let records = &self.inner.records;
        let idle_sign_out = self.inner.kiosk.idle_sign_out.as_millis() as u64;
        let pushed_back = records.update(id, Place::Stay, |record| match &mut record.status {
            TvStatus::SignedIn { sign_out_at_ms, .. } => {
                *sign_out_at_ms = records.now_ms() + idle_sign_out;
                Edit::Write(record.status.clone(), Lease::Keep)
            }
            other => Edit::Skip(other.clone()),
        });
        Ok(records.seen_while(id, pushed_back).await?.0)
    }

    /// Stopping gracefully (after the streams and tasks ended): once the polls and refreshes
    /// in flight have ended and what they brought is stored, the other replicas take this
    /// one's sessions at once instead of waiting for its lease to lapse. If they do not end
    /// in time, the lease is left to lapse, which is just as safe, only slower.
    pub async fn release(&self) {
        if let Some(_no_new_calls) = self.inner.calls.drain().await {
            self.inner.records.store().release().await;
        }
    }
}
