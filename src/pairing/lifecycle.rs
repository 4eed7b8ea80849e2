//! The life of one session's task, as a pure state machine in the style of `oidc::polling`:
//! [`Lifecycle::next`] takes what just happened (an [`Event`]) and the time, and says what to
//! do next (a [`Step`]): read the record, ask the provider, sleep, write a [`Change`] under a
//! lease, revoke tokens, stop, and what to report on the way (metrics, logs). The driver
//! (`task`) only does the I/O. Each pass starts from the stored record, so the same rules run
//! a fresh pairing and one adopted from a replica that stopped:
//!
//! - Starting: ask for a code; while the provider cannot be reached, show that, retry with a
//!   doubling wait, and stop once no TV watches.
//! - Waiting: poll by the RFC 8628 rules ([`poll_step`]), first checking that a TV still
//!   watches; show trouble and recovery, store a `slow_down` interval; end on the answer.
//! - Approved: fetch who signed in, then show them (or revoke the tokens if that fails, or
//!   if the session moved on meanwhile).
//! - Denied, Expired, Throttled: show the outcome, then return Home.
//! - Signed in: refresh the access token before it expires; sign out when idle.

#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use super::store::{DeviceGrant, Lease, SessionRecord, StoreError};
use crate::metrics::PairingEnd;
use crate::model::{Claim, PairingView, Profile, TvStatus};
use crate::oidc::client::SignedInUser;
use crate::oidc::device::DeviceAuthorization;
use crate::oidc::error::ErrorCode;
use crate::oidc::polling::{
    before_poll, poll_step, response_to, PollDecision, PollEnd, PollResponse, PollState,
};
use crate::oidc::secret::{DeviceCode, RefreshToken};
use crate::oidc::token::TokenSet;
use crate::oidc::ProviderError;
use crate::settings::KioskSettings;

/// Retry delays when the provider cannot start a pairing.
pub const START_RETRY_MIN: Duration = Duration::from_secs(2);
pub const START_RETRY_MAX: Duration = Duration::from_secs(30);
/// Wait before trying again when the store cannot be reached (or a lease is in doubt).
pub const STORE_RETRY: Duration = Duration::from_secs(1);

/// When an event happened: wall-clock Unix ms (what records hold) and the monotonic instant
/// the polling rules count by.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    pub ms: u64,
    pub instant: Instant,
}

/// What the driver did, and what came of it.
#[derive(Debug)]
pub enum Event {
    /// The record was read: `None` if it is gone.
    Loaded(Result<Option<SessionRecord>, StoreError>),
    /// A sleep ended.
    Slept,
    /// When a TV last looked at the session, in Unix ms.
    Seen(Result<Option<u64>, StoreError>),
    Authorized(Result<DeviceAuthorization, ProviderError>),
    /// A poll's answer; `None` when it was not sent (the lease might not outlast it).
    Polled(Option<Result<TokenSet, ProviderError>>),
    SignInCompleted(Result<SignedInUser, ProviderError>),
    /// A refresh's answer; `None` when it was not sent (the lease might not outlast it).
    Refreshed(Option<Result<TokenSet, ProviderError>>),
    Wrote(Result<Written, StoreError>),
    Revoked,
}

/// What a [`Change`] did to the record (and, written, what the write did).
#[derive(Debug)]
pub enum Written {
    /// Written; with the tokens it took out of the record, if any (to revoke).
    Changed { taken: Option<TokenSet> },
    /// Nothing needed writing.
    Unchanged,
    /// The task's turn is over (another generation, another owner): nothing was written.
    NotCurrent,
}

/// What to do next.
#[derive(Debug)]
pub enum Action {
    Load,
    Sleep(Duration),
    /// Read when a TV last looked at the session.
    CheckPresence,
    Authorize,
    /// Poll once, under a lease that outlasts the request.
    Poll(DeviceCode),
    CompleteSignIn(TokenSet),
    /// Refresh, under a lease that outlasts the request.
    Refresh(RefreshToken),
    /// Apply the change to the current record (only while the task's turn is current).
    Write(Change, Lease),
    Revoke(TokenSet),
    Stop,
}

