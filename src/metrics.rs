//! Prometheus metrics: what the pairing core and the HTTP edge count, rendered in the text
//! exposition format for `GET /metrics` (served by `server::metrics_endpoint`).
//!
//! Each [`Metrics`] owns its own recorder, made by `PrometheusBuilder::build_recorder()`, and
//! lives in the [`Hub`](crate::pairing::Hub) (the HTTP edge reaches it through `AppState::metrics()`). Nothing
//! is installed as the process-wide `metrics` recorder: the `metrics` macros only ever talk to
//! that global one, so this module does not use them and registers its counters and gauges on
//! its own recorder through the `metrics::Recorder` trait instead. Several app states in one
//! process (the integration tests build many) therefore each count on their own, and none can
//! panic or fail installing a second global recorder.
//!
//! Metrics (all counters are pre-registered, so a scrape shows them at 0 from the start):
//!
//! | name | labels | meaning |
//! | --- | --- | --- |
//! | `tvsignin_pairings_started_total` | | device authorizations started (Sign in, New code) |
//! | `tvsignin_pairings_finished_total` | `outcome` | how pairings ended: `signed_in`, `denied`, `expired`, `cancelled` (Cancel pressed), `replaced` (New code), `rejected` (the provider ended it), `failed` (sign-in could not be completed), `abandoned` (no TV watching) |
//! | `tvsignin_pairings_throttled_total` | `limit` | new codes refused: `session` or `address` limit, or `server` (`MAX_PAIRINGS` in progress) |
//! | `tvsignin_sign_ins_total` | `client_id` | completed sign-ins, by the provider client id used |
//! | `tvsignin_token_polls_total` | `outcome` | device-code polls sent: `tokens`, `pending`, `slow_down`, `access_denied`, `expired_token`, another OAuth code (`invalid_grant`, ..., `other_oauth_error` for non-standard ones), `trouble` (network, 5xx, malformed), or a [`ProviderError::kind`] for other unusable answers |
//! | `tvsignin_provider_errors_total` | `operation`, `kind` | provider requests that failed, by what the server was doing (`device_authorization`, `token_poll`, `sign_in`, `refresh`, `revocation`) and [`ProviderError::kind`] |
//! | `tvsignin_push_connections` | | open `/events` streams (gauge) |
//! | `tvsignin_push_streams_refused_total` | | `/events` streams refused: `MAX_PUSH_STREAMS_PER_ADDRESS` open from that address |
//! | `tvsignin_connections` | | open connections (gauge) |
//! | `tvsignin_connections_refused_total` | | connections refused: `MAX_CONNECTIONS` open |
//! | `tvsignin_pairings_in_progress` | | pairings this server runs (gauge, set at scrape) |
//! | `tvsignin_tv_sessions` | | TV sessions held in memory (gauge, set at scrape) |
//! | `tvsignin_provider_discovery_loaded` | | 1 once discovery has loaded (gauge, set at scrape) |
//! | `tvsignin_provider_healthy` | | 1 when the provider's last request did not fail at the network level (gauge, set at scrape) |

use std::sync::Arc;

use metrics::{Counter, Gauge, Key, KeyName, Label, Level, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::oidc::error::{ErrorCode, ProviderError};
use crate::oidc::polling::{self, PollResponse};

pub const PAIRINGS_STARTED: &str = "tvsignin_pairings_started_total";
pub const PAIRINGS_FINISHED: &str = "tvsignin_pairings_finished_total";
pub const PAIRINGS_THROTTLED: &str = "tvsignin_pairings_throttled_total";
pub const SIGN_INS: &str = "tvsignin_sign_ins_total";
pub const TOKEN_POLLS: &str = "tvsignin_token_polls_total";
pub const PROVIDER_ERRORS: &str = "tvsignin_provider_errors_total";
pub const PUSH_CONNECTIONS: &str = "tvsignin_push_connections";
pub const PUSH_STREAMS_REFUSED: &str = "tvsignin_push_streams_refused_total";
pub const CONNECTIONS: &str = "tvsignin_connections";
pub const CONNECTIONS_REFUSED: &str = "tvsignin_connections_refused_total";
pub const PAIRINGS_IN_PROGRESS: &str = "tvsignin_pairings_in_progress";
pub const TV_SESSIONS: &str = "tvsignin_tv_sessions";
pub const DISCOVERY_LOADED: &str = "tvsignin_provider_discovery_loaded";
pub const PROVIDER_HEALTHY: &str = "tvsignin_provider_healthy";
pub const FORWARD_AUTH_CHECKS: &str = "tvsignin_forward_auth_checks_total";

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const METADATA: Metadata<'static> = Metadata::new("tvsignin", Level::INFO, Some(module_path!()));

/// How a pairing ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairingEnd {
    SignedIn,
    Denied,
    Expired,
    Cancelled,
    Replaced,
    Rejected,
    Failed,
    Abandoned,
}

