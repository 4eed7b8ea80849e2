//! The work for one session, on the replica that owns it. The task reads the record and
//! does what its status calls for, phase after phase: fetch a code, poll for the person's
//! answer, show an outcome then return Home, or keep a signed-in session (refresh, idle
//! sign-out). Because each phase starts from the stored record, the same code runs a fresh
//! pairing and one adopted from a replica that stopped. Every write is conditional on the
//! task's turn (its generation, and this replica's ownership under its epoch), so a
//! superseded task, or one whose session another replica adopted, changes nothing.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::in_flight::InFlight;
use super::{in_progress, Hub, Turn};
use crate::metrics::PairingEnd;
use crate::model::{Claim, PairingView, Profile, TvStatus};
use crate::oidc::device::DeviceAuthorization;
use crate::oidc::polling::{run_polling, PollOutcome, PollProgress, PollResponse, PollState};
use crate::oidc::token::TokenSet;
use crate::pairing::slots::PairingSlot;
use crate::pairing::store::{now_ms, DeviceGrant, Lease, SessionRecord, StoreError};
use crate::pairing::SessionId;

/// Retry delays when the provider cannot start a pairing.
const START_RETRY_MIN: Duration = Duration::from_secs(2);
const START_RETRY_MAX: Duration = Duration::from_secs(30);
/// Wait before trying again when the store cannot be reached.
const STORE_RETRY: Duration = Duration::from_secs(1);

/// Whether the task goes on to the next phase.
enum Flow {
    Next,
    Stop,
}

fn ms(duration: Duration) -> u64 {
    duration.as_millis() as u64
}

/// Runs the session until it needs nothing more, its turn is superseded, or `cancel`.
/// `slot` is this server's place for the pairing (`MAX_PAIRINGS`), given back once the
/// pairing is over.
pub(super) async fn drive(
    hub: &Hub,
    id: &SessionId,
    turn: Turn,
    cancel: &CancellationToken,
    mut slot: Option<PairingSlot>,
) {
    // Bounded by the phases themselves: each ends in a write that moves the status on, or stops.
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let record = match hub.inner.store.load(id).await {
            Ok(Some(stored)) if stored.record.generation == turn.generation => stored.record,
            Ok(_) => return,
            Err(error) => {
                tracing::warn!(%error, "cannot read the session; retrying");
                if !hub.nap(cancel, STORE_RETRY).await {
                    return;
                }
                continue;
            }
        };
        if !in_progress(&record.status) {
            // The pairing is over: its place is free for another.
            drop(slot.take());
        }
        // Each phase is boxed, so this task is as small as the phase it is in, not the largest.
        let flow = match &record.status {
            TvStatus::Starting | TvStatus::Unreachable { pairing: None } => {
                Box::pin(authorize(hub, id, turn, cancel)).await
            }
            TvStatus::Waiting { .. } | TvStatus::Unreachable { .. } => {
                Box::pin(poll(hub, id, turn, cancel, record)).await
            }
            TvStatus::Denied | TvStatus::Expired | TvStatus::Throttled { .. } => {
                Box::pin(return_home(hub, id, turn, cancel, &record)).await
            }
            TvStatus::SignedIn { .. } => {
                Box::pin(stay_signed_in(hub, id, turn, cancel, record)).await
            }
            TvStatus::Idle => {
                // Nothing to do: give the lease up.
                let _ = hub.update_current(id, turn, Lease::Release, |_| true).await;
                Flow::Stop
            }
        };
        match flow {
            Flow::Next => {}
            Flow::Stop => return,
        }
    }
}

/// A store failure inside a phase: wait a moment, then start the phase again from the record.
async fn store_trouble(hub: &Hub, cancel: &CancellationToken, error: StoreError) -> Flow {
    tracing::warn!(%error, "cannot write the session; retrying");
    if hub.nap(cancel, STORE_RETRY).await {
        Flow::Next
    } else {
        Flow::Stop
    }
}

fn written(result: Result<bool, StoreError>) -> Result<Flow, StoreError> {
    result.map(|current| if current { Flow::Next } else { Flow::Stop })
}