/// What the driver tells the world on the way (metrics, logs, the server's pairing slot).
#[derive(Debug)]
pub enum Report {
    /// No pairing is under way any more: its `MAX_PAIRINGS` slot is free.
    PairingOver,
    ReadFailed(StoreError),
    WriteFailed(StoreError),
    /// A code arrived (the driver logs its tag, never the code).
    CodeIssued {
        user_code: String,
        expires_in: Duration,
        interval: Duration,
    },
    StartFailed {
        error: ProviderError,
        retry: Duration,
    },
    /// A poll was answered: tokens (`None`) or this error.
    Polled(Option<ProviderError>),
    Declined,
    Expired,
    Rejected(ErrorCode),
    /// A pairing ended this way (written).
    Finished(PairingEnd),
    SignInFailed(ProviderError),
    SignedIn {
        sub: String,
    },
    /// The signed-in session could not be stored; its tokens are revoked.
    SignInNotStored(StoreError),
    IdleSignOut,
    Refreshed,
    RefreshFailed(ProviderError),
}

/// The driver's next move, and what to report before it.
#[derive(Debug)]
pub struct Step {
    pub reports: Vec<Report>,
    pub action: Action,
}

impl Step {
    fn to(action: Action) -> Self {
        Self {
            reports: Vec::new(),
            action,
        }
    }

    fn after(report: Report, action: Action) -> Self {
        Self {
            reports: vec![report],
            action,
        }
    }

    fn reporting(mut self, report: Report) -> Self {
        self.reports.insert(0, report);
        self
    }
}

/// A change to the stored record, applied to the latest version at write time.
#[derive(Clone, Debug)]
pub enum Change {
    /// Nothing but the lease (an idle session gives it up).
    LeaseOnly,
    ShowCode {
        pairing: PairingView,
        grant: DeviceGrant,
    },
    /// The provider cannot be reached for a first code.
    Unreachable,
    /// A code on screen without its device code cannot be finished: fetch a new one.
    Restart,
    /// What polling showed: trouble or not, and the interval (`slow_down` raises it).
    PollNews { trouble: bool, interval: Duration },
    /// An outcome screen until `home_at_ms`.
    Outcome { status: TvStatus, home_at_ms: u64 },
    Home,
    SignedIn {
        status: TvStatus,
        tokens: TokenSet,
        at_ms: u64,
    },
    /// The idle sign-out, unless activity pushed it past `now_ms`.
    SignOutIfDue { now_ms: u64 },
    /// A refresh's result: new tokens, or (`None`) drop the refused refresh token.
    Refreshed { fresh: Option<TokenSet>, at_ms: u64 },
}

impl Change {
    /// Applies the change to `record` (of the task's generation).
    pub fn apply(&self, record: &mut SessionRecord) -> Written {
        let changed = Written::Changed { taken: None };
        match self {
            Change::LeaseOnly => changed,
            Change::ShowCode { pairing, grant } => {
                record.status = TvStatus::Waiting {
                    pairing: pairing.clone(),
                };
                record.device = Some(grant.clone());
                changed
            }
            Change::Unreachable => {
                let show = TvStatus::Unreachable { pairing: None };
                if record.status == show {
                    return Written::Unchanged;
                }
                record.status = show;
                changed
            }
            Change::Restart => {
                record.status = TvStatus::Starting;
                changed
            }
            Change::PollNews { trouble, interval } => {
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
                    device.interval = *interval;
                }
                changed
            }
            Change::Outcome { status, home_at_ms } => {
                record.status = status.clone();
                record.device = None;
                record.return_home_at_ms = Some(*home_at_ms);
                changed
            }
            Change::Home => {
                record.status = TvStatus::Idle;
                record.device = None;
                record.return_home_at_ms = None;
                changed
            }
            Change::SignedIn {
                status,
                tokens,
                at_ms,
            } => {
                record.status = status.clone();
                record.device = None;
                record.tokens = Some(tokens.clone());
                record.tokens_at_ms = *at_ms;
                changed
            }
            Change::SignOutIfDue { now_ms } => {
                if record.sign_out_at_ms().is_some_and(|at| at > *now_ms) {
                    return Written::Unchanged;
                }
                Written::Changed {
                    taken: reset(record),
                }
            }
            Change::Refreshed { fresh, at_ms } => match (fresh, record.tokens.as_mut()) {
                (Some(fresh), _) => {
                    record.tokens = Some(fresh.clone());
                    record.tokens_at_ms = *at_ms;
                    changed
                }
                // Do not try again with a refresh token the provider refused.
                (None, Some(tokens)) => {
                    tokens.refresh_token = None;
                    changed
                }
                // Signed out meanwhile: nothing left to change.
                (None, None) => Written::NotCurrent,
            },
        }
    }
}

