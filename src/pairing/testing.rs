//! Test support for the pairing core: a scripted provider (`scripted`), a store whose
//! heartbeat a test can script (`fleet_store`), a wall clock that follows tokio's paused
//! time, and a rig that runs a whole hub on them.

mod fleet_store;
mod scripted;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::store::memory::MemoryStore;
use super::store::{Clock, SessionRecord, SessionStore};
use super::{Hub, SessionId};
use crate::model::TvStatus;
use crate::oidc::polling::TokioTimer;
use crate::oidc::userinfo::ClaimSelection;
use crate::settings::KioskSettings;

pub use self::fleet_store::FleetStore;
pub use self::scripted::{code, oauth, tokens, unreachable, Call, Method, Scripted};

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

/// The kiosk settings' defaults.
pub fn kiosk() -> KioskSettings {
    KioskSettings {
        idle_sign_out: S(600),
        sign_out_warning: S(60),
        expired_return_home: S(180),
        abandon_after: S(20),
        pairings_per_minute: 10,
        show_claims: ClaimSelection::default(),
        identity_claims: Default::default(),
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
