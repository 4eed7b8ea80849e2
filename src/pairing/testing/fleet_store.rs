//! A memory store whose heartbeat and lease a test decides, like one replica of a fleet.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::pairing::store::memory::MemoryStore;
use crate::pairing::store::{
    Clock, Heartbeat, OwnerEpoch, Saved, SessionStore, StoreError, StoreEvent, Stored, Write,
};
use crate::pairing::SessionId;

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
