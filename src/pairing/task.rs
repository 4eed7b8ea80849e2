//! The work for one session, on the replica that owns it: a thin loop that performs the
//! steps `lifecycle` decides (store reads and writes, provider requests, sleeps, revocations)
//! and tells it what came of each. Every write is conditional on the task's turn (its
//! generation, and this replica's ownership under its epoch), so a superseded task, or one
//! whose session another replica adopted, changes nothing.
//!
//! Only sleeps and polls give way to cancellation: tokens a request brought are always
//! stored or revoked, never dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::code_tag::CodeTagger;
use super::in_flight::{Calls, InFlight};
use super::lifecycle::{Action, Change, Event, Lifecycle, Now, Report, Step, Written};
use super::provider::{self, Provider};
use super::records::{Edit, Place, Records};
use super::slots::PairingSlot;
use super::store::{Lease, OwnerEpoch, SessionRecord, StoreError};
use super::SessionId;
use crate::metrics::{Metrics, PairingEnd};
use crate::oidc::polling::{self, Timer};
use crate::oidc::secret::DeviceCode;
use crate::oidc::token::TokenSet;
use crate::settings::KioskSettings;

/// The run of a session a task is: the record generation it works for, and the owner epoch
/// under which this replica runs it. Every write the task makes is conditional on both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Turn {
    pub generation: u64,
    pub epoch: OwnerEpoch,
}

/// What every task on this replica works with.
pub struct TaskKit {
    pub records: Arc<Records>,
    pub provider: Arc<dyn Provider>,
    pub calls: Calls,
    pub timer: Arc<dyn Timer>,
    pub metrics: Metrics,
    pub code_tags: CodeTagger,
    pub kiosk: KioskSettings,
}

/// Starts this replica's session tasks. Cheap to clone.
#[derive(Clone)]
pub struct Tasks {
    kit: Arc<TaskKit>,
    /// Every task ends when the server shuts down.
    shutdown: CancellationToken,
}

impl Tasks {
    pub fn new(kit: TaskKit, shutdown: CancellationToken) -> Self {
        Self {
            kit: Arc::new(kit),
            shutdown,
        }
    }

    /// Runs the session's task on this replica for `turn`, replacing any older one, after
    /// `delay`; it holds `slot` while its pairing is in progress.
    pub fn spawn(&self, id: &SessionId, turn: Turn, delay: Duration, slot: Option<PairingSlot>) {
        let cancel = self.shutdown.child_token();
        let local = self.kit.records.local().clone();
        local.start_task(id, turn.generation, cancel.clone());
        let mut task = Task {
            kit: self.kit.clone(),
            id: id.clone(),
            turn,
            cancel,
            slot,
            in_flight: None,
        };
        // The task's logs carry the span (request id, path) of the request that started it.
        tokio::spawn(
            async move {
                if task.nap(delay).await {
                    task.run().await;
                }
                local.task_ended(&task.id, turn.generation);
            }
            .in_current_span(),
        );
    }
}

/// One task: everything its driver touches.
struct Task {
    kit: Arc<TaskKit>,
    id: SessionId,
    turn: Turn,
    cancel: CancellationToken,
    /// This server's place for the pairing (`MAX_PAIRINGS`), given back once it is over.
    slot: Option<PairingSlot>,
    /// Held from a poll or refresh that brought tokens until they are stored or given up.
    in_flight: Option<InFlight>,
}

type Performing<'a> = Pin<Box<dyn Future<Output = Option<Event>> + Send + 'a>>;

impl Task {
    /// Runs the session until it needs nothing more, its turn is superseded, or `cancel`.
    async fn run(&mut self) {
        let (mut lifecycle, mut step) = Lifecycle::start(self.turn.generation);
        loop {
            let Step { reports, action } = step;
            for report in reports {
                self.report(report);
            }
            let event = match action {
                Action::Stop => return,
                // Asleep is where a session spends its life: only the sleep is held then.
                Action::Sleep(duration) => {
                    self.in_flight = None;
                    if !self.nap(duration).await {
                        return;
                    }
                    Event::Slept
                }
                action => match self.perform(action).await {
                    Some(event) => event,
                    None => return,
                },
            };
            let now = Now {
                ms: self.kit.records.now_ms(),
                instant: self.kit.timer.now(),
            };
            step = lifecycle.next(event, now, &self.kit.kiosk);
        }
    }

