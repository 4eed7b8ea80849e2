//! Who may start a new code (Sign in, New code), checked in this order: the per-session
//! limit (`PAIRING_RATE_LIMIT` a minute, kept in the record, so it holds on every replica),
//! the per-address limit (the same rate per client address, so a client cannot dodge the
//! first by dropping its cookie: counted in the store for the whole fleet where the store is
//! shared, else by this replica), and this server's `MAX_PAIRINGS` slots. A refused start
//! shows Throttled, with when to ask again.

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

/// Where the per-address limit is counted for one start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressCount {
    /// By this replica (a store of its own).
    Here,
    /// Already by the shared store, for every replica: `Some` is how long until a new code
    /// is allowed.
    Shared(Option<Duration>),
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

    /// New codes a minute, per session and per address (`PAIRING_RATE_LIMIT`).
    pub fn per_minute(&self) -> u32 {
        self.per_minute as u32
    }

    /// Whether a start on `record` now would reach the per-address limit: nothing is under
    /// way that it keeps (a reload must not count), and the session's own limit lets it by.
    pub fn reaches_address_limit(&self, record: &SessionRecord, now_ms: u64, renew: bool) -> bool {
        if keeps(record, renew) {
            return false;
        }
        let mut record = record.clone();
        forget_old_starts(&mut record, now_ms);
        self.session_limit(&record, now_ms).is_none()
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
        address: AddressCount,
        renew: bool,
    ) -> Edit<(Began, Option<PairingSlot>)> {
        let busy = record.status.is_busy();
        if keeps(record, renew) {
            return Edit::Skip((Began::Already(record.status.clone()), None));
        }
        forget_old_starts(record, now_ms);
        let mut slot = None;
        let refused = self
            .session_limit(record, now_ms)
            .or_else(|| self.address_limit(client, address))
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

    fn address_limit(
        &self,
        client: Option<IpAddr>,
        address: AddressCount,
    ) -> Option<(ThrottledBy, Duration)> {
        let wait = match address {
            AddressCount::Here => self.addresses.check(client?).err()?,
            AddressCount::Shared(wait) => wait?,
        };
        // Whole seconds, rounded up: the TV must not ask again too early.
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Some((ThrottledBy::Address, Duration::from_secs(secs)))
    }
}
/// Whether a start (or, with `renew`, a New code) keeps what is there: signed in, or a
/// pairing under way that a reload must not replace.
fn keeps(record: &SessionRecord, renew: bool) -> bool {
    match &record.status {
        TvStatus::SignedIn { .. } => true,
        status => !renew && status.is_busy(),
    }
}

/// Drops the session's starts older than the limit's minute.
fn forget_old_starts(record: &mut SessionRecord, now_ms: u64) {
    record
        .recent_starts_ms
        .retain(|at| now_ms.saturating_sub(*at) < MINUTE_MS);
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::oidc::polling::VirtualTimer;

    const NOW: u64 = 1_700_000_000_000;
    const CLIENT: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)));

    fn admission() -> Admission {
        Admission::new(2, 10, Arc::new(VirtualTimer::new()))
    }

    fn record(status: TvStatus, recent: &[u64]) -> SessionRecord {
        SessionRecord {
            status,
            recent_starts_ms: recent.to_vec(),
            ..SessionRecord::default()
        }
    }

    fn waiting() -> TvStatus {
        TvStatus::Waiting {
            pairing: crate::model::PairingView {
                user_code: "CODE-1".into(),
                verification_uri: "https://idp.example/device".into(),
                verification_uri_complete: None,
                qr_svg: String::new(),
                expires_at_ms: NOW + 600_000,
                interval_secs: 5,
            },
        }
    }

    #[test]
    fn only_a_start_that_would_begin_a_code_is_counted_per_address() {
        let signed_in = TvStatus::SignedIn {
            profile: crate::model::Profile {
                display_name: "Alice".into(),
                claims: vec![],
            },
            sign_out_at_ms: NOW + 60_000,
            warn_secs: 30,
        };
        let a = admission();
        let rows = [
            // status, starts in the last minute, New code?, counted
            (TvStatus::Idle, vec![], false, true),
            (waiting(), vec![], false, false), // a reload keeps the code
            (waiting(), vec![], true, true),   // New code makes one
            (signed_in.clone(), vec![], false, false),
            (signed_in, vec![], true, false),
            // The session's own limit refuses first (two starts this minute)...
            (
                TvStatus::Idle,
                vec![NOW - 10_000, NOW - 5_000],
                false,
                false,
            ),
            // ...but not with starts older than the minute.
            (
                TvStatus::Idle,
                vec![NOW - 70_000, NOW - 65_000],
                false,
                true,
            ),
        ];
        for (status, recent, renew, counted) in rows {
            let r = record(status.clone(), &recent);
            assert_eq!(
                a.reaches_address_limit(&r, NOW, renew),
                counted,
                "{status:?} {recent:?} renew={renew}"
            );
        }
    }

    #[test]
    fn a_shared_count_decides_instead_of_this_replicas() {
        let a = admission();
        // This replica's own limiter is spent for the address...
        for _ in 0..2 {
            a.addresses.check(CLIENT.unwrap()).unwrap();
        }
        let start = |address| {
            let mut r = record(TvStatus::Idle, &[]);
            match a.begin(&mut r, NOW, CLIENT, address, false) {
                Edit::Write((began, _), _) => began,
                Edit::Skip((began, _)) => began,
            }
        };
        assert!(matches!(
            start(AddressCount::Here),
            Began::Throttled {
                by: ThrottledBy::Address,
                ..
            }
        ));
        // ...but where the store counts for the fleet, its answer is the one that holds.
        assert!(matches!(
            start(AddressCount::Shared(None)),
            Began::Started { .. }
        ));
        assert_eq!(
            start(AddressCount::Shared(Some(Duration::from_millis(29_001)))),
            Began::Throttled {
                generation: 1,
                by: ThrottledBy::Address,
                retry_after: Duration::from_secs(30),
            }
        );
    }
}
