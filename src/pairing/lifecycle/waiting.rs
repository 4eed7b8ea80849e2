//! Waiting for the person's answer: polls with the stored device code by the RFC 8628 rules
//! (`oidc::polling`), each poll only while a TV still watches; tells the TV of trouble and
//! recovery and stores the interval `slow_down` raised, writing only what changed.

use std::time::Duration;

use super::change::{abandoned, Change, Written};
use super::step::{Action, Event, Now, Report};
use crate::metrics::PairingEnd;
use crate::model::TvStatus;
use crate::oidc::error::ErrorCode;
use crate::oidc::polling::{
    before_poll, poll_step, response_to, PollDecision, PollEnd, PollResponse, PollState,
};
use crate::oidc::secret::DeviceCode;
use crate::oidc::token::TokenSet;
use crate::pairing::store::{DeviceGrant, Lease};

/// What polling last told the TV, so unchanged news is not written again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shown {
    trouble: bool,
    interval: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// A pairing being polled for.
#[derive(Debug)]
pub struct Waiting {
    rules: PollState,
    device_code: DeviceCode,
    shown: Shown,
    stage: Stage,
}

/// How waiting ended.
#[derive(Debug)]
pub enum Exit {
    /// No TV watches any more.
    Abandoned,
    /// Show this outcome.
    Outcome(TvStatus, PairingEnd),
    /// The person approved: these are their tokens.
    Approved(TokenSet),
    /// The task's turn is over.
    Stop,
}

/// What to do next: go on waiting, or leave.
#[derive(Debug)]
pub enum Next {
    Do(Action),
    Exit(Exit),
}

impl Waiting {
    /// Polls for `grant`; `trouble` is whether the TV shows the provider as unreachable. An
    /// adopted pairing thus keeps the interval `slow_down` raised it to, and its screen.
    pub fn start(grant: DeviceGrant, trouble: bool, now: Now) -> (Self, Action) {
        let left = Duration::from_millis(grant.expires_at_ms.saturating_sub(now.ms));
        let mut waiting = Self {
            rules: PollState::new(grant.interval, now.instant, left),
            device_code: grant.device_code,
            shown: Shown {
                trouble,
                interval: grant.interval,
            },
            stage: Stage::Sleeping,
        };
        // The first poll waits one interval, as §3.4 asks.
        let wait = waiting.rules.interval;
        let sleep = waiting.sleep(wait, now);
        (waiting, sleep)
    }

    /// Sleeps `wait`, but never past the deadline: the TV should learn of the expiry when it
    /// happens.
    fn sleep(&mut self, wait: Duration, now: Now) -> Action {
        let left = self.rules.deadline.saturating_duration_since(now.instant);
        self.stage = Stage::Sleeping;
        Action::Sleep(wait.min(left))
    }

    /// The rules: what to do after `event`, reporting on the way into `reports`.
    pub fn next(
        &mut self,
        event: Event,
        now: Now,
        abandon_after: Duration,
        reports: &mut Vec<Report>,
    ) -> Next {
        match (self.stage, event) {
            (Stage::Sleeping, Event::Slept) => {
                if let Some(PollEnd::Expired) = before_poll(&self.rules, now.instant) {
                    reports.push(Report::Expired);
                    return Next::Exit(Exit::Outcome(TvStatus::Expired, PairingEnd::Expired));
                }
                self.stage = Stage::CheckingPresence;
                Next::Do(Action::CheckPresence)
            }
            (Stage::CheckingPresence, Event::Seen(seen)) => {
                if abandoned(&seen, now.ms, abandon_after) {
                    return Next::Exit(Exit::Abandoned);
                }
                self.stage = Stage::Asking;
                Next::Do(Action::Poll(self.device_code.clone()))
            }
            (Stage::Asking, Event::Polled(answer)) => self.answered(answer, now, reports),
            (Stage::Telling { .. }, Event::Wrote(Ok(Written::NotCurrent))) => {
                Next::Exit(Exit::Stop)
            }
            (Stage::Telling { next, news }, Event::Wrote(written)) => {
                // A store failure leaves the news untold: the next change tells it again.
                if written.is_ok() {
                    self.shown = news;
                }
                Next::Do(self.sleep(next, now))
            }
            // An event this stage did not ask for: the driver never sends one.
            (_, _) => Next::Exit(Exit::Stop),
        }
    }

    /// A poll's answer, by the RFC 8628 rules.
    fn answered(
        &mut self,
        answer: Option<Result<TokenSet, crate::oidc::ProviderError>>,
        now: Now,
        reports: &mut Vec<Report>,
    ) -> Next {
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
        let end = match poll_step(&mut self.rules, &response, now.instant) {
            PollDecision::PollAfter(next) => return Next::Do(self.tell(&response, next, now)),
            PollDecision::Stop(end) => end,
        };
        let (status, end, report) = match end {
            // Tokens end polling at once: a redeemed code is never polled again.
            PollEnd::Approved => match tokens {
                Some(tokens) => return Next::Exit(Exit::Approved(tokens)),
                None => {
                    let code = ErrorCode::Other("no tokens".into());
                    (
                        TvStatus::Expired,
                        PairingEnd::Rejected,
                        Report::Rejected(code),
                    )
                }
            },
            PollEnd::Denied => (TvStatus::Denied, PairingEnd::Denied, Report::Declined),
            PollEnd::Expired => (TvStatus::Expired, PairingEnd::Expired, Report::Expired),
            PollEnd::Rejected(code) => (
                TvStatus::Expired,
                PairingEnd::Rejected,
                Report::Rejected(code),
            ),
        };
        reports.push(report);
        Next::Exit(Exit::Outcome(status, end))
    }

    /// Polls again after `next`, first telling the TV what changed: trouble, recovery, or a
    /// longer interval.
    fn tell(&mut self, response: &PollResponse, next: Duration, now: Now) -> Action {
        let news = if *response == PollResponse::Trouble {
            Shown {
                trouble: true,
                ..self.shown
            }
        } else {
            Shown {
                trouble: false,
                interval: self.rules.interval,
            }
        };
        if news == self.shown {
            return self.sleep(next, now);
        }
        self.stage = Stage::Telling { next, news };
        let change = Change::PollNews {
            trouble: news.trouble,
            interval: news.interval,
        };
        Action::Write(change, Lease::Keep)
    }
}
