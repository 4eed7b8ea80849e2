//! Table tests for the lifecycle rules: from a run of events (the first one usually the
//! record as read), the step the rules answer each with; and what each change does to a
//! record. This module holds the builders and the runner; the tables are in its children.

mod changes;
mod signed_in;
mod starting;
mod waiting;

use std::time::{Duration, Instant};

use serde_json::Map;

use super::*;
use crate::oidc::client::SignedInUser;
use crate::oidc::device::DeviceAuthorization;
use crate::oidc::error::OAuthError;
use crate::oidc::secret::{AccessToken, DeviceCode};
use crate::oidc::ProviderError;

const S: fn(u64) -> Duration = Duration::from_secs;
/// The wall clock at the start of every row.
const T0: u64 = 1_700_000_000_000;

fn kiosk() -> KioskSettings {
    crate::pairing::testing::kiosk()
}

fn ms_at(secs: i64) -> u64 {
    (T0 as i64 + secs * 1000) as u64
}

fn tokens(n: u32, refresh: bool) -> TokenSet {
    TokenSet {
        access_token: AccessToken::new(format!("access-{n}")),
        refresh_token: refresh.then(|| RefreshToken::new(format!("refresh-{n}"))),
        id_token: None,
        expires_in: Some(S(300)),
        scope: None,
    }
}

fn oauth(code: &str) -> ProviderError {
    ProviderError::OAuth(OAuthError {
        code: crate::oidc::error::ErrorCode::parse(code),
        description: None,
    })
}

fn unreachable() -> ProviderError {
    ProviderError::Timeout {
        endpoint: "token_endpoint".into(),
    }
}

fn pairing() -> PairingView {
    PairingView {
        user_code: "CODE-1".into(),
        verification_uri: "https://idp.example/device".into(),
        verification_uri_complete: None,
        qr_svg: String::new(),
        expires_at_ms: ms_at(600),
        interval_secs: 5,
    }
}

fn record(status: TvStatus) -> SessionRecord {
    SessionRecord {
        generation: 1,
        status,
        ..SessionRecord::default()
    }
}

/// A code on screen, valid for `expires_in` seconds from the row's start.
fn waiting(expires_in: i64, trouble: bool) -> SessionRecord {
    let status = if trouble {
        TvStatus::Unreachable {
            pairing: Some(pairing()),
        }
    } else {
        TvStatus::Waiting { pairing: pairing() }
    };
    SessionRecord {
        device: Some(DeviceGrant {
            device_code: DeviceCode::new("device-1"),
            interval: S(5),
            expires_at_ms: ms_at(expires_in),
        }),
        ..record(status)
    }
}

/// Signed in with `tokens` obtained at `tokens_at` (seconds), signing out at `sign_out_at`.
fn signed_in(tokens: TokenSet, tokens_at: i64, sign_out_at: i64) -> SessionRecord {
    let status = TvStatus::SignedIn {
        profile: Profile {
            display_name: "Alice".into(),
            claims: Vec::new(),
        },
        sign_out_at_ms: ms_at(sign_out_at),
        warn_secs: 60,
    };
    SessionRecord {
        tokens: Some(tokens),
        tokens_at_ms: ms_at(tokens_at),
        ..record(status)
    }
}

fn loaded(record: SessionRecord) -> Event {
    Event::Loaded(Ok(Some(record)))
}

fn authorized() -> Event {
    Event::Authorized(Ok(DeviceAuthorization {
        device_code: DeviceCode::new("device-1"),
        user_code: "CODE-1".into(),
        verification_uri: "https://idp.example/device".into(),
        verification_uri_complete: None,
        expires_in: S(600),
        interval: S(5),
        extra: Map::new(),
    }))
}

fn polled(answer: Result<TokenSet, ProviderError>) -> Event {
    Event::Polled(Some(answer))
}

fn seen(secs: i64) -> Event {
    Event::Seen(Ok(Some(ms_at(secs))))
}

fn written() -> Event {
    Event::Wrote(Ok(Written::Changed { taken: None }))
}

fn not_current() -> Event {
    Event::Wrote(Ok(Written::NotCurrent))
}

fn store_down() -> StoreError {
    StoreError::Unavailable("down".into())
}

fn alice() -> Event {
    Event::SignInCompleted(Ok(SignedInUser {
        sub: "alice".into(),
        display_name: "Alice".into(),
        claims: Vec::new(),
        raw: Map::new(),
    }))
}

