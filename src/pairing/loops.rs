//! The hub's background loops: the heartbeat (renews this replica's leases every second,
//! resumes the sessions it adopts from a replica that stopped, stops every task if its own
//! leases lapsed), presence (marks sessions with an open stream as seen, forgets what nobody
//! needs) and the listener (shows other replicas' changes here). They end with the hub, or
//! when the server shuts down.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::admission::Admission;
use super::records::Records;
use super::store::{OwnerEpoch, StoreEvent};
use super::task::{Tasks, Turn};
use super::SessionId;

/// How often the leases are renewed.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// Local bookkeeping for a session with no stream and no task is dropped after this long.
const FORGET_LOCAL_AFTER: Duration = Duration::from_secs(2 * 60);
/// How often the presence loop looks for bookkeeping to forget.
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// What the loops work on. The hub holds the only strong reference: once it is gone, the
/// loops end.
pub struct Upkeep {
    pub records: Arc<Records>,
    pub tasks: Tasks,
    pub admission: Arc<Admission>,
    /// How often present TVs are marked as seen (a quarter of `ABANDON_AFTER_SECS`).
    pub presence_every: Duration,
}

impl Upkeep {
    /// Starts the loops.
    pub fn spawn(
        self: &Arc<Self>,
        shutdown: &CancellationToken,
        events: Option<UnboundedReceiver<StoreEvent>>,
    ) {
        spawn_heartbeat(Arc::downgrade(self), shutdown.clone());
        spawn_presence(Arc::downgrade(self), shutdown.clone());
        if let Some(events) = events {
            spawn_listener(Arc::downgrade(self), events);
        }
    }

    /// Starts the task for a session this replica just adopted. Adopted pairings start at
    /// a random point within their interval, so taking over thousands at once does not poll
    /// the provider in one burst (waiting longer than the interval is always allowed).
    async fn resume(&self, id: &SessionId, epoch: OwnerEpoch) {
        match self.records.reload(id).await {
            Ok(Some(stored)) => {
                let record = stored.record;
                let spread = record
                    .device
                    .as_ref()
                    .map_or(Duration::ZERO, |d| d.interval);
                // An adopted pairing runs on, even on a full server.
                let slot = record
                    .status
                    .is_busy()
                    .then(|| self.admission.slots().take_anyway());
                let turn = Turn {
                    generation: record.generation,
                    epoch,
                };
                self.tasks.spawn(id, turn, random_below(spread), slot);
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "cannot load an adopted session"),
        }
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

/// Ticks every `every` until shutdown or until the hub is gone, handing out the upkeep.
async fn tick(
    ticker: &mut tokio::time::Interval,
    shutdown: &CancellationToken,
    weak: &Weak<Upkeep>,
) -> Option<Arc<Upkeep>> {
    tokio::select! {
        _ = shutdown.cancelled() => return None,
        _ = ticker.tick() => {}
    }
    weak.upgrade()
}

fn interval(every: Duration) -> tokio::time::Interval {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker
}

/// Renews the leases every second; runs the sessions adopted from a replica that stopped,
/// and stops every local task if this replica's own leases lapsed.
fn spawn_heartbeat(weak: Weak<Upkeep>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut ticker = interval(HEARTBEAT_EVERY);
        while let Some(upkeep) = tick(&mut ticker, &shutdown, &weak).await {
            match upkeep.records.store().heartbeat().await {
                Ok(beat) => {
                    if beat.lost {
                        upkeep.records.local().stop_tasks();
                    }
                    if !beat.adopted.is_empty() {
                        tracing::info!(
                            count = beat.adopted.len(),
                            "adopted sessions from a replica that stopped"
                        );
                    }
                    for (id, epoch) in beat.adopted {
                        upkeep.resume(&id, epoch).await;
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot renew the leases"),
            }
        }
    });
}

/// Marks sessions with an open stream as seen, often enough that a present TV never looks
/// gone; forgets local bookkeeping nobody needs.
fn spawn_presence(weak: Weak<Upkeep>, shutdown: CancellationToken) {
    let Some(every) = weak.upgrade().map(|upkeep| upkeep.presence_every) else {
        return;
    };
    tokio::spawn(async move {
        let mut ticker = interval(every);
        let mut last_forget = Instant::now();
        while let Some(upkeep) = tick(&mut ticker, &shutdown, &weak).await {
            let local = upkeep.records.local();
            if last_forget.elapsed() >= FORGET_EVERY {
                last_forget = Instant::now();
                local.forget_unused(FORGET_LOCAL_AFTER);
                upkeep.admission.forget_idle_addresses();
            }
            let watched = local.watched();
            if let Err(error) = upkeep.records.store().touch(&watched).await {
                tracing::warn!(%error, "cannot mark TVs as present");
            }
        }
    });
}

/// Applies other replicas' changes to this replica's streams and tasks.
fn spawn_listener(weak: Weak<Upkeep>, mut events: UnboundedReceiver<StoreEvent>) {
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let Some(upkeep) = weak.upgrade() else { return };
            let local = upkeep.records.local();
            match event {
                StoreEvent::Retired(id) => local.retire(&id),
                StoreEvent::Changed(change) => {
                    if !local.holds(&change.id) {
                        continue;
                    }
                    match change.status() {
                        Ok(status) => {
                            local.apply(&change.id, change.version, change.generation, status)
                        }
                        Err(error) => tracing::warn!(
                            %error,
                            "ignoring a change message that does not open with STORE_KEY \
                             (altered or forged, or sealed with a key this replica lacks)"
                        ),
                    }
                }
                StoreEvent::Resync => {
                    for id in local.ids() {
                        // Best effort: the next change or resync brings what this misses.
                        let _ = upkeep.records.reload(&id).await;
                    }
                }
            }
        }
    });
}
