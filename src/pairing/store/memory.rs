//! The in-memory session store: the default, nothing to install. One process holds every
//! session; records expire by their TTL like they would in Redis, owner epochs fence a
//! superseded task's writes the same way, and a session's last-seen time lives in its entry,
//! so it goes with the record. Every time it keeps comes from its [`Clock`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::{
    Clock, Heartbeat, Lease, OwnerEpoch, Saved, SessionStore, StoreError, StoreEvent, Stored,
    WallClock, Write,
};
use crate::pairing::SessionId;

/// How often expired records are swept out (on the heartbeat).
const SWEEP_EVERY: Duration = Duration::from_secs(60);

pub struct MemoryStore {
    inner: Mutex<Inner>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Default)]
struct Inner {
    records: HashMap<SessionId, Entry>,
    /// When expired records were last swept out, in Unix ms.
    last_sweep_ms: Option<u64>,
}

struct Entry {
    stored: Stored,
    /// When the record expires, in Unix ms.
    expires_ms: u64,
    /// Whether a task owns the session, and under which epoch.
    owned: bool,
    epoch: OwnerEpoch,
    /// When a TV last looked at this session, in Unix ms.
    seen_ms: Option<u64>,
}

/// What the store holds, for tests and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Held {
    /// Records, expired ones not yet swept included.
    pub records: usize,
    /// Records with a last-seen time.
    pub seen: usize,
}