/// The pairing as stored; its QR code is drawn when it is sent (`qr::with_qr`).
fn pairing_view(auth: &DeviceAuthorization, expires_at_ms: u64) -> PairingView {
    PairingView {
        user_code: auth.user_code.clone(),
        verification_uri: auth.verification_uri.clone(),
        verification_uri_complete: auth.verification_uri_complete.clone(),
        qr_svg: String::new(),
        expires_at_ms,
        interval_secs: auth.interval.as_secs(),
    }
}

/// Back to Home, giving the lease up: the session needs no task any more.
async fn go_home(hub: &Hub, id: &SessionId, turn: Turn) -> Result<bool, StoreError> {
    hub.update_current(id, turn, Lease::Release, |record| {
        record.status = TvStatus::Idle;
        record.device = None;
        record.return_home_at_ms = None;
        true
    })
    .await
}

/// Stops a pairing nobody watches.
async fn abandon(hub: &Hub, id: &SessionId, turn: Turn) -> Flow {
    if let Ok(true) = go_home(hub, id, turn).await {
        tracing::info!("no TV is watching; pairing stopped");
        hub.inner.metrics.pairing_finished(PairingEnd::Abandoned);
    }
    Flow::Stop
}

/// Device authorization, retried while the provider cannot be reached.
async fn authorize(hub: &Hub, id: &SessionId, turn: Turn, cancel: &CancellationToken) -> Flow {
    let provider = &hub.inner.provider;
    let mut retry = START_RETRY_MIN;
    // Bounded: it ends when a code arrives, the TV goes away, or the task is cancelled.
    loop {
        match provider.start_device_authorization().await {
            Ok(auth) => {
                let expires_at_ms = now_ms() + ms(auth.expires_in);
                let pairing = pairing_view(&auth, expires_at_ms);
                // The tag, not the code: a log reader could type the code in before the TV's user.
                let code_tag = hub.inner.code_tags.tag(&auth.user_code);
                tracing::info!(%code_tag, expires_in = ?auth.expires_in, interval = ?auth.interval, "pairing started");
                let grant = DeviceGrant {
                    device_code: auth.device_code,
                    interval: auth.interval,
                    expires_at_ms,
                };
                let result = hub
                    .update_current(id, turn, Lease::Keep, |record| {
                        record.status = TvStatus::Waiting {
                            pairing: pairing.clone(),
                        };
                        record.device = Some(grant.clone());
                        true
                    })
                    .await;
                return match written(result) {
                    Ok(flow) => flow,
                    Err(error) => store_trouble(hub, cancel, error).await,
                };
            }
            Err(error) => {
                tracing::warn!(%error, kind = error.kind(), "cannot start a device authorization; retrying in {retry:?}");
                hub.inner
                    .metrics
                    .provider_error("device_authorization", &error);
                let result = hub
                    .update_current(id, turn, Lease::Keep, |record| {
                        let show = TvStatus::Unreachable { pairing: None };
                        let changed = record.status != show;
                        record.status = show;
                        changed
                    })
                    .await;
                if let Ok(false) = result {
                    return Flow::Stop;
                }
                if !hub.nap(cancel, retry).await {
                    return Flow::Stop;
                }
                if hub.is_abandoned(id).await {
                    return abandon(hub, id, turn).await;
                }
                retry = (retry * 2).min(START_RETRY_MAX);
            }
        }
    }
}

/// What the poll loop last told the TV, so unchanged news is not written again.
struct Shown {
    trouble: bool,
    interval: Duration,
}

