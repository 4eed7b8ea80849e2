//! The words the session task's driver and its rules speak: what happened ([`Event`]), at
//! what time ([`Now`]), and what to do next ([`Step`]: an [`Action`] and the [`Report`]s
//! before it).

use std::time::{Duration, Instant};

use super::change::{Change, Written};
use crate::metrics::PairingEnd;
use crate::oidc::client::SignedInUser;
use crate::oidc::device::DeviceAuthorization;
use crate::oidc::error::ErrorCode;
use crate::oidc::secret::{DeviceCode, RefreshToken};
use crate::oidc::token::TokenSet;
use crate::oidc::ProviderError;
use crate::pairing::store::{Lease, SessionRecord, StoreError};

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
    /// A refresh got no answer (network, timeout, 5xx): it is tried again.
    RefreshUnanswered(ProviderError),
}

/// The driver's next move, and what to report before it.
#[derive(Debug)]
pub struct Step {
    pub reports: Vec<Report>,
    pub action: Action,
}

impl Step {
    pub fn to(action: Action) -> Self {
        Self {
            reports: Vec::new(),
            action,
        }
    }

    pub fn after(report: Report, action: Action) -> Self {
        Self {
            reports: vec![report],
            action,
        }
    }

    /// This step, with `report` told first.
    pub fn reporting(mut self, report: Report) -> Self {
        self.reports.insert(0, report);
        self
    }

    /// This step, with `reports` told first.
    pub fn reported_after(mut self, mut reports: Vec<Report>) -> Self {
        reports.append(&mut self.reports);
        self.reports = reports;
        self
    }
}