/// Back to Home with nothing held, as a new generation; returns the tokens to revoke.
pub fn reset(record: &mut SessionRecord) -> Option<TokenSet> {
    record.generation += 1;
    record.status = TvStatus::Idle;
    record.device = None;
    record.return_home_at_ms = None;
    record.tokens.take()
}

/// Whether no TV has looked at the session for `after`. A failed read counts as present:
/// better to go on than to drop a pairing someone may be watching.
pub fn abandoned(seen: &Result<Option<u64>, StoreError>, now_ms: u64, after: Duration) -> bool {
    match seen {
        Ok(seen) => seen.is_none_or(|at| now_ms.saturating_sub(at) > after.as_millis() as u64),
        Err(_) => false,
    }
}

/// When the access token should be refreshed: a minute before it expires (at least half way).
pub fn refresh_due_ms(record: &SessionRecord) -> Option<u64> {
    let tokens = record.tokens.as_ref()?;
    tokens.refresh_token.as_ref()?;
    let life = tokens.expires_in?;
    let before = life.saturating_sub(Duration::from_secs(60)).max(life / 2);
    Some(record.tokens_at_ms + before.as_millis() as u64)
}

fn ms(duration: Duration) -> u64 {
    duration.as_millis() as u64
}

fn until(at_ms: u64, now: Now) -> Duration {
    Duration::from_millis(at_ms.saturating_sub(now.ms))
}

/// What polling last told the TV, so unchanged news is not written again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shown {
    trouble: bool,
    interval: Duration,
}

/// A pairing being polled for.
#[derive(Debug)]
struct Polling {
    rules: PollState,
    device_code: DeviceCode,
    shown: Shown,
    stage: Stage,
}

#[derive(Clone, Copy, Debug)]
enum Stage {
    Sleeping,
    CheckingPresence,
    Asking,
    /// Writing `news`, then waiting `next`.
    Telling {
        next: Duration,
        news: Shown,
    },
}

/// What comes after a revocation.
#[derive(Debug)]
enum Then {
    Read,
    Stop,
    /// Show that the sign-in could not be completed.
    Fail,
}

/// Where the task is; each phase waits for the event of the action it asked for.
#[derive(Debug)]
enum Phase {
    Reading,
    /// Sleeping, then reading again.
    Napping,
    Authorizing { retry: Duration },
    /// Showing that the provider cannot be reached.
    ShowingTrouble { retry: Duration },
    WaitingToRetry { retry: Duration },
    CheckingBeforeRetry { retry: Duration },
    /// A write that moves the session on: read again once written.
    Advancing,
    Polling(Box<Polling>),
    SigningIn(Box<TokenSet>),
    StoringSignIn(Box<TokenSet>),
    Revoking(Then),
    Finishing(PairingEnd),
    Abandoning,
    ShowingOutcome,
    GoingHome,
    SigningOut,
    Refreshing(RefreshToken),
    StoringRefresh(Option<Box<TokenSet>>),
    Releasing,
    Stopped,
}

/// One task's run through a session's life, for one generation of its record.
#[derive(Debug)]
pub struct Lifecycle {
    generation: u64,
    phase: Phase,
}

impl Lifecycle {
    /// A task for `generation`, and its first step: read the record.
    pub fn start(generation: u64) -> (Self, Step) {
        let lifecycle = Self {
            generation,
            phase: Phase::Reading,
        };
        (lifecycle, Step::to(Action::Load))
    }