impl PairingEnd {
    pub const ALL: [PairingEnd; 8] = [
        Self::SignedIn,
        Self::Denied,
        Self::Expired,
        Self::Cancelled,
        Self::Replaced,
        Self::Rejected,
        Self::Failed,
        Self::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignedIn => "signed_in",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Replaced => "replaced",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Abandoned => "abandoned",
        }
    }
}

/// Which limit refused a new code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThrottledBy {
    Session,
    Address,
    /// `MAX_PAIRINGS` pairings in progress on this server.
    Server,
}

impl ThrottledBy {
    const ALL: [ThrottledBy; 3] = [Self::Session, Self::Address, Self::Server];

    fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Address => "address",
            Self::Server => "server",
        }
    }
}

/// What a forward-auth check (`<prefix>/auth`) answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckResult {
    /// Signed in: the identity headers.
    Allowed,
    /// No signed-in session behind the cookie (or no cookie).
    NotSignedIn,
    /// Signed in until this check found the access gone (refused by the provider, or
    /// expired unrefreshed): the TV was signed out.
    Ended,
    /// The session store failed: try again.
    Unavailable,
}

impl CheckResult {
    const ALL: [CheckResult; 4] = [
        Self::Allowed,
        Self::NotSignedIn,
        Self::Ended,
        Self::Unavailable,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::NotSignedIn => "not_signed_in",
            Self::Ended => "ended",
            Self::Unavailable => "unavailable",
        }
    }
}

/// The values read at scrape time rather than counted as they happen.
pub struct Scrape {
    pub tv_sessions: usize,
    pub pairings_in_progress: usize,
    pub discovery_loaded: bool,
    pub provider_healthy: bool,
}

/// The app's metrics: one recorder per app state. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    pairings_started: Counter,
    push_connections: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// The label value for one poll's answer: tokens, the provider's OAuth code, `trouble`
/// when the polling rules back off (their split: [`polling::response_to`]), else the kind
/// of unusable answer.
fn poll_outcome(answer: Result<(), &ProviderError>) -> &'static str {
    match answer {
        Ok(()) => "tokens",
        Err(ProviderError::OAuth(e)) => match &e.code {
            ErrorCode::AuthorizationPending => "pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            // Provider-defined codes are not used as label values: their number is unbounded.
            ErrorCode::Other(_) => "other_oauth_error",
        },
        Err(e) => match polling::response_to(e) {
            PollResponse::Trouble => "trouble",
            _ => e.kind(),
        },
    }
}

impl Metrics {
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let describe = |name: &'static str, unit: Unit, text: &'static str| {
            recorder.describe_counter(
                KeyName::from_const_str(name),
                Some(unit),
                SharedString::const_str(text),
            );
        };
        describe(
            PAIRINGS_STARTED,
            Unit::Count,
            "Device authorizations started",
        );
        describe(PAIRINGS_FINISHED, Unit::Count, "Pairings ended, by outcome");
        describe(
            PAIRINGS_THROTTLED,
            Unit::Count,
            "New codes refused by a rate limit",
        );
        describe(
            SIGN_INS,
            Unit::Count,
            "Completed sign-ins, by provider client id",
        );
        describe(
            TOKEN_POLLS,
            Unit::Count,
            "Device-code polls of the token endpoint, by outcome",
        );
        describe(
            PROVIDER_ERRORS,
            Unit::Count,
            "Failed provider requests, by operation and error kind",
        );
        describe(
            PUSH_STREAMS_REFUSED,
            Unit::Count,
            "Push streams refused: too many open from one address",
        );
        describe(
            CONNECTIONS_REFUSED,
            Unit::Count,
            "Connections refused: MAX_CONNECTIONS open",
        );
        describe(
            FORWARD_AUTH_CHECKS,
            Unit::Count,
            "Forward-auth checks of the app's requests, by result",
        );
        let describe_gauge = |name: &'static str, text: &'static str| {
            recorder.describe_gauge(
                KeyName::from_const_str(name),
                None,
                SharedString::const_str(text),
            );
        };
        describe_gauge(PUSH_CONNECTIONS, "Open push (/events) streams");
        describe_gauge(TV_SESSIONS, "TV sessions held in memory");
        describe_gauge(CONNECTIONS, "Open connections");
        describe_gauge(PAIRINGS_IN_PROGRESS, "Pairings this server runs");
        describe_gauge(DISCOVERY_LOADED, "1 once provider discovery has loaded");
        describe_gauge(
            PROVIDER_HEALTHY,
            "1 when the provider's last request did not fail at the network level",
        );

