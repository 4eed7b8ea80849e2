//! The life of one session's task, as a pure state machine in the style of `oidc::polling`:
//! [`Lifecycle::next`] takes what just happened (an [`Event`]) and the time, and says what to
//! do next (a [`Step`]): read the record, ask the provider, sleep, write a [`Change`] under a
//! lease, revoke tokens, stop, and what to report on the way (metrics, logs). The driver
//! (`task`) only does the I/O. Each pass starts from the stored record, so the same rules run
//! a fresh pairing and one adopted from a replica that stopped:
//!
//! - Starting: ask for a code; while the provider cannot be reached, show that, retry with a
//!   doubling wait, and stop once no TV watches.
//! - Waiting (`waiting`): poll by the RFC 8628 rules
//!   ([`poll_step`](crate::oidc::polling::poll_step)), first checking that a TV still
//!   watches; show trouble and recovery, store a `slow_down` interval; end on the answer.
//! - Approved: fetch who signed in, then show them (or revoke the tokens if that fails, or
//!   if the session moved on meanwhile).
//! - Denied, Expired, Throttled: show the outcome, then return Home.
//! - Signed in: refresh the access token before it expires; sign out when idle.

#[cfg(test)]
mod tests;

mod change;
mod step;
mod waiting;

use std::time::Duration;

use self::waiting::{Exit, Waiting};
use super::identity::Identity;
use super::store::{DeviceGrant, Lease, SessionRecord, StoreError};
use crate::metrics::PairingEnd;
use crate::model::{Claim, PairingView, Profile, TvStatus};
use crate::oidc::secret::RefreshToken;
use crate::oidc::token::TokenSet;
use crate::settings::KioskSettings;

use self::change::{abandoned, refresh_due_ms};
pub use self::change::{reset, Change, Written};
pub use self::step::{Action, Event, Now, Report, Step};

/// Retry delays when the provider cannot start a pairing.
pub const START_RETRY_MIN: Duration = Duration::from_secs(2);
pub const START_RETRY_MAX: Duration = Duration::from_secs(30);
/// Wait before trying again when the store cannot be reached (or a lease is in doubt).
pub const STORE_RETRY: Duration = Duration::from_secs(1);
/// Wait before asking again when a refresh got no answer (the refresh is due a minute
/// before the access token expires, so this leaves a few tries).
pub const REFRESH_RETRY: Duration = Duration::from_secs(15);

fn ms(duration: Duration) -> u64 {
    duration.as_millis() as u64
}

fn until(at_ms: u64, now: Now) -> Duration {
    Duration::from_millis(at_ms.saturating_sub(now.ms))
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
    Authorizing {
        retry: Duration,
    },
    /// Showing that the provider cannot be reached.
    ShowingTrouble {
        retry: Duration,
    },
    WaitingToRetry {
        retry: Duration,
    },
    CheckingBeforeRetry {
        retry: Duration,
    },
    /// A write that moves the session on: read again once written.
    Advancing,
    Waiting(Box<Waiting>),
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
            (Phase::Waiting(mut waiting), event) => {
                let mut reports = Vec::new();
                let step = match waiting.next(event, now, kiosk.abandon_after, &mut reports) {
                    waiting::Next::Do(action) => {
                        self.phase = Phase::Waiting(waiting);
                        Step::to(action)
                    }
                    waiting::Next::Exit(exit) => self.after_waiting(exit, now, kiosk),
                };
                step.reported_after(reports)
            }
            (Phase::SigningIn(tokens), Event::SignInCompleted(Ok(user))) => {
                // Forward auth: the claims the check passes on (see `identity`).
                let identity = Box::new(Identity::of(&user, &kiosk.identity_claims));
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
                    identity,
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
            (Phase::Abandoning, Event::Wrote(Ok(Written::Changed { .. }))) => self
                .stop()
                .reporting(Report::Finished(PairingEnd::Abandoned)),
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
            (Phase::Refreshing(_), Event::Refreshed(Some(Err(error)))) if error.is_transient() => {
                // No answer is not a refusal: keep the refresh token and ask again soon.
                self.phase = Phase::Napping;
                Step::after(
                    Report::RefreshUnanswered(error),
                    Action::Sleep(REFRESH_RETRY),
                )
            }
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
                    Some(grant) => {
                        let (waiting, action) = Waiting::start(grant, trouble, now);
                        self.phase = Phase::Waiting(Box::new(waiting));
                        Step::to(action)
                    }
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

    /// Where waiting for the person's answer leads.
    fn after_waiting(&mut self, exit: Exit, now: Now, kiosk: &KioskSettings) -> Step {
        match exit {
            Exit::Abandoned => self.abandon(),
            Exit::Outcome(status, end) => self.finish(status, end, now, kiosk),
            Exit::Approved(tokens) => {
                self.phase = Phase::SigningIn(Box::new(tokens.clone()));
                Step::to(Action::CompleteSignIn(tokens))
            }
            Exit::Stop => self.stop(),
        }
    }

    /// Shows an outcome; the next pass returns Home after a while.
    fn finish(
        &mut self,
        status: TvStatus,
        end: PairingEnd,
        now: Now,
        kiosk: &KioskSettings,
    ) -> Step {
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
