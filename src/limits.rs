//! Limits at the HTTP edge: which address a request comes from (the peer, or what trusted
//! proxies wrote into `X-Forwarded-For`), a keyed `governor` limiter of new codes over those
//! addresses, the per-server cap on pairings in progress (`pairings`) and the per-address cap
//! on push streams (`streams`).

pub mod streams;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

/// Rate limit per client address: at most `per_minute` new codes in a burst, refilled at
/// `per_minute` a minute (GCRA, from `governor`). IPv6 clients are keyed by their /64, which
/// one client can hop around in freely.
pub struct AddressLimiter<C: Clock = DefaultClock> {
    limiter: RateLimiter<IpAddr, DashMapStateStore<IpAddr>, C, NoOpMiddleware<C::Instant>>,
}

impl AddressLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self::with_clock(per_minute, DefaultClock::default())
    }
}

impl<C: Clock> AddressLimiter<C> {
    /// A limiter on `clock` (tests pass `governor::clock::FakeRelativeClock`).
    pub fn with_clock(per_minute: u32, clock: C) -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        Self {
            limiter: RateLimiter::dashmap_with_clock(quota, clock),
        }
    }

    /// Takes one new code for `address`, or says how long until one is allowed.
    pub fn check(&self, address: IpAddr) -> Result<(), Duration> {
        self.limiter
            .check_key(&address_key(address))
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }

    /// Forgets addresses whose allowance is full again.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Addresses remembered.
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }
}

/// What limits count a client by: its address, with IPv4-mapped IPv6 as IPv4 and other IPv6
/// addresses cut to their /64.
pub fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !((1u128 << 64) - 1))),
        },
    }
}

/// The client's address for the limits. With `trusted_hops` proxies in front of the server
/// (`TRUST_PROXY`, `TRUST_PROXY_HOPS`; see `Settings::trusted_proxy_hops`), it is the
/// `X-Forwarded-For` entry that many places from the right: each proxy appends the address
/// it was reached from, so the entries further left are whatever the client sent and prove
/// nothing. With fewer entries than proxies, the left-most (all were written by proxies).
/// Without trusted proxies, or when that entry is not an address, it is the peer address of
/// the connection (`ConnectInfo`, present when served by `listener::serve`).
pub fn client_address(parts: &http::request::Parts, trusted_hops: usize) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    if trusted_hops == 0 {
        return peer;
    }
    // Several header lines are one list, in order (RFC 9110 §5.3).
    let entries: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let at = entries.len().saturating_sub(trusted_hops);
    entries
        .get(at)
        .and_then(|entry| parse_address(entry))
        .or(peer)
}

/// `1.2.3.4`, `::1`, `1.2.3.4:5678` or `[::1]:5678`.
fn parse_address(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn parts(peer: &str, forwarded: Option<&str>) -> http::request::Parts {
        let mut request = http::Request::builder().uri("/api/start");
        if let Some(value) = forwarded {
            request = request.header("x-forwarded-for", value);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        parts.extensions.insert(axum::extract::ConnectInfo(
            peer.parse::<SocketAddr>().unwrap(),
        ));
        parts
    }

    #[test]
    fn address_limit_refills_over_the_minute() {
        let clock = FakeRelativeClock::default();
        let limiter = AddressLimiter::with_clock(3, clock.clone());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limiter.check(a), Ok(()));
        }
        // A burst of 3, then one more every 20 s.
        assert_eq!(limiter.check(a), Err(Duration::from_secs(20)));
        assert_eq!(
            limiter.check(b),
            Ok(()),
            "other addresses have their own allowance"
        );
        clock.advance(Duration::from_secs(15));
        assert_eq!(limiter.check(a), Err(Duration::from_secs(5)));
        clock.advance(Duration::from_secs(5));
        assert_eq!(limiter.check(a), Ok(()));
        assert!(limiter.check(a).is_err());
        // governor keeps a key one refill step longer than strictly needed.
        clock.advance(Duration::from_secs(80));
        limiter.forget_idle();
        assert!(limiter.is_empty(), "full allowances are forgotten");
        for _ in 0..3 {
            assert_eq!(limiter.check(a), Ok(()));
        }
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let limiter = AddressLimiter::with_clock(1, FakeRelativeClock::default());
        assert_eq!(limiter.check("2001:db8:1:2::1".parse().unwrap()), Ok(()));
        assert!(limiter
            .check("2001:db8:1:2:ffff::9".parse().unwrap())
            .is_err());
        assert_eq!(limiter.check("2001:db8:1:3::1".parse().unwrap()), Ok(()));
        assert_eq!(limiter.check("::ffff:192.0.2.7".parse().unwrap()), Ok(()));
        assert!(
            limiter.check("192.0.2.7".parse().unwrap()).is_err(),
            "IPv4-mapped is the IPv4 address"
        );
    }

    #[test]
    fn client_address_counts_trusted_proxies_from_the_right() {
        let ip = |text: &str| Some(text.parse::<IpAddr>().unwrap());
        let peer = ip("10.0.0.9");
        // The client wrote "203.0.113.5"; the proxy appended the address it saw.
        let p = parts("10.0.0.9:5555", Some("203.0.113.5, 198.51.100.7"));
        assert_eq!(client_address(&p, 0), peer, "no proxy trusted");
        assert_eq!(client_address(&p, 1), ip("198.51.100.7"));
        assert_eq!(client_address(&p, 2), ip("203.0.113.5"), "two proxies");
        assert_eq!(
            client_address(&p, 3),
            ip("203.0.113.5"),
            "short lists: the left-most"
        );
        // Whatever the client puts in front changes nothing.
        for sent in ["", "1.2.3.4", "1.2.3.4, 5.6.7.8", "junk, , ::1"] {
            let p = parts("10.0.0.9:5555", Some(&format!("{sent}, 198.51.100.7")));
            assert_eq!(client_address(&p, 1), ip("198.51.100.7"), "{sent:?}");
        }
        let p = parts("10.0.0.9:5555", Some("[2001:db8::1]:4711"));
        assert_eq!(client_address(&p, 1), ip("2001:db8::1"));
        let p = parts("10.0.0.9:5555", Some("203.0.113.5, unknown"));
        assert_eq!(client_address(&p, 1), peer, "junk falls back to the peer");
        let p = parts("10.0.0.9:5555", None);
        assert_eq!(client_address(&p, 1), peer);
        let (bare, ()) = http::Request::builder().body(()).unwrap().into_parts();
        assert_eq!(client_address(&bare, 0), None);
    }

    #[test]
    fn several_forwarded_for_lines_are_one_list() {
        let mut request = http::Request::builder()
            .header("x-forwarded-for", "203.0.113.5")
            .header("x-forwarded-for", "198.51.100.7, 192.0.2.1");
        request = request.uri("/");
        let (parts, ()) = request.body(()).unwrap().into_parts();
        assert_eq!(
            client_address(&parts, 1),
            Some("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            client_address(&parts, 3),
            Some("203.0.113.5".parse().unwrap())
        );
    }
}
