//! This replica's view of the sessions it serves: for each, the status its push streams
//! show, how many streams are open, and the task it runs. Sessions with no stream and no task
//! are forgotten, so ids that come and go (made-up cookies, say) leave nothing behind.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use metrics::Gauge;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::SessionId;
use crate::model::TvStatus;

/// The sessions this replica serves a push stream for or runs a task for.
#[derive(Default)]
pub struct LocalSessions {
    map: Mutex<HashMap<SessionId, Arc<LocalSession>>>,
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

    fn lock(&self) -> MutexGuard<'_, LocalState> {
        // Each change under this lock is a few field writes; recover the guard after a panic.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_watched(&self) -> bool {
        self.viewers.load(Ordering::SeqCst) > 0
    }
}

/// Held while a push stream is open; the TV counts as present while any is.
pub struct ViewerGuard {
    session: Arc<LocalSession>,
    /// To forget the session once nothing uses it.
    sessions: Weak<LocalSessions>,
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
        let Some(sessions) = self.sessions.upgrade() else {
            self.session.viewers.fetch_sub(1, Ordering::SeqCst);
            return;
        };
        // Under the map's lock, so no new viewer or task can pick the session up meanwhile.
        let mut map = sessions.map();
        self.session.viewers.fetch_sub(1, Ordering::SeqCst);
        self.session.lock().last_used = Instant::now();
        forget_if_unused(&mut map, &self.id, &self.session);
    }
}

/// Drops this replica's bookkeeping for a session nothing uses any more (no stream, no
/// task). Called with the map locked; viewers and tasks are only added under that lock.
fn forget_if_unused(
    map: &mut HashMap<SessionId, Arc<LocalSession>>,
    id: &SessionId,
    session: &Arc<LocalSession>,
) {
    let unused = !session.is_watched() && session.lock().task.is_none();
    if unused && map.get(id).is_some_and(|held| Arc::ptr_eq(held, session)) {
        map.remove(id);
    }
}

impl LocalSessions {
    fn map(&self) -> MutexGuard<'_, HashMap<SessionId, Arc<LocalSession>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// This replica's view of a session (made if there is none), changed by `join` under
    /// the map's lock: viewers and tasks join that way, so a session is never forgotten
    /// while one is joining.
    fn join(&self, id: &SessionId, join: impl FnOnce(&LocalSession)) -> Arc<LocalSession> {
        let mut map = self.map();
        let session = map
            .entry(id.clone())
            .or_insert_with(|| Arc::new(LocalSession::new()))
            .clone();
        session.lock().last_used = Instant::now();
        join(&session);
        session
    }

    /// Opens a view of a session's status for a push stream. The stream is registered
    /// before the caller reads the current state, so no change made meanwhile is missed.
    pub fn watch(
        self: &Arc<Self>,
        id: &SessionId,
        connections: Gauge,
    ) -> (watch::Receiver<TvStatus>, ViewerGuard) {
        let session = self.join(id, |session| {
            session.viewers.fetch_add(1, Ordering::SeqCst);
        });
        connections.increment(1.0);
        let receiver = session.status.subscribe();
        let guard = ViewerGuard {
            session,
            sessions: Arc::downgrade(self),
            id: id.clone(),
            connections,
        };
        (receiver, guard)
    }

    /// Records `cancel` as the session's task for `generation`, cancelling any older one.
    pub fn start_task(&self, id: &SessionId, generation: u64, cancel: CancellationToken) {
        self.join(id, |session| {
            if let Some((_, old)) = session.lock().task.replace((generation, cancel)) {
                old.cancel();
            }
        });
    }

    /// The task for `generation` has ended. Looked up, not made again: a session that moved
    /// to a new id stays gone.
    pub fn task_ended(&self, id: &SessionId, generation: u64) {
        let mut map = self.map();
        if let Some(session) = map.get(id).cloned() {
            {
                let mut state = session.lock();
                if state.task.as_ref().is_some_and(|(g, _)| *g == generation) {
                    state.task = None;
                }
            }
            forget_if_unused(&mut map, id, &session);
        }
    }

    /// Shows a change on this replica's streams (if newer than what they show) and stops a
    /// local task that works for an older generation.
    pub fn apply(&self, id: &SessionId, version: u64, generation: u64, status: TvStatus) {
        let Some(session) = self.map().get(id).cloned() else {
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

    /// The session left `id` for a new id: this replica's streams for `id` end and its task
    /// stops; whoever asks for `id` again starts from nothing.
    pub fn retire(&self, id: &SessionId) {
        let removed = self.map().remove(id);
        if let Some(session) = removed {
            if let Some((_, task)) = session.lock().task.take() {
                task.cancel();
            }
            session.retired.cancel();
        }
    }

    /// Stops every task (this replica's leases lapsed).
    pub fn stop_tasks(&self) {
        for session in self.map().values() {
            if let Some((_, task)) = session.lock().task.take() {
                task.cancel();
            }
        }
    }

    /// Forgets sessions with no stream and no task that nobody used for `unused_for`.
    pub fn forget_unused(&self, unused_for: Duration) {
        self.map().retain(|_, s| {
            s.is_watched() || {
                let state = s.lock();
                state.task.is_some() || state.last_used.elapsed() < unused_for
            }
        });
    }

    /// The sessions a TV is watching now (an open push stream).
    pub fn watched(&self) -> Vec<SessionId> {
        self.map()
            .iter()
            .filter(|(_, s)| s.is_watched())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Whether this replica holds the session.
    pub fn holds(&self, id: &SessionId) -> bool {
        self.map().contains_key(id)
    }

    /// The sessions this replica holds.
    pub fn ids(&self) -> Vec<SessionId> {
        self.map().keys().cloned().collect()
    }

    /// How many sessions this replica holds.
    pub fn len(&self) -> usize {
        self.map().len()
    }
}