        let pairings_started =
            recorder.register_counter(&Key::from_static_name(PAIRINGS_STARTED), &METADATA);
        let push_connections =
            recorder.register_gauge(&Key::from_static_name(PUSH_CONNECTIONS), &METADATA);
        let metrics = Self {
            inner: Arc::new(Inner {
                recorder,
                handle,
                pairings_started,
                push_connections,
            }),
        };
        // Pre-register the fixed label sets so they show (at 0) before anything happens.
        for end in PairingEnd::ALL {
            metrics
                .counter(
                    PAIRINGS_FINISHED,
                    vec![Label::from_static_parts("outcome", end.as_str())],
                )
                .increment(0);
        }
        for by in ThrottledBy::ALL {
            metrics
                .counter(
                    PAIRINGS_THROTTLED,
                    vec![Label::from_static_parts("limit", by.as_str())],
                )
                .increment(0);
        }
        for result in CheckResult::ALL {
            metrics
                .counter(
                    FORWARD_AUTH_CHECKS,
                    vec![Label::from_static_parts("result", result.as_str())],
                )
                .increment(0);
        }
        for name in [PUSH_STREAMS_REFUSED, CONNECTIONS_REFUSED] {
            metrics.counter(name, Vec::new()).increment(0);
        }
        for outcome in [
            "tokens",
            "pending",
            "slow_down",
            "access_denied",
            "expired_token",
            "trouble",
        ] {
            metrics
                .counter(
                    TOKEN_POLLS,
                    vec![Label::from_static_parts("outcome", outcome)],
                )
                .increment(0);
        }
        metrics
    }

    fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.inner
            .recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
    }

    fn gauge(&self, name: &'static str) -> Gauge {
        self.inner
            .recorder
            .register_gauge(&Key::from_static_name(name), &METADATA)
    }

    pub fn pairing_started(&self) {
        self.inner.pairings_started.increment(1);
    }

    pub fn pairing_finished(&self, end: PairingEnd) {
        self.counter(
            PAIRINGS_FINISHED,
            vec![Label::from_static_parts("outcome", end.as_str())],
        )
        .increment(1);
    }

    pub fn forward_auth_check(&self, result: CheckResult) {
        self.counter(
            FORWARD_AUTH_CHECKS,
            vec![Label::from_static_parts("result", result.as_str())],
        )
        .increment(1);
    }

    pub fn pairing_throttled(&self, by: ThrottledBy) {
        self.counter(
            PAIRINGS_THROTTLED,
            vec![Label::from_static_parts("limit", by.as_str())],
        )
        .increment(1);
    }

    /// A completed sign-in with this provider client id (one server uses one client id, so
    /// the label has a single value in practice).
    pub fn signed_in(&self, client_id: &str) {
        self.counter(
            SIGN_INS,
            vec![Label::new("client_id", client_id.to_owned())],
        )
        .increment(1);
    }

    /// A provider request failed while the server was doing `operation`.
    pub fn provider_error(&self, operation: &'static str, error: &ProviderError) {
        let labels = vec![
            Label::from_static_parts("operation", operation),
            Label::from_static_parts("kind", error.kind()),
        ];
        self.counter(PROVIDER_ERRORS, labels).increment(1);
    }

    /// The pairing core sent a device-code poll and got `answer` (tokens, or the error).
    pub fn token_poll(&self, answer: Result<(), &ProviderError>) {
        let outcome = poll_outcome(answer);
        self.counter(
            TOKEN_POLLS,
            vec![Label::from_static_parts("outcome", outcome)],
        )
        .increment(1);
        if let Err(error) = answer {
            let expected = matches!(
                error.oauth().map(|e| &e.code),
                Some(
                    ErrorCode::AuthorizationPending
                        | ErrorCode::SlowDown
                        | ErrorCode::AccessDenied
                        | ErrorCode::ExpiredToken
                )
            );
            if !expected {
                self.provider_error("token_poll", error);
            }
        }
    }

    /// The open push streams gauge (incremented and decremented by the pairing hub's
    /// `ViewerGuard`).
    pub fn push_connections(&self) -> Gauge {
        self.inner.push_connections.clone()
    }

    /// A push stream was refused (too many open from one address).
    pub fn push_stream_refused(&self) {
        self.counter(PUSH_STREAMS_REFUSED, Vec::new()).increment(1);
    }

    /// The open connections gauge (kept by the listener).
    pub fn connections(&self) -> Gauge {
        self.gauge(CONNECTIONS)
    }

    /// Connections refused at `MAX_CONNECTIONS` (counted by the listener).
    pub fn connections_refused(&self) -> Counter {
        self.counter(CONNECTIONS_REFUSED, Vec::new())
    }

    /// Sets the gauges read at scrape time, then renders (see [`Metrics::render`]).
    pub fn scrape(&self, now: Scrape) -> String {
        self.gauge(TV_SESSIONS).set(now.tv_sessions as f64);
        self.gauge(PAIRINGS_IN_PROGRESS)
            .set(now.pairings_in_progress as f64);
        self.gauge(DISCOVERY_LOADED)
            .set(f64::from(u8::from(now.discovery_loaded)));
        self.gauge(PROVIDER_HEALTHY)
            .set(f64::from(u8::from(now.provider_healthy)));
        self.render()
    }

    /// The current values, in the Prometheus text format.
    pub fn render(&self) -> String {
        self.inner.handle.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::error::OAuthError;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|line| {
            line.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
    }

    #[test]
    fn separate_states_count_separately() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.pairing_started();
        a.pairing_started();
        a.pairing_finished(PairingEnd::SignedIn);
        a.signed_in("tv-public");
        let text = a.render();
        assert_eq!(value(&text, PAIRINGS_STARTED), Some(2.0), "{text}");
        assert_eq!(
            value(
                &text,
                r#"tvsignin_pairings_finished_total{outcome="signed_in"}"#
            ),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            value(
                &text,
                r#"tvsignin_pairings_finished_total{outcome="denied"}"#
            ),
            Some(0.0),
            "{text}"
        );
        assert_eq!(
            value(&text, r#"tvsignin_sign_ins_total{client_id="tv-public"}"#),
            Some(1.0),
            "{text}"
        );
        assert_eq!(value(&b.render(), PAIRINGS_STARTED), Some(0.0));
    }

    #[test]
    fn poll_outcomes_and_errors() {
        let m = Metrics::new();
        let oauth = |code: &str| {
            ProviderError::OAuth(OAuthError {
                code: ErrorCode::parse(code),
                description: None,
            })
        };
        m.token_poll(Err(&oauth("authorization_pending")));
        m.token_poll(Err(&oauth("slow_down")));
        m.token_poll(Err(&oauth("invalid_grant")));
        m.token_poll(Err(&oauth("made_up_by_the_provider")));
        m.token_poll(Err(&ProviderError::Timeout {
            endpoint: "token_endpoint".into(),
        }));
        m.token_poll(Err(&ProviderError::Unsupported("x".into())));
        m.token_poll(Ok(()));
        let text = m.render();
        for (series, n) in [
            (r#"tvsignin_token_polls_total{outcome="pending"}"#, 1.0),
            (r#"tvsignin_token_polls_total{outcome="tokens"}"#, 1.0),
            (r#"tvsignin_token_polls_total{outcome="slow_down"}"#, 1.0),
            (
                r#"tvsignin_token_polls_total{outcome="invalid_grant"}"#,
                1.0,
            ),
            (
                r#"tvsignin_token_polls_total{outcome="other_oauth_error"}"#,
                1.0,
            ),
            (r#"tvsignin_token_polls_total{outcome="trouble"}"#, 1.0),
            (r#"tvsignin_token_polls_total{outcome="unsupported"}"#, 1.0),
            (
                r#"tvsignin_provider_errors_total{operation="token_poll",kind="oauth_error"}"#,
                2.0,
            ),
            (
                r#"tvsignin_provider_errors_total{operation="token_poll",kind="timeout"}"#,
                1.0,
            ),
            (
                r#"tvsignin_provider_errors_total{operation="token_poll",kind="unsupported"}"#,
                1.0,
            ),
        ] {
            assert_eq!(value(&text, series), Some(n), "{series} in {text}");
        }
    }

    #[test]
    fn push_gauge_goes_up_and_down() {
        let m = Metrics::new();
        let gauge = m.push_connections();
        gauge.increment(1.0);
        gauge.increment(1.0);
        gauge.decrement(1.0);
        assert_eq!(value(&m.render(), PUSH_CONNECTIONS), Some(1.0));
    }
}
