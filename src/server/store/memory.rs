//! The in-memory session store: the default, nothing to install. One process holds every
//! session; records expire by their TTL like they would in Redis, and owner epochs fence a
//! superseded task's writes the same way.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{
    now_ms, Heartbeat, Lease, OwnerEpoch, Saved, SessionStore, StoreError, StoreEvent, Stored,
    Write,
};
use crate::server::session::SessionId;

/// How often expired records are swept out (on the heartbeat).
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Last-seen times older than this are forgotten.
const FORGET_SEEN_AFTER: Duration = Duration::from_secs(60 * 60);

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    records: HashMap<SessionId, Entry>,
    seen: HashMap<SessionId, u64>,
    last_sweep: Option<Instant>,
}

struct Entry {
    stored: Stored,
    expires: Instant,
    /// Whether a task owns the session, and under which epoch.
    owned: bool,
    epoch: OwnerEpoch,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every change below is a single insert or remove; a panic elsewhere cannot leave
        // the map half-written, so recover the guard.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl SessionStore for MemoryStore {
    async fn load(&self, id: &SessionId) -> Result<Option<Stored>, StoreError> {
        let now = Instant::now();
        Ok(self
            .inner()
            .records
            .get(id)
            .filter(|e| e.expires > now)
            .map(|e| e.stored.clone()))
    }

    async fn save(&self, id: &SessionId, write: Write<'_>) -> Result<Saved, StoreError> {
        let now = Instant::now();
        let mut inner = self.inner();
        let (current, owned, epoch) = inner
            .records
            .get(id)
            .filter(|e| e.expires > now)
            .map_or((0, false, OwnerEpoch(0)), |e| {
                (e.stored.version, e.owned, e.epoch)
            });
        if write.fence.is_some_and(|fence| !owned || fence != epoch) {
            return Ok(Saved::Fenced);
        }
        if current != write.expected {
            return Ok(Saved::Conflict);
        }
        let (owned, epoch) = match write.lease {
            Lease::Keep => (owned, epoch),
            Lease::Claim => (true, OwnerEpoch(epoch.0 + 1)),
            Lease::Release => (false, OwnerEpoch(epoch.0 + 1)),
        };
        let version = current + 1;
        inner.records.insert(
            id.clone(),
            Entry {
                stored: Stored {
                    version,
                    record: write.record.clone(),
                },
                expires: now + write.ttl,
                owned,
                epoch,
            },
        );
        Ok(Saved::Written { version, epoch })
    }

    async fn touch(&self, ids: &[SessionId]) -> Result<(), StoreError> {
        let now = now_ms();
        let mut inner = self.inner();
        for id in ids {
            inner.seen.insert(id.clone(), now);
        }
        Ok(())
    }

    async fn last_seen_ms(&self, id: &SessionId) -> Result<Option<u64>, StoreError> {
        Ok(self.inner().seen.get(id).copied())
    }

    async fn heartbeat(&self) -> Result<Heartbeat, StoreError> {
        let now = Instant::now();
        let mut inner = self.inner();
        if inner
            .last_sweep
            .is_none_or(|at| now.duration_since(at) >= SWEEP_EVERY)
        {
            inner.last_sweep = Some(now);
            inner.records.retain(|_, e| e.expires > now);
            let oldest = now_ms().saturating_sub(FORGET_SEEN_AFTER.as_millis() as u64);
            inner.seen.retain(|_, at| *at >= oldest);
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
    use super::super::{Lease, SessionRecord};
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
    async fn last_seen() {
        let store = MemoryStore::new();
        assert_eq!(store.last_seen_ms(&id(1)).await.unwrap(), None);
        let before = now_ms();
        store.touch(&[id(1)]).await.unwrap();
        assert!(store.last_seen_ms(&id(1)).await.unwrap().unwrap() >= before);
    }
}
