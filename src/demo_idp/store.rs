//! The demo provider's memory: device codes and their RFC 8628 states, the wrong-code
//! counters of the phone page, and (in [`super::grants`]) the grants and tokens. Time is
//! passed in, so the rules are tested without waiting. Expired entries are swept at most once
//! a second, and every map is capped.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use super::grants::Tokens;
use super::DemoTiming;

/// Most device codes kept at once (live ones and recently expired ones).
pub const MAX_DEVICE_CODES: usize = 100_000;
/// Expired codes are remembered this long, to answer `expired_token` rather than
/// `invalid_grant`, and to tell a person on the phone that their code has expired.
pub const EXPIRED_GRACE: Duration = Duration::from_secs(600);
/// `slow_down` adds this to a code's interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Polls this much early still count as on time (timers and networks jitter).
pub const POLL_SLACK: Duration = Duration::from_millis(250);
/// Wrong codes are counted over this window...
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(300);
/// ...and refused past this many per browser (flow cookie)...
pub const MAX_WRONG_PER_BROWSER: usize = 5;
/// ...or this many per client address (a browser can drop its cookie).
pub const MAX_WRONG_PER_ADDRESS: usize = 20;
/// Most wrong-code counters kept; when full, new browsers are refused until some expire.
pub const MAX_COUNTERS: usize = 100_000;

/// Where a device code is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    Approved { username: String },
    Denied,
    Redeemed,
}

/// One device authorization.
#[derive(Clone, Debug)]
pub struct DeviceEntry {
    /// Normalized (no dash).
    pub user_code: String,
    pub scope: String,
    pub issued_at: Instant,
    pub issued_wall: SystemTime,
    pub expires_at: Instant,
    pub interval: Duration,
    pub last_poll: Option<Instant>,
    pub status: Status,
}

/// What a poll of the token endpoint finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Poll {
    Approved { username: String, scope: String },
    Pending,
    SlowDown,
    Denied,
    Expired,
    Redeemed,
    Unknown,
}

/// What the phone page finds for a user code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    Pending {
        issued_wall: SystemTime,
        age: Duration,
        expires_in: Duration,
    },
    Expired,
    /// Approved, denied or redeemed already.
    Used,
    Unknown,
}

/// Why a code could not be decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecideError {
    Expired,
    Used,
    Unknown,
}

/// Everything the provider remembers.
#[derive(Debug)]
pub struct State {
    pub timing: DemoTiming,
    devices: HashMap<String, DeviceEntry>,
    /// Normalized user code -> device code.
    by_user_code: HashMap<String, String>,
    /// Wrong-code attempts per browser or address key.
    wrong: HashMap<String, VecDeque<Instant>>,
    pub tokens: Tokens,
    last_sweep: Option<Instant>,
}

impl State {
    pub fn new(timing: DemoTiming) -> Self {
        Self {
            timing,
            devices: HashMap::new(),
            by_user_code: HashMap::new(),
            wrong: HashMap::new(),
            tokens: Tokens::default(),
            last_sweep: None,
        }
    }