fn describe_report(report: &Report) -> String {
    match report {
        Report::PairingOver => "pairing-over".into(),
        Report::ReadFailed(_) => "read-failed".into(),
        Report::WriteFailed(_) => "write-failed".into(),
        Report::CodeIssued { user_code, .. } => format!("code-issued {user_code}"),
        Report::StartFailed { retry, .. } => format!("start-failed {retry:?}"),
        Report::Polled(None) => "polled tokens".into(),
        Report::Polled(Some(ProviderError::OAuth(e))) => format!("polled {}", e.code),
        Report::Polled(Some(e)) => format!("polled {}", e.kind()),
        Report::Declined => "declined".into(),
        Report::Expired => "expired".into(),
        Report::Rejected(code) => format!("rejected {code}"),
        Report::Finished(end) => format!("finished {}", end.as_str()),
        Report::SignInFailed(_) => "sign-in-failed".into(),
        Report::SignedIn { sub } => format!("signed-in {sub}"),
        Report::SignInNotStored(_) => "not-stored".into(),
        Report::IdleSignOut => "idle-sign-out".into(),
        Report::Refreshed => "refreshed".into(),
        Report::RefreshFailed(_) => "refresh-failed".into(),
        Report::RefreshUnanswered(_) => "refresh-unanswered".into(),
    }
}

fn describe_change(change: &Change) -> String {
    let secs = |at_ms: u64| (at_ms - T0) / 1000;
    match change {
        Change::LeaseOnly => "lease-only".into(),
        Change::ShowCode { pairing, grant } => format!(
            "show-code {} until {}s",
            pairing.user_code,
            secs(grant.expires_at_ms)
        ),
        Change::Unreachable => "unreachable".into(),
        Change::Restart => "restart".into(),
        Change::PollNews { trouble, interval } => format!("news trouble={trouble} {interval:?}"),
        Change::Outcome { status, home_at_ms } => format!(
            "outcome {} home at {}s",
            status.state_name(),
            secs(*home_at_ms)
        ),
        Change::Home => "home".into(),
        Change::SignedIn { tokens, .. } => format!("signed-in {}", tokens.access_token.expose()),
        Change::SignOutIfDue { .. } => "sign-out-if-due".into(),
        Change::Refreshed { fresh: Some(t), .. } => format!(
            "refreshed {} {}",
            t.access_token.expose(),
            t.refresh_token.as_ref().map_or("-", |r| r.expose())
        ),
        Change::Refreshed { fresh: None, .. } => "refresh-refused".into(),
    }
}

/// One step as text: its reports, then its action.
fn describe(step: &Step) -> String {
    let action = match &step.action {
        Action::Load => "load".into(),
        Action::Sleep(d) => format!("sleep {d:?}"),
        Action::CheckPresence => "presence".into(),
        Action::Authorize => "authorize".into(),
        Action::Poll(code) => format!("poll {}", code.expose()),
        Action::CompleteSignIn(t) => format!("sign-in {}", t.access_token.expose()),
        Action::Refresh(t) => format!("refresh {}", t.expose()),
        Action::Write(change, lease) => format!("write {} {lease:?}", describe_change(change)),
        Action::Revoke(t) => format!("revoke {}", t.access_token.expose()),
        Action::Stop => "stop".into(),
    };
    let reports: Vec<String> = step.reports.iter().map(describe_report).collect();
    if reports.is_empty() {
        action
    } else {
        format!("{} -> {action}", reports.join(", "))
    }
}

struct Row {
    name: &'static str,
    /// Each event, at this many seconds from the start.
    events: Vec<(i64, Event)>,
    /// The step after each event.
    expect: Vec<&'static str>,
}

fn row(name: &'static str, events: Vec<(i64, Event)>, expect: Vec<&'static str>) -> Row {
    Row {
        name,
        events,
        expect,
    }
}

fn run(row: Row) {
    let start = Instant::now();
    let (mut lifecycle, first) = Lifecycle::start(1);
    assert_eq!(describe(&first), "load", "{}", row.name);
    assert_eq!(
        row.events.len(),
        row.expect.len(),
        "{}: one step per event",
        row.name
    );
    for (i, ((secs, event), expect)) in row.events.into_iter().zip(row.expect).enumerate() {
        let now = Now {
            ms: ms_at(secs),
            instant: start + S(secs as u64),
        };
        let step = lifecycle.next(event, now, &kiosk());
        assert_eq!(describe(&step), expect, "{}: step {}", row.name, i + 1);
    }
}