    /// The rules: what to do after `event`.
    pub fn next(&mut self, event: Event, now: Now, kiosk: &KioskSettings) -> Step {
        let phase = std::mem::replace(&mut self.phase, Phase::Stopped);
        match (phase, event) {
            (Phase::Reading, Event::Loaded(loaded)) => self.loaded(loaded, now),
            (Phase::Napping, Event::Slept) => self.read(),
            (Phase::Authorizing { .. }, Event::Authorized(Ok(auth))) => {
                let expires_at_ms = now.ms + ms(auth.expires_in);
                let report = Report::CodeIssued {
                    user_code: auth.user_code.clone(),
                    expires_in: auth.expires_in,
                    interval: auth.interval,
                };
                let pairing = PairingView {
                    user_code: auth.user_code,
                    verification_uri: auth.verification_uri,
                    verification_uri_complete: auth.verification_uri_complete,
                    qr_svg: String::new(),
                    expires_at_ms,
                    interval_secs: auth.interval.as_secs(),
                };
                let grant = DeviceGrant {
                    device_code: auth.device_code,
                    interval: auth.interval,
                    expires_at_ms,
                };
                self.phase = Phase::Advancing;
                Step::after(
                    report,
                    Action::Write(Change::ShowCode { pairing, grant }, Lease::Keep),
                )
            }
            (Phase::Authorizing { retry }, Event::Authorized(Err(error))) => {
                self.phase = Phase::ShowingTrouble { retry };
                Step::after(
                    Report::StartFailed { error, retry },
                    Action::Write(Change::Unreachable, Lease::Keep),
                )
            }
            (Phase::ShowingTrouble { .. }, Event::Wrote(Ok(Written::NotCurrent))) => self.stop(),
            // A store failure here is no reason to stop retrying the provider.
            (Phase::ShowingTrouble { retry }, Event::Wrote(_)) => {
                self.phase = Phase::WaitingToRetry { retry };
                Step::to(Action::Sleep(retry))
            }
            (Phase::WaitingToRetry { retry }, Event::Slept) => {
                self.phase = Phase::CheckingBeforeRetry { retry };
                Step::to(Action::CheckPresence)
            }
            (Phase::CheckingBeforeRetry { retry }, Event::Seen(seen)) => {
                if abandoned(&seen, now.ms, kiosk.abandon_after) {
                    return self.abandon();
                }
                self.phase = Phase::Authorizing {
                    retry: (retry * 2).min(START_RETRY_MAX),
                };
                Step::to(Action::Authorize)
            }
            (Phase::Polling(polling), event) => self.polling(*polling, event, now, kiosk),
            (Phase::SigningIn(tokens), Event::SignInCompleted(Ok(user))) => {
                let profile = Profile {
                    display_name: user.display_name,
                    // Only what SHOW_CLAIMS names is stored and sent: the TV is a shared screen.
                    claims: kiosk
                        .show_claims
                        .pick(user.claims)
                        .into_iter()
                        .map(|(name, value)| Claim { name, value })
                        .collect(),
                };
                let status = TvStatus::SignedIn {
                    profile,
                    sign_out_at_ms: now.ms + ms(kiosk.idle_sign_out),
                    warn_secs: kiosk.sign_out_warning.as_secs(),
                };
                let change = Change::SignedIn {
                    status,
                    tokens: (*tokens).clone(),
                    at_ms: now.ms,
                };
                self.phase = Phase::StoringSignIn(tokens);
                Step::after(
                    Report::SignedIn { sub: user.sub },
                    Action::Write(change, Lease::Keep),
                )
            }
            (Phase::SigningIn(tokens), Event::SignInCompleted(Err(error))) => {
                self.phase = Phase::Revoking(Then::Fail);
                Step::after(Report::SignInFailed(error), Action::Revoke(*tokens))
            }
            (Phase::StoringSignIn(tokens), Event::Wrote(written)) => match written {
                Ok(Written::Changed { .. } | Written::Unchanged) => self
                    .read()
                    .reporting(Report::Finished(PairingEnd::SignedIn)),
                // Cancelled or signed out while the profile was being fetched (or the session
                // cannot be stored): these tokens must not outlive this moment.
                Ok(Written::NotCurrent) => self.revoke(*tokens, Then::Stop),
                Err(error) => self
                    .revoke(*tokens, Then::Stop)
                    .reporting(Report::SignInNotStored(error)),
            },
            (Phase::Revoking(then), Event::Revoked) => match then {
                Then::Read => self.read(),
                Then::Stop => self.stop(),
                Then::Fail => self.finish(TvStatus::Expired, PairingEnd::Failed, now, kiosk),
            },
            (Phase::Finishing(end), Event::Wrote(Ok(written))) => match written {
                Written::NotCurrent => self.stop(),
                _ => self.read().reporting(Report::Finished(end)),
            },
            (Phase::Abandoning, Event::Wrote(Ok(Written::Changed { .. }))) => {
                self.stop().reporting(Report::Finished(PairingEnd::Abandoned))
            }
            (Phase::Abandoning, Event::Wrote(_)) => self.stop(),
            (Phase::ShowingOutcome, Event::Slept) => {
                self.phase = Phase::GoingHome;
                Step::to(Action::Write(Change::Home, Lease::Release))
            }
            (Phase::GoingHome, Event::Wrote(Ok(_))) => self.stop(),
            (Phase::SigningOut, Event::Wrote(Ok(written))) => match written {
                Written::Changed {
                    taken: Some(tokens),
                } => self
                    .revoke(tokens, Then::Read)
                    .reporting(Report::IdleSignOut),
                // Signed out, or the sign-out moved: either way the next read decides.
                _ => self.read(),
            },
            (Phase::Refreshing(_), Event::Refreshed(None)) => self.nap(),
            (Phase::Refreshing(sent), Event::Refreshed(Some(answer))) => {
                let (fresh, report) = match answer {
                    Ok(mut fresh) => {
                        // RFC 6749 §6: without a new refresh token, the old one stays valid.
                        if fresh.refresh_token.is_none() {
                            fresh.refresh_token = Some(sent);
                        }
                        (Some(fresh), Report::Refreshed)
                    }
                    Err(error) => (None, Report::RefreshFailed(error)),
                };
                let change = Change::Refreshed {
                    fresh: fresh.clone(),
                    at_ms: now.ms,
                };
                self.phase = Phase::StoringRefresh(fresh.map(Box::new));
                Step::after(report, Action::Write(change, Lease::Keep))
            }
            (Phase::StoringRefresh(fresh), Event::Wrote(Ok(written))) => match (written, fresh) {
                // Signed out (or taken over) while the refresh was under way: nobody will ever
                // use or revoke these tokens but us.
                (Written::NotCurrent, Some(fresh)) => self.revoke(*fresh, Then::Stop),
                (Written::NotCurrent, None) => self.stop(),
                _ => self.read(),
            },
            (Phase::Releasing, Event::Wrote(_)) => self.stop(),
            (
                Phase::Advancing
                | Phase::Finishing(_)
                | Phase::GoingHome
                | Phase::SigningOut
                | Phase::StoringRefresh(_),
                Event::Wrote(Err(error)),
            ) => self.nap().reporting(Report::WriteFailed(error)),
            (Phase::Advancing, Event::Wrote(Ok(Written::NotCurrent))) => self.stop(),
            (Phase::Advancing, Event::Wrote(Ok(_))) => self.read(),
            // An event the phase did not ask for: the driver never sends one.
            (_, _) => self.stop(),
        }
    }

