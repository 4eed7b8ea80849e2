//! Where TV sessions are kept: the [`SessionRecord`] each TV has, and the [`SessionStore`]
//! interface with two implementations, in memory (the default) and Redis (`REDIS_URL`, for
//! several replicas behind one load balancer).
//!
//! Every change is a compare-and-set on the record's version, so two replicas (or two tasks)
//! can never overwrite each other's newer state; a record can also move to a new session id
//! in one step (`rotate`), leaving nothing under the old one. A store also keeps each stored
//! session's last-seen time (a TV is present while any replica holds its push stream; ids
//! with no record get none, so requests with made-up cookies leave nothing behind) and the
//! poll leases: the replica that owns a session is the only one that talks to the provider
//! for it. Each change of owner bumps the session's owner epoch, and a task's writes carry
//! the epoch it was started with, so an owner that was replaced can no longer write (fencing).

pub mod memory;
pub mod redis;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use super::SessionId;
use crate::model::TvStatus;
use crate::oidc::secret::DeviceCode;
use crate::oidc::token::TokenSet;
use crate::seal::{self, StoreKeys};

/// Now, in Unix milliseconds (the records hold wall-clock times so any replica can read them).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Wall-clock time, in Unix milliseconds: what records hold, and what the in-memory store
/// times TTLs, last-seen times and leases by. Injected, so tests can run the pairing core in
/// tokio's paused time; a server uses [`WallClock`].
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> u64;
}

/// The system's clock ([`now_ms`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct WallClock;

impl Clock for WallClock {
    fn now_ms(&self) -> u64 {
        now_ms()
    }
}

/// The device authorization a pairing polls with; only the owning replica's task reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceGrant {
    pub device_code: DeviceCode,
    /// The current polling interval (the provider's, plus every `slow_down`).
    pub interval: Duration,
    /// When the device code expires, in Unix ms.
    pub expires_at_ms: u64,
}

/// Everything kept about one TV browser.
#[derive(Clone, Debug)]
pub struct SessionRecord {
    /// Bumped by every start, renew, cancel and sign-out; a task only writes while its
    /// generation is current, so a stale task can never overwrite a newer state.
    pub generation: u64,
    /// What the TV shows (pushed to every open stream, on every replica).
    pub status: TvStatus,
    pub device: Option<DeviceGrant>,
    pub tokens: Option<TokenSet>,
    /// When `tokens` were obtained, in Unix ms (schedules the refresh).
    pub tokens_at_ms: u64,
    /// Denied, expired or throttled: when the TV returns to Home, in Unix ms.
    pub return_home_at_ms: Option<u64>,
    /// New codes in the last minute (the per-session rate limit), Unix ms.
    pub recent_starts_ms: Vec<u64>,
    /// Forward auth: who signed in (set with `tokens`; see `pairing::identity`).
    pub identity: Option<Box<super::identity::Identity>>,
}

impl Default for SessionRecord {
    fn default() -> Self {
        Self {
            generation: 0,
            status: TvStatus::Idle,
            device: None,
            tokens: None,
            tokens_at_ms: 0,
            return_home_at_ms: None,
            recent_starts_ms: Vec::new(),
            identity: None,
        }
    }
}

impl SessionRecord {
    /// Signed in: when the idle sign-out happens, in Unix ms (the status the TV sees holds it).
    pub fn sign_out_at_ms(&self) -> Option<u64> {
        match self.status {
            TvStatus::SignedIn { sign_out_at_ms, .. } => Some(sign_out_at_ms),
            _ => None,
        }
    }
}

/// A record as read, with the version a write must expect.
#[derive(Clone, Debug)]
pub struct Stored {
    pub version: u64,
    pub record: SessionRecord,
}

/// What a write does to the session's poll lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lease {
    /// Leave the owner as it is.
    Keep,
    /// This replica takes the session over (it runs the session's task from now on).
    Claim,
    /// Nobody needs to work on the session any more.
    Release,
}

/// One compare-and-set write.
pub struct Write<'a> {
    /// The version read; the write fails if the stored one differs.
    pub expected: u64,
    pub record: &'a SessionRecord,
    /// How long the record may live without another write.
    pub ttl: Duration,
    pub lease: Lease,
    /// A session's task writes only while this replica still owns the session under this
    /// epoch; `None` for writes made for a request, which any replica may make.
    pub fence: Option<OwnerEpoch>,
}

/// Which ownership of a session a task holds: bumped by every claim, release and adoption.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OwnerEpoch(pub u64);

