//! Polls and refreshes in flight: each is sent only under a lease that outlasts it, runs to
//! its end even if the task that sent it is cancelled (tokens nobody takes are revoked), and
//! is counted until what it brought is stored, so a replica that stops can wait for them all
//! before it hands its sessions over. The provider thus never has requests for one session
//! from two replicas at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::RwLock;
use tracing::Instrument;

use super::provider::{self, Provider};
use super::store::SessionStore;
use crate::metrics::Metrics;
use crate::oidc::token::TokenSet;

/// A stopping replica waits this long past the provider request timeout for its polls and
/// refreshes to end (a refresh may be followed by a store write or a revocation); after that
/// it leaves its lease to lapse instead of handing it over.
const DRAIN_SLACK: Duration = Duration::from_secs(5);

/// Held from the moment a poll or refresh is sent until what it brought has been stored or
/// given up: a stopping replica waits for every one before it hands its sessions over.
pub struct InFlight {
    _guard: tokio::sync::OwnedRwLockReadGuard<()>,
}

/// Sends this replica's lease-bound provider requests, and waits for them when it stops.
#[derive(Clone)]
pub struct Calls {
    /// Read-held by every call in flight; written once, by a graceful stop, to wait for them.
    gate: Arc<RwLock<()>>,
    store: Arc<dyn SessionStore>,
    provider: Arc<dyn Provider>,
    metrics: Metrics,
}

impl Calls {
    pub fn new(
        store: Arc<dyn SessionStore>,
        provider: Arc<dyn Provider>,
        metrics: Metrics,
    ) -> Self {
        Self {
            gate: Arc::new(RwLock::new(())),
            store,
            provider,
            metrics,
        }
    }

    /// Sends a poll or refresh for a session this replica owns, if its lease outlasts the
    /// request (`None` if not). The request runs to its end even if the asking task is
    /// cancelled meanwhile; tokens it brings that nobody takes are revoked. The answer comes
    /// with an [`InFlight`] to hold until it is stored.
    pub async fn send<E: Send + 'static>(
        &self,
        call: impl std::future::Future<Output = Result<TokenSet, E>> + Send + 'static,
    ) -> Option<(Result<TokenSet, E>, InFlight)> {
        let guard = self.gate.clone().read_owned().await;
        // Checked after the guard is held: a stopping replica gives its lease up only once
        // it holds the lock for writing, so a call that gets here after that sees no lease.
        if !self.store.lease_valid() {
            return None;
        }
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let (provider, metrics) = (self.provider.clone(), self.metrics.clone());
        tokio::spawn(
            async move {
                let answer = call.await;
                if let Err((Ok(tokens), _guard)) = sender.send((answer, InFlight { _guard: guard }))
                {
                    tracing::info!("tokens arrived for a task that has stopped; revoking them");
                    provider::revoke(provider.as_ref(), &metrics, tokens).await;
                }
            }
            .in_current_span(),
        );
        receiver.await.ok()
    }

    /// Waits until every call in flight has ended and what it brought is stored, and returns
    /// the guard that keeps new ones from starting: give the lease up while it is held, and a
    /// call that starts after it sees no lease. `None` if that takes longer than a request
    /// could (then leave the lease to lapse, which is just as safe, only slower).
    pub async fn drain(&self) -> Option<tokio::sync::RwLockWriteGuard<'_, ()>> {
        let limit = self.provider.request_timeout() + DRAIN_SLACK;
        let drained = tokio::time::timeout(limit, self.gate.write()).await;
        if drained.is_err() {
            tracing::warn!(
                "provider requests still running {limit:?} after the stop; this replica's \
                 sessions go to the others when its lease lapses"
            );
        }
        drained.ok()
    }
}