    /// The record as read decides the phase.
    fn loaded(&mut self, loaded: Result<Option<SessionRecord>, StoreError>, now: Now) -> Step {
        let record = match loaded {
            Ok(Some(record)) if record.generation == self.generation => record,
            Ok(_) => return self.stop(),
            Err(error) => return self.nap().reporting(Report::ReadFailed(error)),
        };
        let busy = record.status.is_busy();
        let step = self.phase_for(record, now);
        if busy {
            step
        } else {
            step.reporting(Report::PairingOver)
        }
    }

    fn phase_for(&mut self, record: SessionRecord, now: Now) -> Step {
        match &record.status {
            TvStatus::Starting | TvStatus::Unreachable { pairing: None } => {
                self.phase = Phase::Authorizing {
                    retry: START_RETRY_MIN,
                };
                Step::to(Action::Authorize)
            }
            TvStatus::Waiting { .. } | TvStatus::Unreachable { .. } => {
                let trouble = matches!(record.status, TvStatus::Unreachable { .. });
                match record.device {
                    Some(grant) => self.start_polling(grant, trouble, now),
                    None => {
                        self.phase = Phase::Advancing;
                        Step::to(Action::Write(Change::Restart, Lease::Keep))
                    }
                }
            }
            TvStatus::Denied | TvStatus::Expired | TvStatus::Throttled { .. } => {
                let at = record.return_home_at_ms.unwrap_or(now.ms);
                self.phase = Phase::ShowingOutcome;
                Step::to(Action::Sleep(until(at, now)))
            }
            TvStatus::SignedIn { sign_out_at_ms, .. } => {
                let sign_out_at_ms = *sign_out_at_ms;
                let refresh_due = refresh_due_ms(&record);
                if sign_out_at_ms <= now.ms {
                    self.phase = Phase::SigningOut;
                    let change = Change::SignOutIfDue { now_ms: now.ms };
                    return Step::to(Action::Write(change, Lease::Release));
                }
                let refresh_token = record.tokens.and_then(|t| t.refresh_token);
                match (refresh_due, refresh_token) {
                    (Some(due), Some(token)) if due <= now.ms => {
                        self.phase = Phase::Refreshing(token.clone());
                        Step::to(Action::Refresh(token))
                    }
                    _ => {
                        let wake = refresh_due.map_or(sign_out_at_ms, |r| r.min(sign_out_at_ms));
                        self.phase = Phase::Napping;
                        Step::to(Action::Sleep(until(wake, now)))
                    }
                }
            }
            TvStatus::Idle => {
                // Nothing to do: give the lease up.
                self.phase = Phase::Releasing;
                Step::to(Action::Write(Change::LeaseOnly, Lease::Release))
            }
        }
    }

