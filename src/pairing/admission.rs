//! Who may start a new code (Sign in, New code), checked in this order: the per-session
//! limit (`PAIRING_RATE_LIMIT` a minute, kept in the record, so it holds on every replica),
//! the per-address limit (the same rate per client address, per replica, so a client cannot
//! dodge the first by dropping its cookie), and this server's `MAX_PAIRINGS` slots. A refused
//! start shows Throttled, with when to ask again.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::records::Edit;
use super::slots::{PairingSlot, PairingSlots};
use super::store::{Lease, SessionRecord};
use crate::limits::AddressLimiter;
use crate::metrics::ThrottledBy;
use crate::model::TvStatus;
use crate::oidc::polling::Timer;

/// When the server runs `MAX_PAIRINGS` already, the TV asks again after this long.
pub const SERVER_FULL_RETRY: Duration = Duration::from_secs(15);
/// The window of the per-session limit.
const MINUTE_MS: u64 = 60_000;

/// What a start or renew did.
#[derive(Debug, PartialEq, Eq)]
pub enum Began {
    /// Nothing new: a pairing is under way (a reload must not make a new code), or signed in.
    Already(TvStatus),
    Started {
        generation: u64,
        /// A pairing in progress was dropped for this one (New code).
        replaced: bool,
    },
    Throttled {
        generation: u64,
        by: ThrottledBy,
        retry_after: Duration,
    },
}

/// The per-address limiter's clock: the injected timer, so it follows tokio's paused time in
/// tests like everything else in the pairing core.
pub struct TimerClock(Arc<dyn Timer>);

impl governor::clock::Clock for TimerClock {
    type Instant = Instant;

    fn now(&self) -> Instant {
        self.0.now()
    }
}

/// The limits on new codes.
pub struct Admission {
    per_minute: usize,
    addresses: AddressLimiter<TimerClock>,
    slots: PairingSlots,
}

impl Admission {
    pub fn new(per_minute: u32, max_pairings: usize, timer: Arc<dyn Timer>) -> Self {
        Self {
            per_minute: per_minute as usize,
            addresses: AddressLimiter::with_clock(per_minute, TimerClock(timer)),
            slots: PairingSlots::new(max_pairings),
        }
    }

    pub fn slots(&self) -> &PairingSlots {
        &self.slots
    }

    /// Forgets addresses whose allowance is full again.
    pub fn forget_idle_addresses(&self) {
        self.addresses.forget_idle();
    }

    /// A start (or, with `renew`, a New code) from `client` at `now_ms`: the change to the
    /// record, what it did, and the slot a started pairing holds. Every start and throttle
    /// is a new generation that this replica claims.
    pub fn begin(
        &self,
        record: &mut SessionRecord,
        now_ms: u64,
        client: Option<IpAddr>,
        renew: bool,
    ) -> Edit<(Began, Option<PairingSlot>)> {
        let busy = record.status.is_busy();
        let keep = match &record.status {
            TvStatus::SignedIn { .. } => true,
            _ => !renew && busy,
        };
        if keep {
            return Edit::Skip((Began::Already(record.status.clone()), None));
        }
        record
            .recent_starts_ms
            .retain(|at| now_ms.saturating_sub(*at) < MINUTE_MS);
        let mut slot = None;
        let refused = self
            .session_limit(record, now_ms)
            .or_else(|| self.address_limit(client))
            .or_else(|| {
                // New code replaces a pairing, so it takes a slot even on a full server.
                slot = if busy {
                    Some(self.slots.take_anyway())
                } else {
                    self.slots.try_take()
                };
                slot.is_none()
                    .then_some((ThrottledBy::Server, SERVER_FULL_RETRY))
            });
        record.generation += 1;
        record.device = None;
        let generation = record.generation;
        let began = match refused {
            Some((by, retry_after)) => {
                record.return_home_at_ms = Some(now_ms + retry_after.as_millis() as u64);
                record.status = TvStatus::Throttled {
                    retry_after_secs: retry_after.as_secs().max(1),
                };
                Began::Throttled {
                    generation,
                    by,
                    retry_after,
                }
            }
            None => {
                record.recent_starts_ms.push(now_ms);
                record.return_home_at_ms = None;
                record.status = TvStatus::Starting;
                Began::Started {
                    generation,
                    replaced: busy,
                }
            }
        };
        Edit::Write((began, slot), Lease::Claim)
    }

    /// The session's own limit: how long until its oldest start in the last minute ages out.
    fn session_limit(
        &self,
        record: &SessionRecord,
        now_ms: u64,
    ) -> Option<(ThrottledBy, Duration)> {
        if record.recent_starts_ms.len() < self.per_minute {
            return None;
        }
        let oldest = record.recent_starts_ms.first().copied().unwrap_or(now_ms);
        let wait = MINUTE_MS - now_ms.saturating_sub(oldest).min(MINUTE_MS);
        Some((
            ThrottledBy::Session,
            Duration::from_millis(wait) + Duration::from_secs(1),
        ))
    }

    fn address_limit(&self, client: Option<IpAddr>) -> Option<(ThrottledBy, Duration)> {
        let wait = self.addresses.check(client?).err()?;
        // Whole seconds, rounded up: the TV must not ask again too early.
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Some((ThrottledBy::Address, Duration::from_secs(secs)))
    }
}