    /// Sleeps unless cancelled; returns false when cancelled.
    async fn nap(&self, duration: Duration) -> bool {
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            _ = self.kit.timer.sleep(duration) => true,
        }
    }

    /// One poll, sent only under a lease that outlasts it: else another replica could adopt
    /// the pairing and poll it while this poll is still at the provider. If the task is
    /// cancelled meanwhile, the poll runs on, and tokens it brings are revoked.
    async fn poll(&mut self, device_code: DeviceCode) -> Option<Event> {
        let provider = self.kit.provider.clone();
        let kit = self.kit.clone();
        let sent = tokio::select! {
            biased;
            _ = self.cancel.cancelled() => return None,
            sent = kit.calls.send(async move { provider.poll(&device_code).await }) => sent,
        };
        Some(Event::Polled(self.hold(sent)))
    }

    /// Keeps the in-flight guard of an answer that brought tokens.
    fn hold<E>(
        &mut self,
        sent: Option<(Result<TokenSet, E>, InFlight)>,
    ) -> Option<Result<TokenSet, E>> {
        let (answer, in_flight) = sent?;
        if answer.is_ok() {
            self.in_flight = Some(in_flight);
        }
        Some(answer)
    }

    /// One step's I/O; `None` when the task was cancelled. Boxed: what a step holds is
    /// allocated only while it runs (`run` sleeps without it), so a sleeping task stays small.
    fn perform(&mut self, action: Action) -> Performing<'_> {
        Box::pin(async move {
            let kit = self.kit.clone();
            let event = match action {
                Action::Stop => return None,
                Action::Sleep(duration) => {
                    self.in_flight = None;
                    self.nap(duration).await.then_some(Event::Slept)?
                }
                Action::Load => {
                    self.in_flight = None;
                    if self.cancel.is_cancelled() {
                        return None;
                    }
                    let loaded = kit.records.load(&self.id).await;
                    Event::Loaded(loaded.map(|stored| stored.map(|s| s.record)))
                }
                Action::CheckPresence => {
                    Event::Seen(kit.records.store().last_seen_ms(&self.id).await)
                }
                Action::Authorize => {
                    Event::Authorized(kit.provider.start_device_authorization().await)
                }
                Action::Poll(device_code) => self.poll(device_code).await?,
                Action::CompleteSignIn(tokens) => {
                    Event::SignInCompleted(kit.provider.complete_sign_in(&tokens).await)
                }
                Action::Refresh(refresh_token) => {
                    // Only under a lease that outlasts the request: a rotating refresh token
                    // sent twice (here, and by a replica that adopted the session meanwhile)
                    // revokes its whole family at many providers.
                    let provider = kit.provider.clone();
                    let sent = kit
                        .calls
                        .send(async move { provider.refresh(&refresh_token).await })
                        .await;
                    Event::Refreshed(self.hold(sent))
                }
                Action::Write(change, lease) => Event::Wrote(self.write(&change, lease).await),
                Action::Revoke(tokens) => {
                    provider::revoke(kit.provider.as_ref(), &kit.metrics, tokens).await;
                    Event::Revoked
                }
            };
            Some(event)
        })
    }

    /// A task's write: changes the record only while the task's turn is current.
    async fn write(&self, change: &Change, lease: Lease) -> Result<Written, StoreError> {
        let generation = self.turn.generation;
        let fence = Some(self.turn.epoch);
        let apply = |record: &mut SessionRecord| {
            if record.generation != generation {
                return Edit::Skip(Written::NotCurrent);
            }
            match change.apply(record) {
                changed @ Written::Changed { .. } => Edit::Write(changed, lease),
                other => Edit::Skip(other),
            }
        };
        let written = self
            .kit
            .records
            .write(&self.id, fence, Place::Stay, apply)
            .await?;
        // Fenced: this replica no longer owns the session under the task's epoch.
        Ok(written.map_or(Written::NotCurrent, |(written, _)| written))
    }

    fn report(&mut self, report: Report) {
        let metrics = &self.kit.metrics;
        match report {
            Report::PairingOver => drop(self.slot.take()),
            Report::ReadFailed(error) => {
                tracing::warn!(%error, "cannot read the session; retrying")
            }
            Report::WriteFailed(error) => {
                tracing::warn!(%error, "cannot write the session; retrying")
            }
            Report::CodeIssued {
                user_code,
                expires_in,
                interval,
            } => {
                // The tag, not the code: a log reader could type the code in before the TV's user.
                let code_tag = self.kit.code_tags.tag(&user_code);
                tracing::info!(%code_tag, ?expires_in, ?interval, "pairing started");
            }
            Report::StartFailed { error, retry } => {
                tracing::warn!(%error, kind = error.kind(), "cannot start a device authorization; retrying in {retry:?}");
                metrics.provider_error("device_authorization", &error);
            }
            Report::Polled(error) => {
                metrics.token_poll(error.as_ref().map_or(Ok(()), Err));
                if let Some(error) = &error {
                    polling::log_poll_error(error, &polling::response_to(error));
                }
            }
            Report::Declined => tracing::info!("pairing declined on the phone"),
            Report::Expired => tracing::info!("pairing expired"),
            Report::Rejected(code) => {
                tracing::warn!(error = %code, "the provider ended the pairing")
            }
            Report::Finished(end) => {
                if end == PairingEnd::Abandoned {
                    tracing::info!("no TV is watching; pairing stopped");
                }
                metrics.pairing_finished(end);
                if end == PairingEnd::SignedIn {
                    metrics.signed_in(self.kit.provider.client_id());
                }
            }
            Report::SignInFailed(error) => {
                tracing::warn!(%error, kind = error.kind(), "sign-in could not be completed");
                metrics.provider_error("sign_in", &error);
            }
            Report::SignedIn { sub } => tracing::info!(%sub, "signed in"),
            Report::SignInNotStored(error) => {
                tracing::warn!(%error, "cannot store the signed-in session")
            }
            Report::IdleSignOut => tracing::info!("idle sign-out"),
            Report::Refreshed => tracing::debug!("access token refreshed"),
            Report::RefreshFailed(error) => {
                tracing::warn!(%error, "refresh failed; keeping the session until idle sign-out");
                metrics.provider_error("refresh", &error);
            }
            Report::RefreshUnanswered(error) => {
                tracing::warn!(%error, "refresh got no answer; trying again");
                metrics.provider_error("refresh", &error);
            }
        }
    }
}