/// Polls by the RFC 8628 rules until approved, denied, expired, or nobody watches.
async fn poll(
    hub: &Hub,
    id: &SessionId,
    turn: Turn,
    cancel: &CancellationToken,
    record: SessionRecord,
) -> Flow {
    let Some(grant) = record.device else {
        // A code on screen without its device code cannot be finished: fetch a new one.
        let result = hub
            .update_current(id, turn, Lease::Keep, |record| {
                record.status = TvStatus::Starting;
                true
            })
            .await;
        return written(result).unwrap_or(Flow::Stop);
    };
    let timer = hub.inner.timer.as_ref();
    let left = Duration::from_millis(grant.expires_at_ms.saturating_sub(now_ms()));
    // An adopted pairing keeps the interval slow_down raised it to.
    let state = PollState::new(grant.interval, timer.now(), left);
    let device_code = grant.device_code;
    let provider = hub.inner.provider.clone();
    let abandoned = std::sync::atomic::AtomicBool::new(false);
    let (progress_tx, mut progress_rx) = tokio::sync::mpsc::unbounded_channel();

    let polling = run_polling(
        state,
        timer,
        cancel,
        || {
            let provider = provider.clone();
            let device_code = device_code.clone();
            let abandoned = &abandoned;
            // Boxed: the request's state exists only while a poll is in flight, not during
            // the wait between polls, which is where a pairing spends its life.
            Box::pin(async move {
                if hub.is_abandoned(id).await {
                    abandoned.store(true, std::sync::atomic::Ordering::SeqCst);
                    cancel.cancel();
                    return Err(PollResponse::Trouble);
                }
                // Never poll unless the lease outlasts the request: else another replica
                // could adopt the pairing and poll it while this poll is still at the
                // provider. Checked last, just before the request goes out.
                let call = async move { provider.poll_for_rules(&device_code).await };
                match hub.provider_call(call).await {
                    Some((Ok(tokens), in_flight)) => Ok((tokens, in_flight)),
                    Some((Err(response), _)) => Err(response),
                    None => Err(PollResponse::Trouble),
                }
            })
        },
        move |progress| {
            let _ = progress_tx.send(progress);
        },
    );
    // Tells the TV about trouble and recovery, and stores a raised interval, in order.
    let report = async {
        let mut shown = Shown {
            trouble: false,
            interval: grant.interval,
        };
        while let Some(progress) = progress_rx.recv().await {
            let (trouble, interval) = match progress {
                PollProgress::Pending { interval } => (false, interval),
                PollProgress::Trouble { .. } => (true, shown.interval),
            };
            if trouble == shown.trouble && interval == shown.interval {
                continue;
            }
            let result = Box::pin(hub.update_current(id, turn, Lease::Keep, |record| {
                let status = std::mem::replace(&mut record.status, TvStatus::Idle);
                record.status = match (trouble, status) {
                    (true, TvStatus::Waiting { pairing }) => TvStatus::Unreachable {
                        pairing: Some(pairing),
                    },
                    (false, TvStatus::Unreachable { pairing: Some(p) }) => {
                        TvStatus::Waiting { pairing: p }
                    }
                    (_, unchanged) => unchanged,
                };
                if let Some(device) = record.device.as_mut() {
                    device.interval = interval;
                }
                true
            }))
            .await;
            match result {
                Ok(true) => shown = Shown { trouble, interval },
                // Superseded, or the session went to another replica: stop polling it.
                Ok(false) => cancel.cancel(),
                Err(_) => {}
            }
        }
    };
    let (outcome, ()) = tokio::join!(polling, report);
    drop(device_code);

    Box::pin(after_polling(
        hub,
        id,
        turn,
        cancel,
        outcome,
        abandoned.into_inner(),
    ))
    .await
}

/// What the end of polling leads to (boxed by the caller: it runs once, after the waiting).
async fn after_polling(
    hub: &Hub,
    id: &SessionId,
    turn: Turn,
    cancel: &CancellationToken,
    outcome: PollOutcome<(TokenSet, InFlight)>,
    abandoned: bool,
) -> Flow {
    match outcome {
        PollOutcome::Approved((tokens, in_flight)) => {
            let flow = signed_in(hub, id, turn, cancel, tokens).await;
            drop(in_flight);
            flow
        }
        PollOutcome::Denied => {
            tracing::info!("pairing declined on the phone");
            finish(hub, id, turn, cancel, TvStatus::Denied, PairingEnd::Denied).await
        }
        PollOutcome::Expired => {
            tracing::info!("pairing expired");
            finish(
                hub,
                id,
                turn,
                cancel,
                TvStatus::Expired,
                PairingEnd::Expired,
            )
            .await
        }
        PollOutcome::Rejected(code) => {
            tracing::warn!(error = %code, "the provider ended the pairing");
            finish(
                hub,
                id,
                turn,
                cancel,
                TvStatus::Expired,
                PairingEnd::Rejected,
            )
            .await
        }
        PollOutcome::Cancelled => {
            if abandoned {
                abandon(hub, id, turn).await
            } else {
                Flow::Stop
            }
        }
    }
}

