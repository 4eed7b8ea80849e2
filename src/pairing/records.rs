//! The one way records change: read, change, compare-and-set, retried when another writer
//! got there first; optionally fenced (a task writes only while its replica owns the session
//! under its epoch) and optionally moving the record to a fresh session id. Every write is
//! shown at once on this replica's streams, and lives as long as its status needs.

use std::sync::Arc;
use std::time::Duration;

use super::sessions::LocalSessions;
use super::store::{Clock, Lease, OwnerEpoch, Saved, SessionRecord, SessionStore, StoreError};
use super::store::{Stored, Write};
use super::SessionId;
use crate::model::TvStatus;

/// Records nobody needs expire after this long without a write.
const KEEP_IDLE: Duration = Duration::from_secs(15 * 60);
/// Extra life for a record past its last deadline.
const KEEP_AFTER_DEADLINE: Duration = Duration::from_secs(60);
/// How many times a write is retried when another writer got there first.
const WRITE_ATTEMPTS: usize = 16;

/// What a change to a record does.
pub enum Edit<T> {
    /// Write the changed record, and do this to the lease.
    Write(T, Lease),
    /// Nothing to write.
    Skip(T),
}

/// Where a written record goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// It stays under its id.
    Stay,
    /// It moves to a fresh id, leaving nothing under the old one (see the module notes on
    /// fixation in `pairing`).
    Move,
}

/// A write that happened.
#[derive(Debug)]
pub struct Landed {
    /// The owner epoch after the write.
    pub epoch: OwnerEpoch,
    /// The id the record moved to, for a [`Place::Move`].
    pub moved_to: Option<SessionId>,
}

/// The sessions' records in the store, and the streams on this replica that show them.
pub struct Records {
    store: Arc<dyn SessionStore>,
    local: Arc<LocalSessions>,
    clock: Arc<dyn Clock>,
    /// How long an outcome screen stays (`EXPIRED_RETURN_HOME_SECS`): part of a TTL.
    outcome_shown: Duration,
}

impl Records {
    pub fn new(
        store: Arc<dyn SessionStore>,
        local: Arc<LocalSessions>,
        clock: Arc<dyn Clock>,
        outcome_shown: Duration,
    ) -> Self {
        Self {
            store,
            local,
            clock,
            outcome_shown,
        }
    }

    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    pub fn local(&self) -> &Arc<LocalSessions> {
        &self.local
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    pub async fn load(&self, id: &SessionId) -> Result<Option<Stored>, StoreError> {
        self.store.load(id).await
    }

    /// Reads, changes and writes a record, retrying when another writer got there first.
    /// With a `fence`, writes only while this replica owns the session under that epoch;
    /// `None` when it no longer does. Else the change's result, and what was written
    /// (`None` when the change skipped).
    pub async fn write<T>(
        &self,
        id: &SessionId,
        fence: Option<OwnerEpoch>,
        place: Place,
        mut change: impl FnMut(&mut SessionRecord) -> Edit<T>,
    ) -> Result<Option<(T, Option<Landed>)>, StoreError> {
        for _ in 0..WRITE_ATTEMPTS {
            let stored = self.store.load(id).await?;
            let (expected, mut record) =
                stored.map_or((0, SessionRecord::default()), |s| (s.version, s.record));
            let (out, lease) = match change(&mut record) {
                Edit::Skip(out) => return Ok(Some((out, None))),
                Edit::Write(out, lease) => (out, lease),
            };
            let write = Write {
                expected,
                record: &record,
                ttl: self.ttl(&record),
                lease,
                fence,
            };
            let moved_to = (place == Place::Move).then(SessionId::generate);
            let saved = match &moved_to {
                None => self.store.save(id, write).await?,
                Some(new) => self.store.rotate(id, new, write).await?,
            };
            match saved {
                Saved::Written { version, epoch } => {
                    let shown = match &moved_to {
                        None => id,
                        Some(new) => {
                            self.local.retire(id);
                            new
                        }
                    };
                    self.local
                        .apply(shown, version, record.generation, record.status);
                    return Ok(Some((out, Some(Landed { epoch, moved_to }))));
                }
                Saved::Conflict => {}
                Saved::Fenced => return Ok(None),
            }
        }
        Err(StoreError::Unavailable(
            "too many concurrent writes to one session".into(),
        ))
    }

    /// A write made for a request (any replica may make it).
    pub async fn update<T>(
        &self,
        id: &SessionId,
        place: Place,
        change: impl FnMut(&mut SessionRecord) -> Edit<T>,
    ) -> Result<(T, Option<Landed>), StoreError> {
        self.write(id, None, place, change)
            .await?
            .ok_or_else(|| StoreError::Unavailable("an unfenced write was fenced".into()))
    }

    /// How long a record lives without another write: past its last deadline, and never
    /// longer than needed.
    fn ttl(&self, record: &SessionRecord) -> Duration {
        let now = self.clock.now_ms();
        let until = |at_ms: u64| Duration::from_millis(at_ms.saturating_sub(now));
        let needed = match &record.status {
            TvStatus::Idle | TvStatus::Starting | TvStatus::Unreachable { pairing: None } => {
                KEEP_IDLE
            }
            TvStatus::Waiting { .. } | TvStatus::Unreachable { .. } => record
                .device
                .as_ref()
                .map_or(KEEP_IDLE, |d| until(d.expires_at_ms) + self.outcome_shown),
            TvStatus::Denied | TvStatus::Expired | TvStatus::Throttled { .. } => {
                record.return_home_at_ms.map_or(KEEP_IDLE, until)
            }
            TvStatus::SignedIn { sign_out_at_ms, .. } => until(*sign_out_at_ms),
        };
        needed + KEEP_AFTER_DEADLINE
    }

    /// Marks the session as seen (any request from the TV counts).
    pub async fn seen(&self, id: &SessionId) {
        if let Err(error) = self.store.touch(std::slice::from_ref(id)).await {
            tracing::warn!(%error, "cannot mark the TV as present");
        }
    }

    /// Runs `work` while marking the TV as present: with Redis the two go out together, one
    /// round trip instead of two.
    pub async fn seen_while<T>(
        &self,
        id: &SessionId,
        work: impl std::future::Future<Output = T>,
    ) -> T {
        let ((), out) = tokio::join!(self.seen(id), work);
        out
    }

    /// Reloads a session and shows it on this replica's streams.
    pub async fn reload(&self, id: &SessionId) -> Result<Option<Stored>, StoreError> {
        let stored = self.store.load(id).await?;
        if let Some(stored) = &stored {
            self.local.apply(
                id,
                stored.version,
                stored.record.generation,
                stored.record.status.clone(),
            );
        }
        Ok(stored)
    }
}
