//! The demo provider's rate limit per client address, on the requests that add to its stores
//! or check a password: device authorizations, the password and refresh grants, and the
//! phone page's forms. Without it, one machine on the network could fill the grant store
//! (after which every TV polls into `slow_down`), use up the device codes, or guess the
//! passwords of DEMO_USERS.
//!
//! The server's own provider client reaches the demo provider from this machine, straight
//! and without `X-Forwarded-For`; it is not limited here, because the TVs it speaks for are
//! limited already (`PAIRING_RATE_LIMIT`, per TV and per address).

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;

use super::DemoIdp;
use crate::limits::{client_address, AddressLimiter};

/// Requests a minute per address (a burst of this many, refilled over the minute). A person
/// on a phone needs two or three; a script needs thousands.
pub const PER_MINUTE: u32 = 20;
/// How often addresses with a full allowance again are forgotten.
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// Who sent a request, as far as the limit is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// Straight from this machine: the server's own provider client.
    ThisMachine,
    /// Anyone else, by address (the peer, or what a trusted proxy says).
    Address(IpAddr),
    /// No address known (a router driven without a listener, in tests).
    Unknown,
}

impl Caller {
    /// Straight from this machine means a loopback peer that no proxy speaks for: with
    /// `TRUST_PROXY`, a proxy on this machine forwards other people's requests, and names
    /// them in `X-Forwarded-For`.
    pub fn of(parts: &Parts, trusted_hops: usize) -> Self {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        let forwarded = trusted_hops > 0 && parts.headers.contains_key("x-forwarded-for");
        if peer.is_some_and(|ip| ip.is_loopback()) && !forwarded {
            return Self::ThisMachine;
        }
        client_address(parts, trusted_hops).map_or(Self::Unknown, Self::Address)
    }
}

impl FromRequestParts<Arc<DemoIdp>> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        idp: &Arc<DemoIdp>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts, idp.config.trusted_proxy_hops))
    }
}

/// The per-address allowance (the app's keyed `governor` limiter).
pub struct DemoLimiter {
    addresses: AddressLimiter,
    last_forget: Mutex<Instant>,
}

impl Default for DemoLimiter {
    fn default() -> Self {
        Self {
            addresses: AddressLimiter::new(PER_MINUTE),
            last_forget: Mutex::new(Instant::now()),
        }
    }
}

impl DemoLimiter {
    /// Takes one request from the caller's allowance, or says how long until one is allowed.
    pub fn take(&self, caller: Caller) -> Result<(), Duration> {
        let Caller::Address(address) = caller else {
            return Ok(());
        };
        let result = self.addresses.check(address);
        self.forget_now_and_then();
        result
    }

    /// Keeps the table to the addresses seen in the last minute or so.
    fn forget_now_and_then(&self) {
        let Ok(mut last) = self.last_forget.lock() else {
            return;
        };
        if last.elapsed() >= FORGET_EVERY {
            *last = Instant::now();
            drop(last);
            self.addresses.forget_idle();
        }
    }
}

/// Whole seconds to wait, at least 1 (for `Retry-After`).
pub fn retry_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(peer: &str, forwarded: Option<&str>) -> Parts {
        let mut request = http::Request::builder().uri("/demo-idp/token");
        if let Some(value) = forwarded {
            request = request.header("x-forwarded-for", value);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        parts
    }

    #[test]
    fn only_unforwarded_loopback_is_this_machine() {
        let lan: IpAddr = "192.168.1.7".parse().unwrap();
        let cases = [
            (parts("127.0.0.1:5000", None), 0, Caller::ThisMachine),
            (parts("[::1]:5000", None), 1, Caller::ThisMachine),
            (parts("192.168.1.7:5000", None), 0, Caller::Address(lan)),
            // Not trusted: the header changes nothing.
            (
                parts("127.0.0.1:5000", Some("192.168.1.7")),
                0,
                Caller::ThisMachine,
            ),
            // A proxy on this machine speaks for someone else.
            (
                parts("127.0.0.1:5000", Some("192.168.1.7")),
                1,
                Caller::Address(lan),
            ),
            // Whatever that someone claims, it is limited like anyone else.
            (
                parts("127.0.0.1:5000", Some("127.0.0.1")),
                1,
                Caller::Address("127.0.0.1".parse().unwrap()),
            ),
        ];
        for (parts, hops, expected) in cases {
            assert_eq!(Caller::of(&parts, hops), expected, "{parts:?}");
        }
        let (bare, ()) = http::Request::builder().body(()).unwrap().into_parts();
        assert_eq!(Caller::of(&bare, 0), Caller::Unknown);
    }

    #[test]
    fn addresses_are_limited_and_this_machine_is_not() {
        let limiter = DemoLimiter::default();
        let lan = Caller::Address("192.168.1.7".parse().unwrap());
        for _ in 0..PER_MINUTE {
            assert_eq!(limiter.take(lan), Ok(()));
        }
        let wait = limiter.take(lan).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(3),
            "{wait:?}"
        );
        assert_eq!(retry_secs(Duration::from_millis(2001)), 3);
        assert_eq!(retry_secs(Duration::from_secs(3)), 3);
        for _ in 0..100 {
            assert_eq!(limiter.take(Caller::ThisMachine), Ok(()));
        }
        assert_eq!(
            limiter.take(Caller::Address("192.168.1.8".parse().unwrap())),
            Ok(())
        );
    }
}