/// Shows a final state; the next phase returns to Home after a while.
async fn finish(
    hub: &Hub,
    id: &SessionId,
    turn: Turn,
    cancel: &CancellationToken,
    status: TvStatus,
    end: PairingEnd,
) -> Flow {
    let home_at = now_ms() + ms(hub.inner.kiosk.expired_return_home);
    let result = hub
        .update_current(id, turn, Lease::Keep, |record| {
            record.status = status.clone();
            record.device = None;
            record.return_home_at_ms = Some(home_at);
            true
        })
        .await;
    match written(result) {
        Ok(Flow::Next) => {
            hub.inner.metrics.pairing_finished(end);
            Flow::Next
        }
        Ok(Flow::Stop) => Flow::Stop,
        Err(error) => store_trouble(hub, cancel, error).await,
    }
}

/// Waits until the outcome on screen has been shown long enough, then returns Home.
async fn return_home(
    hub: &Hub,
    id: &SessionId,
    turn: Turn,
    cancel: &CancellationToken,
    record: &SessionRecord,
) -> Flow {
    let at = record.return_home_at_ms.unwrap_or_else(now_ms);
    let wait = Duration::from_millis(at.saturating_sub(now_ms()));
    if !hub.nap(cancel, wait).await {
        return Flow::Stop;
    }
    match go_home(hub, id, turn).await {
        Ok(_) => Flow::Stop,
        Err(error) => store_trouble(hub, cancel, error).await,
    }
}

/// The person approved: fetch who they are, and show them.
async fn signed_in(
    hub: &Hub,
    id: &SessionId,
    turn: Turn,
    cancel: &CancellationToken,
    tokens: TokenSet,
) -> Flow {
    let provider = &hub.inner.provider;
    let user = match provider.complete_sign_in(&tokens).await {
        Ok(user) => user,
        Err(error) => {
            tracing::warn!(%error, kind = error.kind(), "sign-in could not be completed");
            hub.inner.metrics.provider_error("sign_in", &error);
            hub.revoke(tokens).await;
            return finish(hub, id, turn, cancel, TvStatus::Expired, PairingEnd::Failed).await;
        }
    };
    tracing::info!(sub = %user.sub, "signed in");
    // Forward auth: the claims the check passes on (see `identity`).
    let identity = super::identity::Identity::of(&user, &hub.inner.kiosk.identity_claims);
    // Only what SHOW_CLAIMS names is stored and sent: the TV is a shared screen.
    let profile = Profile {
        display_name: user.display_name,
        claims: hub
            .inner
            .kiosk
            .show_claims
            .pick(user.claims)
            .into_iter()
            .map(|(name, value)| Claim { name, value })
            .collect(),
    };
    let warn_secs = hub.inner.kiosk.sign_out_warning.as_secs();
    let sign_out_at_ms = now_ms() + ms(hub.inner.kiosk.idle_sign_out);
    let result = hub
        .update_current(id, turn, Lease::Keep, |record| {
            record.status = TvStatus::SignedIn {
                profile: profile.clone(),
                sign_out_at_ms,
                warn_secs,
            };
            record.device = None;
            record.tokens = Some(tokens.clone());
            record.tokens_at_ms = now_ms();
            record.identity = Some(identity.clone());
            true
        })
        .await;
    match result {
        Ok(true) => {
            hub.inner.metrics.pairing_finished(PairingEnd::SignedIn);
            hub.inner.metrics.signed_in(&provider.config().client_id);
            Flow::Next
        }
        Ok(false) | Err(_) => {
            // Cancelled or signed out while the profile was being fetched (or the session
            // cannot be stored): these tokens must not outlive this moment.
            if let Err(error) = result {
                tracing::warn!(%error, "cannot store the signed-in session");
            }
            hub.revoke(tokens).await;
            Flow::Stop
        }
    }
}

/// When the access token should be refreshed: a minute before it expires (at least half way).
fn refresh_due_ms(record: &SessionRecord) -> Option<u64> {
    let tokens = record.tokens.as_ref()?;
    tokens.refresh_token.as_ref()?;
    let life = tokens.expires_in?;
    Some(record.tokens_at_ms + ms(life.saturating_sub(Duration::from_secs(60)).max(life / 2)))
}