    /// Polls with the stored device code. An adopted pairing keeps the interval `slow_down`
    /// raised it to, and what the TV was shown.
    fn start_polling(&mut self, grant: DeviceGrant, trouble: bool, now: Now) -> Step {
        let left = until(grant.expires_at_ms, now);
        let polling = Polling {
            rules: PollState::new(grant.interval, now.instant, left),
            device_code: grant.device_code,
            shown: Shown {
                trouble,
                interval: grant.interval,
            },
            stage: Stage::Sleeping,
        };
        // The first poll waits one interval, as §3.4 asks.
        let wait = polling.rules.interval;
        self.poll_after(polling, wait, now)
    }

    /// Sleeps `wait`, but never past the deadline: the TV should learn of the expiry when it
    /// happens.
    fn poll_after(&mut self, mut polling: Polling, wait: Duration, now: Now) -> Step {
        let left = polling.rules.deadline.saturating_duration_since(now.instant);
        polling.stage = Stage::Sleeping;
        self.phase = Phase::Polling(Box::new(polling));
        Step::to(Action::Sleep(wait.min(left)))
    }

    fn polling(&mut self, mut p: Polling, event: Event, now: Now, kiosk: &KioskSettings) -> Step {
        match (p.stage, event) {
            (Stage::Sleeping, Event::Slept) => {
                if let Some(PollEnd::Expired) = before_poll(&p.rules, now.instant) {
                    return self
                        .finish(TvStatus::Expired, PairingEnd::Expired, now, kiosk)
                        .reporting(Report::Expired);
                }
                p.stage = Stage::CheckingPresence;
                self.phase = Phase::Polling(Box::new(p));
                Step::to(Action::CheckPresence)
            }
            (Stage::CheckingPresence, Event::Seen(seen)) => {
                if abandoned(&seen, now.ms, kiosk.abandon_after) {
                    return self.abandon();
                }
                let code = p.device_code.clone();
                p.stage = Stage::Asking;
                self.phase = Phase::Polling(Box::new(p));
                Step::to(Action::Poll(code))
            }
            (Stage::Asking, Event::Polled(answer)) => self.answered(p, answer, now, kiosk),
            (Stage::Telling { .. }, Event::Wrote(Ok(Written::NotCurrent))) => self.stop(),
            (Stage::Telling { next, news }, Event::Wrote(written)) => {
                if written.is_ok() {
                    p.shown = news;
                }
                self.poll_after(p, next, now)
            }
            (_, _) => self.stop(),
        }
    }