    /// Drops what has expired; at most once a second unless `force`.
    pub fn sweep(&mut self, now: Instant, force: bool) {
        if !force
            && self
                .last_sweep
                .is_some_and(|at| now.saturating_duration_since(at) < Duration::from_secs(1))
        {
            return;
        }
        self.last_sweep = Some(now);
        let by_user_code = &mut self.by_user_code;
        self.devices.retain(|_, entry| {
            let keep = now < entry.expires_at + EXPIRED_GRACE;
            if !keep {
                by_user_code.remove(&entry.user_code);
            }
            keep
        });
        self.wrong.retain(|_, times| {
            while times
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= ATTEMPT_WINDOW)
            {
                times.pop_front();
            }
            !times.is_empty()
        });
        self.tokens.sweep(now);
    }

    /// Whether another device code fits.
    pub fn has_room_for_code(&mut self, now: Instant) -> bool {
        self.sweep(now, false);
        if self.devices.len() >= MAX_DEVICE_CODES {
            self.sweep(now, true);
        }
        self.devices.len() < MAX_DEVICE_CODES
    }

    /// Whether this user code is taken (by a live or recently expired code).
    pub fn user_code_taken(&self, user_code: &str) -> bool {
        self.by_user_code.contains_key(user_code)
    }

    /// Records a new device authorization with the current timing.
    pub fn add_code(
        &mut self,
        device_code: String,
        user_code: String,
        scope: String,
        now: Instant,
    ) -> &DeviceEntry {
        let entry = DeviceEntry {
            user_code: user_code.clone(),
            scope,
            issued_at: now,
            issued_wall: SystemTime::now(),
            expires_at: now + self.timing.code_ttl,
            interval: self.timing.interval,
            last_poll: None,
            status: Status::Pending,
        };
        self.by_user_code.insert(user_code, device_code.clone());
        self.devices
            .entry(device_code)
            .insert_entry(entry)
            .into_mut()
    }

    /// RFC 8628 §3.5: one poll. An approved code is redeemed by this poll.
    pub fn poll(&mut self, device_code: &str, now: Instant) -> Poll {
        self.sweep(now, false);
        let Some(entry) = self.devices.get_mut(device_code) else {
            return Poll::Unknown;
        };
        if entry.status == Status::Redeemed {
            return Poll::Redeemed;
        }
        if now >= entry.expires_at {
            return Poll::Expired;
        }
        match &entry.status {
            Status::Denied => Poll::Denied,
            Status::Approved { username } => {
                let poll = Poll::Approved {
                    username: username.clone(),
                    scope: entry.scope.clone(),
                };
                entry.status = Status::Redeemed;
                poll
            }
            Status::Pending | Status::Redeemed => {
                let too_fast = entry.last_poll.is_some_and(|last| {
                    now.saturating_duration_since(last) + POLL_SLACK < entry.interval
                });
                entry.last_poll = Some(now);
                if too_fast {
                    entry.interval += SLOW_DOWN_STEP;
                    Poll::SlowDown
                } else {
                    Poll::Pending
                }
            }
        }
    }

    /// What the phone page should say about a (normalized) user code.
    pub fn lookup(&mut self, user_code: &str, now: Instant) -> Lookup {
        self.sweep(now, false);
        let Some(entry) = self
            .by_user_code
            .get(user_code)
            .and_then(|d| self.devices.get(d))
        else {
            return Lookup::Unknown;
        };
        match entry.status {
            Status::Pending if now < entry.expires_at => Lookup::Pending {
                issued_wall: entry.issued_wall,
                age: now.saturating_duration_since(entry.issued_at),
                expires_in: entry.expires_at.saturating_duration_since(now),
            },
            Status::Pending => Lookup::Expired,
            _ => Lookup::Used,
        }
    }

    /// The person allowed (`Some(user)`) or denied (`None`) the sign-in for a user code.
    pub fn decide(
        &mut self,
        user_code: &str,
        username: Option<&str>,
        now: Instant,
    ) -> Result<(), DecideError> {
        let device = self
            .by_user_code
            .get(user_code)
            .ok_or(DecideError::Unknown)?;
        let entry = self.devices.get_mut(device).ok_or(DecideError::Unknown)?;
        if entry.status != Status::Pending {
            return Err(DecideError::Used);
        }
        if now >= entry.expires_at {
            return Err(DecideError::Expired);
        }
        entry.status = match username {
            Some(username) => Status::Approved {
                username: username.to_owned(),
            },
            None => Status::Denied,
        };
        Ok(())
    }

    /// Whether any of these keys (browser, address) has used up its wrong codes.
    pub fn wrong_codes_exhausted(&mut self, keys: &[(&str, usize)], now: Instant) -> bool {
        self.sweep(now, false);
        keys.iter().any(|(key, limit)| {
            let recent = self.wrong.get(*key).map_or(0, |times| {
                times
                    .iter()
                    .filter(|t| now.saturating_duration_since(**t) < ATTEMPT_WINDOW)
                    .count()
            });
            recent >= *limit || (!self.wrong.contains_key(*key) && self.wrong.len() >= MAX_COUNTERS)
        })
    }

    /// Counts a wrong code against each key.
    pub fn record_wrong_code(&mut self, keys: &[(&str, usize)], now: Instant) {
        for (key, limit) in keys {
            if !self.wrong.contains_key(*key) && self.wrong.len() >= MAX_COUNTERS {
                continue;
            }
            let times = self.wrong.entry((*key).to_owned()).or_default();
            times.push_back(now);
            while times.len() > *limit {
                times.pop_front();
            }
        }
    }

    #[cfg(test)]
    pub fn code_count(&self) -> usize {
        self.devices.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn state() -> (State, Instant) {
        let timing = DemoTiming {
            code_ttl: S(60),
            interval: S(5),
            ..DemoTiming::default()
        };
        let mut state = State::new(timing);
        let t0 = Instant::now();
        state.add_code("dc".into(), "BCDFGHJK".into(), "openid".into(), t0);
        (state, t0)
    }

    #[test]
    fn polling_rules() {
        let (mut s, t0) = state();
        assert_eq!(s.poll("dc", t0 + S(5)), Poll::Pending);
        assert_eq!(
            s.poll("dc", t0 + S(6)),
            Poll::SlowDown,
            "1 s after the last poll"
        );
        // The interval is now 10 s, counted from the last (too early) poll; then 15 s.
        assert_eq!(s.poll("dc", t0 + S(12)), Poll::SlowDown);
        assert_eq!(s.poll("dc", t0 + S(27)), Poll::Pending);
        assert_eq!(s.poll("dc", t0 + S(42)), Poll::Pending);
        assert_eq!(s.poll("nope", t0 + S(42)), Poll::Unknown);
        s.decide("BCDFGHJK", Some("alice"), t0 + S(43)).unwrap();
        assert_eq!(
            s.poll("dc", t0 + S(44)),
            Poll::Approved {
                username: "alice".into(),
                scope: "openid".into()
            }
        );
        assert_eq!(s.poll("dc", t0 + S(50)), Poll::Redeemed);
        assert_eq!(s.lookup("BCDFGHJK", t0 + S(50)), Lookup::Used);
        assert_eq!(
            s.decide("BCDFGHJK", None, t0 + S(50)),
            Err(DecideError::Used)
        );
    }

    #[test]
    fn denial_and_expiry() {
        let (mut s, t0) = state();
        assert!(matches!(
            s.lookup("BCDFGHJK", t0 + S(1)),
            Lookup::Pending { .. }
        ));
        s.decide("BCDFGHJK", None, t0 + S(2)).unwrap();
        assert_eq!(s.poll("dc", t0 + S(5)), Poll::Denied);
        assert_eq!(s.poll("dc", t0 + S(10)), Poll::Denied);
        assert_eq!(s.poll("dc", t0 + S(60)), Poll::Expired);

        let (mut s, t0) = state();
        assert_eq!(s.lookup("BCDFGHJK", t0 + S(60)), Lookup::Expired);
        assert_eq!(
            s.decide("BCDFGHJK", Some("alice"), t0 + S(61)),
            Err(DecideError::Expired)
        );
        assert_eq!(s.poll("dc", t0 + S(61)), Poll::Expired);
        // After the grace period the code is forgotten.
        assert_eq!(s.poll("dc", t0 + S(60) + EXPIRED_GRACE), Poll::Unknown);
        assert_eq!(
            s.lookup("BCDFGHJK", t0 + S(60) + EXPIRED_GRACE),
            Lookup::Unknown
        );
        assert!(!s.user_code_taken("BCDFGHJK"));
        assert_eq!(s.code_count(), 0);
    }

    #[test]
    fn wrong_codes_are_limited_per_key() {
        let (mut s, t0) = state();
        let keys = [("flow:a", 5), ("ip:1", 20)];
        for i in 0..5 {
            assert!(!s.wrong_codes_exhausted(&keys, t0 + S(i)));
            s.record_wrong_code(&keys, t0 + S(i));
        }
        assert!(s.wrong_codes_exhausted(&keys, t0 + S(10)));
        assert!(!s.wrong_codes_exhausted(&[("flow:b", 5), ("ip:1", 20)], t0 + S(10)));
        // The window slides: the first attempt leaves it after 5 minutes.
        assert!(!s.wrong_codes_exhausted(&keys, t0 + ATTEMPT_WINDOW + S(1)));
    }
}
