//! Rate limiting by client address: which address a request comes from (the peer, or a
//! trusted proxy's `X-Forwarded-For`) and a keyed `governor` limiter over those addresses.

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

    fn key(address: IpAddr) -> IpAddr {
        match address {
            IpAddr::V4(_) => address,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !((1u128 << 64) - 1))),
            },
        }
    }

    /// Takes one new code for `address`, or says how long until one is allowed.
    pub fn check(&self, address: IpAddr) -> Result<(), Duration> {
        self.limiter
            .check_key(&Self::key(address))
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

/// The client's address for rate limiting: the first `X-Forwarded-For` entry when the proxy
/// is trusted (`TRUST_PROXY`) and it holds an address, else the peer address of the
/// connection (`ConnectInfo`, present when served by `start::serve`).
pub fn client_address(parts: &http::request::Parts, trust_proxy: bool) -> Option<IpAddr> {
    let forwarded = trust_proxy
        .then(|| {
            parts
                .headers
                .get("x-forwarded-for")?
                .to_str()
                .ok()?
                .split(',')
                .next()
                .map(str::trim)
                .and_then(parse_address)
        })
        .flatten();
    forwarded.or_else(|| {
        parts
            .extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
    })
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
    fn client_address_uses_forwarded_for_only_when_trusted() {
        let peer: IpAddr = "10.0.0.9".parse().unwrap();
        let p = parts("10.0.0.9:5555", Some("203.0.113.5, 10.0.0.1"));
        assert_eq!(client_address(&p, false), Some(peer));
        assert_eq!(
            client_address(&p, true),
            Some("203.0.113.5".parse().unwrap())
        );
        let p = parts("10.0.0.9:5555", Some("[2001:db8::1]:4711"));
        assert_eq!(
            client_address(&p, true),
            Some("2001:db8::1".parse().unwrap())
        );
        let p = parts("10.0.0.9:5555", Some("unknown"));
        assert_eq!(
            client_address(&p, true),
            Some(peer),
            "junk falls back to the peer"
        );
        let p = parts("10.0.0.9:5555", None);
        assert_eq!(client_address(&p, true), Some(peer));
        let (bare, ()) = http::Request::builder().body(()).unwrap().into_parts();
        assert_eq!(client_address(&bare, false), None);
    }
}