    /// A poll's answer, by the RFC 8628 rules.
    fn answered(
        &mut self,
        mut p: Polling,
        answer: Option<Result<TokenSet, ProviderError>>,
        now: Now,
        kiosk: &KioskSettings,
    ) -> Step {
        let mut reports = Vec::new();
        let (response, tokens) = match answer {
            // Not sent: as good as no answer.
            None => (PollResponse::Trouble, None),
            Some(Ok(tokens)) => {
                reports.push(Report::Polled(None));
                (PollResponse::Tokens, Some(tokens))
            }
            Some(Err(error)) => {
                let response = response_to(&error);
                reports.push(Report::Polled(Some(error)));
                (response, None)
            }
        };
        let mut step = match poll_step(&mut p.rules, &response, now.instant) {
            PollDecision::PollAfter(next) => {
                let news = if response == PollResponse::Trouble {
                    Shown {
                        trouble: true,
                        ..p.shown
                    }
                } else {
                    Shown {
                        trouble: false,
                        interval: p.rules.interval,
                    }
                };
                if news == p.shown {
                    self.poll_after(p, next, now)
                } else {
                    p.stage = Stage::Telling { next, news };
                    self.phase = Phase::Polling(Box::new(p));
                    let change = Change::PollNews {
                        trouble: news.trouble,
                        interval: news.interval,
                    };
                    Step::to(Action::Write(change, Lease::Keep))
                }
            }
            PollDecision::Stop(PollEnd::Approved) => match tokens {
                Some(tokens) => {
                    self.phase = Phase::SigningIn(Box::new(tokens.clone()));
                    Step::to(Action::CompleteSignIn(tokens))
                }
                None => self
                    .finish(TvStatus::Expired, PairingEnd::Rejected, now, kiosk)
                    .reporting(Report::Rejected(ErrorCode::Other("no tokens".into()))),
            },
            PollDecision::Stop(PollEnd::Denied) => self
                .finish(TvStatus::Denied, PairingEnd::Denied, now, kiosk)
                .reporting(Report::Declined),
            PollDecision::Stop(PollEnd::Expired) => self
                .finish(TvStatus::Expired, PairingEnd::Expired, now, kiosk)
                .reporting(Report::Expired),
            PollDecision::Stop(PollEnd::Rejected(code)) => self
                .finish(TvStatus::Expired, PairingEnd::Rejected, now, kiosk)
                .reporting(Report::Rejected(code)),
        };
        reports.append(&mut step.reports);
        step.reports = reports;
        step
    }

    /// Shows an outcome; the next pass returns Home after a while.
    fn finish(&mut self, status: TvStatus, end: PairingEnd, now: Now, kiosk: &KioskSettings) -> Step {
        let home_at_ms = now.ms + ms(kiosk.expired_return_home);
        self.phase = Phase::Finishing(end);
        Step::to(Action::Write(
            Change::Outcome { status, home_at_ms },
            Lease::Keep,
        ))
    }

    /// Stops a pairing nobody watches: back to Home, giving the lease up.
    fn abandon(&mut self) -> Step {
        self.phase = Phase::Abandoning;
        Step::to(Action::Write(Change::Home, Lease::Release))
    }

    fn revoke(&mut self, tokens: TokenSet, then: Then) -> Step {
        self.phase = Phase::Revoking(then);
        Step::to(Action::Revoke(tokens))
    }

    fn read(&mut self) -> Step {
        self.phase = Phase::Reading;
        Step::to(Action::Load)
    }

    /// Waits a moment, then starts again from the record.
    fn nap(&mut self) -> Step {
        self.phase = Phase::Napping;
        Step::to(Action::Sleep(STORE_RETRY))
    }

    fn stop(&mut self) -> Step {
        self.phase = Phase::Stopped;
        Step::to(Action::Stop)
    }
}