/// What a write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved {
    /// Written: the record's new version, and the owner epoch after the write.
    Written { version: u64, epoch: OwnerEpoch },
    /// Someone else wrote first: read again and retry.
    Conflict,
    /// The write was fenced: this replica no longer owns the session under that epoch.
    Fenced,
}

/// A status change made anywhere in the fleet.
#[derive(Clone, Debug)]
pub struct Change {
    pub id: SessionId,
    pub version: u64,
    pub generation: u64,
    /// The new status, sealed with `STORE_KEY` and bound to the session, generation and
    /// version above; opened only by a replica that serves this TV: every replica hears
    /// every change, and most are for TVs it does not hold.
    pub sealed_status: String,
    pub keys: Arc<StoreKeys>,
}

impl Change {
    /// The status, if the message is authentic (sealed with a key of ours, for exactly this
    /// session, generation and version).
    pub fn status(&self) -> Result<TvStatus, StoreError> {
        let context = seal::change_context(self.id.as_str(), self.generation, self.version);
        let plain = self
            .keys
            .open(&context, &self.sealed_status)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

/// What a store tells this replica about other replicas' work.
#[derive(Debug)]
pub enum StoreEvent {
    Changed(Change),
    /// The session moved to a new id: nothing is left under this one, and its streams end.
    Retired(SessionId),
    /// Changes may have been missed (the connection to the store dropped): reload.
    Resync,
}

/// What a lease renewal found.
#[derive(Debug, Default)]
pub struct Heartbeat {
    /// Sessions whose owner is gone and that this replica now owns, with the new epoch.
    pub adopted: Vec<(SessionId, OwnerEpoch)>,
    /// This replica's leases lapsed (the store was out of reach too long): others may have
    /// taken its sessions, so its tasks must stop.
    pub lost: bool,
}

/// The store could not be used (Redis down, or a record that cannot be read).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    #[error("a stored session cannot be read: {0}")]
    Corrupt(String),
}

/// One interface, two implementations: [`memory::MemoryStore`] and [`redis::RedisStore`].
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync + 'static {
    async fn load(&self, id: &SessionId) -> Result<Option<Stored>, StoreError>;

    /// Writes if the version is still `write.expected` (and, for a fenced write, this
    /// replica still owns the session under that epoch). Other replicas hear of the change.
    async fn save(&self, id: &SessionId, write: Write<'_>) -> Result<Saved, StoreError>;

    /// Moves a session to the fresh id `new` in one step: if `old`'s version is still
    /// `write.expected` (0: no record), stores `write.record` under `new` (version 1, seen
    /// now, the lease moved as `write.lease` says) and leaves nothing under `old` (record,
    /// last-seen time, lease). `Conflict` when someone wrote `old` first. Every replica hears
    /// that `old` was retired.
    async fn rotate(
        &self,
        old: &SessionId,
        new: &SessionId,
        write: Write<'_>,
    ) -> Result<Saved, StoreError>;

    /// Marks these sessions as seen now (a TV is looking at them); ids with no record are
    /// skipped.
    async fn touch(&self, ids: &[SessionId]) -> Result<(), StoreError>;

    /// When a TV last looked at this session, in Unix ms.
    async fn last_seen_ms(&self, id: &SessionId) -> Result<Option<u64>, StoreError>;

    /// Renews this replica's leases and adopts sessions whose owner is gone.
    async fn heartbeat(&self) -> Result<Heartbeat, StoreError>;

    /// Whether this replica's leases certainly outlast one provider request started now
    /// (checked before each poll and refresh): no other replica can adopt its sessions
    /// before such a request has ended.
    fn lease_valid(&self) -> bool;

    /// Other replicas' changes; `None` when there can be none (in memory). Taken once.
    fn take_events(&self) -> Option<mpsc::UnboundedReceiver<StoreEvent>>;

    /// Stopping gracefully: hands this replica's sessions to the others at once.
    async fn release(&self);

    /// Whether this store counts new codes per client address for every replica sharing it
    /// (Redis); otherwise each replica counts its own (see `admission`).
    fn counts_addresses(&self) -> bool {
        false
    }

    /// Counts one new code for the client address `key` (see `limits::address_key`): at most
    /// `per_minute` in a burst, refilled at `per_minute` a minute (GCRA). `None` when it is
    /// allowed, else how long until one is. Only called where [`Self::counts_addresses`].
    async fn count_new_code(
        &self,
        _key: std::net::IpAddr,
        _per_minute: u32,
    ) -> Result<Option<std::time::Duration>, StoreError> {
        Ok(None)
    }
}
