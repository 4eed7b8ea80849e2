//! Which provider URLs the client will send anything to: `https`, or plain `http` only to
//! this machine (or anywhere when the settings allow it for a lab), and an endpoint that
//! discovery places on this machine only when the provider itself is on this machine.
//!
//! Tokens, device codes, passwords and the client secret travel to these URLs, so a
//! discovery document (or a network in between) must not be able to send them in clear text,
//! or point the server at its own neighbours on loopback (Redis, say).

use std::net::IpAddr;

use url::{Host, Url};

/// Whether a URL points at this machine (loopback, the unspecified address, which the
/// kernel delivers locally, or `localhost`): the only place where unencrypted traffic to a
/// provider or to Redis is fine.
pub fn is_this_machine(url: &Url) -> bool {
    let local = |ip: IpAddr| {
        ip.is_loopback()
            || ip.is_unspecified()
            || matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback() || v4.is_unspecified()))
    };
    match url.host() {
        Some(Host::Ipv4(ip)) => local(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => local(IpAddr::V6(ip)),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Why a URL is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Neither `https` nor `http`.
    Scheme,
    /// Plain `http` to another machine.
    PlainHttp,
    /// Discovery names this machine, but the provider is elsewhere.
    ThisMachine,
}

impl Refusal {
    /// A sentence for logs and `check-config`.
    pub fn explain(self) -> &'static str {
        match self {
            Self::Scheme => "is not an https URL",
            Self::PlainHttp => {
                "uses plain http to another machine; use https (ALLOW_HTTP_PROVIDER=true allows it for a lab)"
            }
            Self::ThisMachine => {
                "points at this machine, but the provider is elsewhere; discovery may not send the server to its own neighbours"
            }
        }
    }
}

/// The rules for one provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UrlPolicy {
    /// `ALLOW_HTTP_PROVIDER`: plain http to any host (a lab).
    pub allow_plain_http: bool,
    /// The provider the settings name is on this machine.
    pub provider_is_local: bool,
}

impl UrlPolicy {
    /// Checks a URL; `discovered` when it came from the provider's discovery document rather
    /// than from the settings.
    pub fn check(self, url: &Url, discovered: bool) -> Result<(), Refusal> {
        let local = is_this_machine(url);
        match url.scheme() {
            "https" => {}
            "http" if local || self.allow_plain_http => {}
            "http" => return Err(Refusal::PlainHttp),
            _ => return Err(Refusal::Scheme),
        }
        if discovered && local && !self.provider_is_local {
            return Err(Refusal::ThisMachine);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn this_machine() {
        for local in [
            "http://127.0.0.1:4000/",
            "http://127.9.9.9/",
            "http://[::1]:80/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0:6379/",
            "http://[::]/",
            "http://LOCALHOST:3000/",
        ] {
            assert!(is_this_machine(&url(local)), "{local}");
        }
        for remote in [
            "http://192.0.2.1/",
            "http://idp.example/",
            "http://localhost.example/",
            "http://[2001:db8::1]/",
        ] {
            assert!(!is_this_machine(&url(remote)), "{remote}");
        }
    }

    #[test]
    fn https_everywhere_http_only_here() {
        let remote = UrlPolicy {
            allow_plain_http: false,
            provider_is_local: false,
        };
        let local = UrlPolicy {
            provider_is_local: true,
            ..remote
        };
        let lab = UrlPolicy {
            allow_plain_http: true,
            ..remote
        };
        // (policy, URL, discovered, expected)
        let cases = [
            (remote, "https://idp.example/token", true, Ok(())),
            (
                remote,
                "http://idp.example/token",
                false,
                Err(Refusal::PlainHttp),
            ),
            (
                remote,
                "http://idp.example/token",
                true,
                Err(Refusal::PlainHttp),
            ),
            (
                remote,
                "ftp://idp.example/token",
                false,
                Err(Refusal::Scheme),
            ),
            (remote, "file:///etc/passwd", true, Err(Refusal::Scheme)),
            // Settings may name a local helper; discovery from elsewhere may not.
            (remote, "http://127.0.0.1:8080/token", false, Ok(())),
            (
                remote,
                "http://127.0.0.1:6379/",
                true,
                Err(Refusal::ThisMachine),
            ),
            (
                remote,
                "https://localhost/token",
                true,
                Err(Refusal::ThisMachine),
            ),
            (
                remote,
                "http://0.0.0.0:6379/",
                true,
                Err(Refusal::ThisMachine),
            ),
            (local, "http://127.0.0.1:4000/token", true, Ok(())),
            (
                local,
                "http://idp.example/token",
                true,
                Err(Refusal::PlainHttp),
            ),
            (lab, "http://idp.lab/token", true, Ok(())),
            (
                lab,
                "http://127.0.0.1:6379/",
                true,
                Err(Refusal::ThisMachine),
            ),
        ];
        for (policy, text, discovered, expected) in cases {
            assert_eq!(
                policy.check(&url(text), discovered),
                expected,
                "{policy:?} {text} discovered={discovered}"
            );
        }
    }
}
