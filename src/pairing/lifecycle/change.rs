//! How a session task changes its record: each [`Change`] is applied to the latest stored
//! version at write time (a write is retried when another writer got there first), and the
//! rules on the record's times (refresh, presence).

use crate::pairing::identity::Identity;
use std::time::Duration;

use crate::model::{PairingView, TvStatus};
use crate::oidc::token::TokenSet;
use crate::pairing::store::{DeviceGrant, SessionRecord, StoreError};

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
    PollNews {
        trouble: bool,
        interval: Duration,
    },
    /// An outcome screen until `home_at_ms`.
    Outcome {
        status: TvStatus,
        home_at_ms: u64,
    },
    Home,
    SignedIn {
        status: TvStatus,
        tokens: TokenSet,
        /// Who signed in, for the forward-auth check (never sent to the TV).
        identity: Box<Identity>,
        at_ms: u64,
    },
    /// The idle sign-out, unless activity pushed it past `now_ms`.
    SignOutIfDue {
        now_ms: u64,
    },
    /// A refresh's result: new tokens, or (`None`) drop the refused refresh token.
    Refreshed {
        fresh: Option<TokenSet>,
        at_ms: u64,
    },
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
                identity,
                at_ms,
            } => {
                record.status = status.clone();
                record.device = None;
                record.tokens = Some(tokens.clone());
                record.identity = Some(identity.clone());
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
    record.identity = None;
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