impl MemoryStore {
    /// A store on the system's clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(WallClock))
    }

    /// A store on `clock` (tests pass one that follows tokio's paused time).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            clock,
        }
    }

    /// How much the store holds now.
    pub fn held(&self) -> Held {
        let inner = self.inner();
        Held {
            records: inner.records.len(),
            seen: inner
                .records
                .values()
                .filter(|e| e.seen_ms.is_some())
                .count(),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every change below is a single insert or remove; a panic elsewhere cannot leave
        // the map half-written, so recover the guard.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The time a TTL from `now_ms` runs out, in Unix ms.
fn expiry(now_ms: u64, ttl: Duration) -> u64 {
    now_ms.saturating_add(ttl.as_millis() as u64)
}

/// Ownership after a write with `lease`: a claim or a release starts a new epoch (fencing
/// out the task of the one before), as the Redis scripts do.
fn after_lease(lease: Lease, owned: bool, epoch: OwnerEpoch) -> (bool, OwnerEpoch) {
    match lease {
        Lease::Keep => (owned, epoch),
        Lease::Claim => (true, OwnerEpoch(epoch.0 + 1)),
        Lease::Release => (false, OwnerEpoch(epoch.0 + 1)),
    }
}

#[async_trait::async_trait]
impl SessionStore for MemoryStore {
    async fn load(&self, id: &SessionId) -> Result<Option<Stored>, StoreError> {
        let now = self.clock.now_ms();
        Ok(self
            .inner()
            .records
            .get(id)
            .filter(|e| e.expires_ms > now)
            .map(|e| e.stored.clone()))
    }

    async fn save(&self, id: &SessionId, write: Write<'_>) -> Result<Saved, StoreError> {
        let now = self.clock.now_ms();
        let mut inner = self.inner();
        let (current, owned, epoch, seen_ms) = inner
            .records
            .get(id)
            .filter(|e| e.expires_ms > now)
            .map_or((0, false, OwnerEpoch(0), None), |e| {
                (e.stored.version, e.owned, e.epoch, e.seen_ms)
            });
        if write.fence.is_some_and(|fence| !owned || fence != epoch) {
            return Ok(Saved::Fenced);
        }
        if current != write.expected {
            return Ok(Saved::Conflict);
        }
        let (owned, epoch) = after_lease(write.lease, owned, epoch);
        let version = current + 1;
        inner.records.insert(
            id.clone(),
            Entry {
                stored: Stored {
                    version,
                    record: write.record.clone(),
                },
                expires_ms: expiry(now, write.ttl),
                owned,
                epoch,
                seen_ms,
            },
        );
        Ok(Saved::Written { version, epoch })
    }

    async fn rotate(
        &self,
        old: &SessionId,
        new: &SessionId,
        write: Write<'_>,
    ) -> Result<Saved, StoreError> {
        let now = self.clock.now_ms();
        let mut inner = self.inner();
        let (current, owned, epoch) = inner
            .records
            .get(old)
            .filter(|e| e.expires_ms > now)
            .map_or((0, false, OwnerEpoch::default()), |e| {
                (e.stored.version, e.owned, e.epoch)
            });
        if current != write.expected {
            return Ok(Saved::Conflict);
        }
        let (owned, epoch) = after_lease(write.lease, owned, epoch);
        inner.records.remove(old);
        inner.records.insert(
            new.clone(),
            Entry {
                stored: Stored {
                    version: 1,
                    record: write.record.clone(),
                },
                expires_ms: expiry(now, write.ttl),
                owned,
                epoch,
                seen_ms: Some(now),
            },
        );
        Ok(Saved::Written { version: 1, epoch })
    }

    async fn touch(&self, ids: &[SessionId]) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        let mut inner = self.inner();
        for id in ids {
            if let Some(entry) = inner.records.get_mut(id).filter(|e| e.expires_ms > now) {
                entry.seen_ms = Some(now);
            }
        }
        Ok(())
    }

    async fn last_seen_ms(&self, id: &SessionId) -> Result<Option<u64>, StoreError> {
        let now = self.clock.now_ms();
        Ok(self
            .inner()
            .records
            .get(id)
            .filter(|e| e.expires_ms > now)
            .and_then(|e| e.seen_ms))
    }

    async fn heartbeat(&self) -> Result<Heartbeat, StoreError> {
        let now = self.clock.now_ms();
        let mut inner = self.inner();
        if inner
            .last_sweep_ms
            .is_none_or(|at| now.saturating_sub(at) >= SWEEP_EVERY.as_millis() as u64)
        {
            inner.last_sweep_ms = Some(now);
            inner.records.retain(|_, e| e.expires_ms > now);
        }
        // One process owns everything: there is nobody to adopt from.
        Ok(Heartbeat::default())
    }

    fn lease_valid(&self) -> bool {
        true
    }

    fn take_events(&self) -> Option<mpsc::UnboundedReceiver<StoreEvent>> {
        None
    }

    async fn release(&self) {}
}

#[cfg(test)]
mod tests {
    use super::super::{now_ms, Lease, SessionRecord};
    use super::*;

    fn id(n: u8) -> SessionId {
        SessionId::parse(&format!("{n:032x}")).unwrap()
    }

    fn write(expected: u64, record: &SessionRecord, ttl: Duration) -> Write<'_> {
        Write {
            expected,
            record,
            ttl,
            lease: Lease::Keep,
            fence: None,
        }
    }

    fn version(saved: Saved) -> Option<u64> {
        match saved {
            Saved::Written { version, .. } => Some(version),
            _ => None,
        }
    }

    #[tokio::test]
    async fn compare_and_set_on_the_version() {
        let store = MemoryStore::new();
        let record = SessionRecord {
            generation: 3,
            ..SessionRecord::default()
        };
        let ttl = Duration::from_secs(60);
        assert!(store.load(&id(1)).await.unwrap().is_none());
        assert_eq!(
            version(store.save(&id(1), write(0, &record, ttl)).await.unwrap()),
            Some(1)
        );
        // A writer that read nothing (or an old version) loses.
        assert_eq!(
            store.save(&id(1), write(0, &record, ttl)).await.unwrap(),
            Saved::Conflict
        );
        assert_eq!(
            version(store.save(&id(1), write(1, &record, ttl)).await.unwrap()),
            Some(2)
        );
        let stored = store.load(&id(1)).await.unwrap().unwrap();
        assert_eq!((stored.version, stored.record.generation), (2, 3));
        assert!(store.load(&id(2)).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn records_expire_by_their_ttl() {
        let store = MemoryStore::new();
        let record = SessionRecord::default();
        store
            .save(&id(1), write(0, &record, Duration::from_millis(1)))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(store.load(&id(1)).await.unwrap().is_none());
        // An expired record counts as absent for the next writer.
        assert_eq!(
            version(
                store
                    .save(&id(1), write(0, &record, Duration::from_secs(1)))
                    .await
                    .unwrap()
            ),
            Some(1)
        );
    }

    #[tokio::test]
    async fn a_replaced_owner_is_fenced_out() {
        let store = MemoryStore::new();
        let record = SessionRecord::default();
        let ttl = Duration::from_secs(60);
        let claim = |expected| Write {
            lease: Lease::Claim,
            ..write(expected, &record, ttl)
        };
        let fenced = |expected, epoch| Write {
            fence: Some(epoch),
            ..write(expected, &record, ttl)
        };
        let Saved::Written { epoch: first, .. } = store.save(&id(1), claim(0)).await.unwrap()
        else {
            panic!("the first claim was not written")
        };
        assert!(matches!(
            store.save(&id(1), fenced(1, first)).await.unwrap(),
            Saved::Written { version: 2, .. }
        ));
        // Claimed again (a new code): the first owner's writes are refused, not retried.
        let Saved::Written { epoch: second, .. } = store.save(&id(1), claim(2)).await.unwrap()
        else {
            panic!("the second claim was not written")
        };
        assert_ne!(first, second);
        assert_eq!(
            store.save(&id(1), fenced(3, first)).await.unwrap(),
            Saved::Fenced
        );
        assert!(matches!(
            store.save(&id(1), fenced(3, second)).await.unwrap(),
            Saved::Written { version: 4, .. }
        ));
        // Released: nobody's task may write any more; a request still may.
        let release = Write {
            lease: Lease::Release,
            ..write(4, &record, ttl)
        };
        store.save(&id(1), release).await.unwrap();
        assert_eq!(
            store.save(&id(1), fenced(5, second)).await.unwrap(),
            Saved::Fenced
        );
        assert!(matches!(
            store.save(&id(1), write(5, &record, ttl)).await.unwrap(),
            Saved::Written { version: 6, .. }
        ));
    }

    #[tokio::test]
    async fn last_seen_only_for_stored_sessions() {
        let store = MemoryStore::new();
        store.touch(&[id(1), id(2)]).await.unwrap();
        assert_eq!(store.last_seen_ms(&id(1)).await.unwrap(), None);
        assert_eq!(
            store.held(),
            Held::default(),
            "nothing kept for unknown ids"
        );
        let record = SessionRecord::default();
        store
            .save(&id(1), write(0, &record, Duration::from_secs(60)))
            .await
            .unwrap();
        let before = now_ms();
        store.touch(&[id(1), id(2)]).await.unwrap();
        assert!(store.last_seen_ms(&id(1)).await.unwrap().unwrap() >= before);
        assert_eq!(
            store.held(),
            Held {
                records: 1,
                seen: 1
            }
        );
        // A later write keeps it.
        store
            .save(&id(1), write(1, &record, Duration::from_secs(60)))
            .await
            .unwrap();
        assert!(store.last_seen_ms(&id(1)).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn rotate_moves_the_record_and_leaves_nothing_behind() {
        let store = MemoryStore::new();
        let record = SessionRecord {
            generation: 5,
            ..SessionRecord::default()
        };
        let ttl = Duration::from_secs(60);
        store.save(&id(1), write(0, &record, ttl)).await.unwrap();
        store.touch(&[id(1)]).await.unwrap();
        // A writer that read an old version loses.
        assert_eq!(
            store
                .rotate(&id(1), &id(2), write(0, &record, ttl))
                .await
                .unwrap(),
            Saved::Conflict
        );
        assert_eq!(
            store
                .rotate(&id(1), &id(2), write(1, &record, ttl))
                .await
                .unwrap(),
            Saved::Written {
                version: 1,
                epoch: OwnerEpoch::default()
            }
        );
        assert!(store.load(&id(1)).await.unwrap().is_none());
        assert_eq!(store.last_seen_ms(&id(1)).await.unwrap(), None);
        let moved = store.load(&id(2)).await.unwrap().unwrap();
        assert_eq!((moved.version, moved.record.generation), (1, 5));
        assert!(
            store.last_seen_ms(&id(2)).await.unwrap().is_some(),
            "seen now"
        );
        // From no record at all.
        assert!(matches!(
            store
                .rotate(&id(3), &id(4), write(0, &record, ttl))
                .await
                .unwrap(),
            Saved::Written { version: 1, .. }
        ));
        assert_eq!(store.held().records, 2);
    }
}