/// Waits for the idle sign-out, refreshing the access token before it expires. Activity on
/// any replica moves `sign_out_at_ms` later; the record is read again at every wake-up.
async fn stay_signed_in(
    hub: &Hub,
    id: &SessionId,
    turn: Turn,
    cancel: &CancellationToken,
    record: SessionRecord,
) -> Flow {
    let Some(sign_out_at) = record.sign_out_at_ms() else {
        return Flow::Stop;
    };
    let wake = refresh_due_ms(&record).map_or(sign_out_at, |r| r.min(sign_out_at));
    let wait = Duration::from_millis(wake.saturating_sub(now_ms()));
    drop(record);
    if !hub.nap(cancel, wait).await {
        return Flow::Stop;
    }
    // Boxed: what a wake-up does is allocated only while it runs.
    Box::pin(wake_signed_in(hub, id, turn, cancel)).await
}

/// A signed-in session's wake-up: idle sign-out, or a token refresh, or back to sleep.
async fn wake_signed_in(hub: &Hub, id: &SessionId, turn: Turn, cancel: &CancellationToken) -> Flow {
    let record = match hub.inner.store.load(id).await {
        Ok(Some(stored)) if stored.record.generation == turn.generation => stored.record,
        Ok(_) => return Flow::Stop,
        Err(error) => return store_trouble(hub, cancel, error).await,
    };
    let now = now_ms();
    if record.sign_out_at_ms().is_some_and(|at| at <= now) {
        let mut taken = None;
        let result = hub
            .update_current(id, turn, Lease::Release, |record| {
                if record.sign_out_at_ms().is_some_and(|at| at > now_ms()) {
                    return false;
                }
                taken = Hub::reset(record);
                true
            })
            .await;
        return match result {
            Ok(_) => {
                if let Some(tokens) = taken {
                    tracing::info!("idle sign-out");
                    hub.revoke(tokens).await;
                }
                // Signed out, or the sign-out moved: either way the next phase decides.
                Flow::Next
            }
            Err(error) => store_trouble(hub, cancel, error).await,
        };
    }
    if refresh_due_ms(&record).is_some_and(|at| at <= now) {
        let Some(refresh_token) = record.tokens.as_ref().and_then(|t| t.refresh_token.clone())
        else {
            return Flow::Next;
        };
        // Only under a lease that outlasts the request: a rotating refresh token sent twice
        // (here, and by a replica that adopted the session meanwhile) revokes its whole
        // family at many providers.
        let provider = hub.inner.provider.clone();
        let sent = refresh_token.clone();
        let call = async move { provider.refresh(&sent).await };
        let Some((answer, in_flight)) = hub.provider_call(call).await else {
            return if hub.nap(cancel, STORE_RETRY).await {
                Flow::Next
            } else {
                Flow::Stop
            };
        };
        let fresh = match answer {
            Ok(mut fresh) => {
                // RFC 6749 §6: without a new refresh token, the old one stays valid.
                if fresh.refresh_token.is_none() {
                    fresh.refresh_token = Some(refresh_token);
                }
                tracing::debug!("access token refreshed");
                Some(fresh)
            }
            Err(error) => {
                tracing::warn!(%error, "refresh failed; keeping the session until idle sign-out");
                hub.inner.metrics.provider_error("refresh", &error);
                None
            }
        };
        let result = hub
            .update_current(id, turn, Lease::Keep, |record| {
                match (&fresh, record.tokens.as_mut()) {
                    (Some(fresh), _) => {
                        record.tokens = Some(fresh.clone());
                        record.tokens_at_ms = now_ms();
                    }
                    // Do not try again with a refresh token the provider refused.
                    (None, Some(tokens)) => tokens.refresh_token = None,
                    (None, None) => return false,
                }
                true
            })
            .await;
        if let (Ok(false), Some(fresh)) = (&result, fresh) {
            // Signed out (or taken over) while the refresh was under way: nobody will ever
            // use or revoke these tokens but us.
            hub.revoke(fresh).await;
        }
        drop(in_flight);
        return match written(result) {
            Ok(flow) => flow,
            Err(error) => store_trouble(hub, cancel, error).await,
        };
    }
    Flow::Next
}
