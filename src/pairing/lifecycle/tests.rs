//! Table tests for the lifecycle rules: from a run of events (the first one usually the
//! record as read), the step the rules answer each with; and what each change does to a
//! record.

use std::time::{Duration, Instant};

use serde_json::Map;

use super::*;
use crate::oidc::client::SignedInUser;
use crate::oidc::device::DeviceAuthorization;
use crate::oidc::error::OAuthError;
use crate::oidc::secret::{AccessToken, DeviceCode};
use crate::oidc::userinfo::ClaimSelection;
use crate::oidc::ProviderError;

const S: fn(u64) -> Duration = Duration::from_secs;
/// The wall clock at the start of every row.
const T0: u64 = 1_700_000_000_000;

fn kiosk() -> KioskSettings {
    KioskSettings {
        idle_sign_out: S(600),
        sign_out_warning: S(60),
        expired_return_home: S(180),
        abandon_after: S(20),
        pairings_per_minute: 10,
        show_claims: ClaimSelection::default(),
        max_pairings: 1000,
    }
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

#[test]
fn starting() {
    let starting = || loaded(record(TvStatus::Starting));
    let failed = || Event::Authorized(Err(unreachable()));
    let show = "code-issued CODE-1 -> write show-code CODE-1 until 600s Keep";
    for row in [
        row(
            "a code is asked for, shown, and the record read again",
            vec![(0, starting()), (0, authorized()), (0, written())],
            vec!["authorize", show, "load"],
        ),
        row(
            "a code for a session that moved on is not shown",
            vec![(0, starting()), (0, authorized()), (0, not_current())],
            vec!["authorize", show, "stop"],
        ),
        row(
            "a store failure retries from the record",
            vec![
                (0, starting()),
                (0, authorized()),
                (0, Event::Wrote(Err(store_down()))),
                (1, Event::Slept),
            ],
            vec!["authorize", show, "write-failed -> sleep 1s", "load"],
        ),
        row(
            "an unreachable provider is shown and retried with a doubling wait, up to 30 s",
            vec![
                (0, starting()),
                (0, failed()),
                (0, written()),
                (2, Event::Slept),
                (2, seen(0)),
                (2, failed()),
                (2, Event::Wrote(Ok(Written::Unchanged))),
                (6, Event::Slept),
                (6, seen(5)),
                (6, failed()),
                (6, Event::Wrote(Err(store_down()))),
                (14, Event::Slept),
                (14, seen(10)),
                (14, failed()),
                (14, written()),
                (30, Event::Slept),
                (30, seen(25)),
                (30, failed()),
            ],
            vec![
                "authorize",
                "start-failed 2s -> write unreachable Keep",
                "sleep 2s",
                "presence",
                "authorize",
                "start-failed 4s -> write unreachable Keep",
                "sleep 4s",
                "presence",
                "authorize",
                "start-failed 8s -> write unreachable Keep",
                "sleep 8s",
                "presence",
                "authorize",
                "start-failed 16s -> write unreachable Keep",
                "sleep 16s",
                "presence",
                "authorize",
                "start-failed 30s -> write unreachable Keep",
            ],
        ),
        row(
            "retrying stops once no TV watches",
            vec![
                (0, starting()),
                (0, failed()),
                (0, written()),
                (2, Event::Slept),
                (2, Event::Seen(Ok(None))),
                (2, written()),
            ],
            vec![
                "authorize",
                "start-failed 2s -> write unreachable Keep",
                "sleep 2s",
                "presence",
                "write home Release",
                "finished abandoned -> stop",
            ],
        ),
        row(
            "retrying stops when the session moved on",
            vec![(0, starting()), (0, failed()), (0, not_current())],
            vec![
                "authorize",
                "start-failed 2s -> write unreachable Keep",
                "stop",
            ],
        ),
    ] {
        run(row);
    }
}

/// The first poll of a code on screen: after one interval, with a TV watching; then `more`.
fn first_poll_then(more: Vec<(i64, Event)>, steps: Vec<&'static str>) -> Row {
    let mut events = vec![
        (0, loaded(waiting(600, false))),
        (5, Event::Slept),
        (5, seen(4)),
    ];
    let mut expect = vec!["sleep 5s", "presence", "poll device-1"];
    events.extend(more);
    expect.extend(steps);
    row("", events, expect)
}

#[test]
fn waiting_for_the_answer() {
    let rows = [
        (
            "pending polls again after the interval",
            first_poll_then(
                vec![(5, polled(Err(oauth("authorization_pending"))))],
                vec!["polled authorization_pending -> sleep 5s"],
            ),
        ),
        (
            "slow_down stores the longer interval, then waits it",
            first_poll_then(
                vec![(5, polled(Err(oauth("slow_down")))), (5, written())],
                vec![
                    "polled slow_down -> write news trouble=false 10s Keep",
                    "sleep 10s",
                ],
            ),
        ),
        (
            "trouble is shown once, backed off from, and recovery shown",
            first_poll_then(
                vec![
                    (5, polled(Err(unreachable()))),
                    (5, written()),
                    (15, Event::Slept),
                    (15, seen(14)),
                    (15, polled(Err(unreachable()))),
                    (35, Event::Slept),
                    (35, seen(34)),
                    (35, polled(Err(oauth("authorization_pending")))),
                ],
                vec![
                    "polled timeout -> write news trouble=true 5s Keep",
                    "sleep 10s",
                    "presence",
                    "poll device-1",
                    "polled timeout -> sleep 20s",
                    "presence",
                    "poll device-1",
                    "polled authorization_pending -> write news trouble=false 5s Keep",
                ],
            ),
        ),
        (
            "a poll not sent (lease in doubt) counts as trouble, unreported",
            first_poll_then(
                vec![(5, Event::Polled(None))],
                vec!["write news trouble=true 5s Keep"],
            ),
        ),
        (
            "news for a session that moved on stops the task",
            first_poll_then(
                vec![(5, polled(Err(oauth("slow_down")))), (5, not_current())],
                vec![
                    "polled slow_down -> write news trouble=false 10s Keep",
                    "stop",
                ],
            ),
        ),
        (
            "news the store could not take is told again later",
            first_poll_then(
                vec![
                    (5, polled(Err(oauth("slow_down")))),
                    (5, Event::Wrote(Err(store_down()))),
                    (15, Event::Slept),
                    (15, seen(14)),
                    (15, polled(Err(oauth("authorization_pending")))),
                ],
                vec![
                    "polled slow_down -> write news trouble=false 10s Keep",
                    "sleep 10s",
                    "presence",
                    "poll device-1",
                    "polled authorization_pending -> write news trouble=false 10s Keep",
                ],
            ),
        ),
        (
            "tokens end polling at once and the sign-in is completed and shown",
            first_poll_then(
                vec![(5, polled(Ok(tokens(1, true)))), (5, alice()), (5, written())],
                vec![
                    "polled tokens -> sign-in access-1",
                    "signed-in alice -> write signed-in access-1 Keep",
                    "finished signed_in -> load",
                ],
            ),
        ),
        (
            "tokens for a session that moved on meanwhile are revoked",
            first_poll_then(
                vec![
                    (5, polled(Ok(tokens(1, true)))),
                    (5, alice()),
                    (5, not_current()),
                    (5, Event::Revoked),
                ],
                vec![
                    "polled tokens -> sign-in access-1",
                    "signed-in alice -> write signed-in access-1 Keep",
                    "revoke access-1",
                    "stop",
                ],
            ),
        ),
        (
            "tokens the store cannot take are revoked",
            first_poll_then(
                vec![
                    (5, polled(Ok(tokens(1, true)))),
                    (5, alice()),
                    (5, Event::Wrote(Err(store_down()))),
                ],
                vec![
                    "polled tokens -> sign-in access-1",
                    "signed-in alice -> write signed-in access-1 Keep",
                    "not-stored -> revoke access-1",
                ],
            ),
        ),
        (
            "a sign-in that cannot be completed is revoked and shown as expired",
            first_poll_then(
                vec![
                    (5, polled(Ok(tokens(1, true)))),
                    (6, Event::SignInCompleted(Err(unreachable()))),
                    (6, Event::Revoked),
                    (6, written()),
                ],
                vec![
                    "polled tokens -> sign-in access-1",
                    "sign-in-failed -> revoke access-1",
                    "write outcome expired home at 186s Keep",
                    "finished failed -> load",
                ],
            ),
        ),
        (
            "declined on the phone",
            first_poll_then(
                vec![(5, polled(Err(oauth("access_denied")))), (5, written())],
                vec![
                    "polled access_denied, declined -> write outcome denied home at 185s Keep",
                    "finished denied -> load",
                ],
            ),
        ),
        (
            "expired_token",
            first_poll_then(
                vec![(5, polled(Err(oauth("expired_token"))))],
                vec!["polled expired_token, expired -> write outcome expired home at 185s Keep"],
            ),
        ),
        (
            "another error ends the pairing",
            first_poll_then(
                vec![(5, polled(Err(oauth("invalid_grant")))), (5, written())],
                vec![
                    "polled invalid_grant, rejected invalid_grant -> write outcome expired home at 185s Keep",
                    "finished rejected -> load",
                ],
            ),
        ),
        (
            "an unusable answer ends the pairing",
            first_poll_then(
                vec![(5, polled(Err(ProviderError::Unsupported("x".into()))))],
                vec!["polled unsupported, rejected unsupported -> write outcome expired home at 185s Keep"],
            ),
        ),
        (
            "an outcome for a session that moved on is not shown",
            first_poll_then(
                vec![(5, polled(Err(oauth("access_denied")))), (5, not_current())],
                vec![
                    "polled access_denied, declined -> write outcome denied home at 185s Keep",
                    "stop",
                ],
            ),
        ),
    ];
    for (name, row) in rows {
        run(Row { name, ..row });
    }
}

#[test]
fn presence_before_each_poll() {
    let code_on_screen = || loaded(waiting(600, false));
    for row in [
        row(
            "nobody watching: back Home without polling",
            vec![
                (0, code_on_screen()),
                (5, Event::Slept),
                (21, seen(0)),
                (21, written()),
            ],
            vec![
                "sleep 5s",
                "presence",
                "write home Release",
                "finished abandoned -> stop",
            ],
        ),
        row(
            "a presence that cannot be read counts as present",
            vec![
                (0, code_on_screen()),
                (5, Event::Slept),
                (5, Event::Seen(Err(store_down()))),
            ],
            vec!["sleep 5s", "presence", "poll device-1"],
        ),
    ] {
        run(row);
    }
}

#[test]
fn deadlines_and_other_records() {
    for row in [
        row(
            "never sleeps past the deadline, and expires there without asking",
            vec![
                (0, loaded(waiting(7, false))),
                (5, Event::Slept),
                (5, seen(5)),
                (5, polled(Err(oauth("authorization_pending")))),
                (7, Event::Slept),
            ],
            vec![
                "sleep 5s",
                "presence",
                "poll device-1",
                "polled authorization_pending -> sleep 2s",
                "expired -> write outcome expired home at 187s Keep",
            ],
        ),
        row(
            "adopted while in trouble: the first answer shows recovery",
            vec![
                (0, loaded(waiting(600, true))),
                (5, Event::Slept),
                (5, seen(5)),
                (5, polled(Err(oauth("authorization_pending")))),
            ],
            vec![
                "sleep 5s",
                "presence",
                "poll device-1",
                "polled authorization_pending -> write news trouble=false 5s Keep",
            ],
        ),
        row(
            "a code on screen without its device code is fetched again",
            vec![
                (0, loaded(record(TvStatus::Waiting { pairing: pairing() }))),
                (0, written()),
            ],
            vec!["write restart Keep", "load"],
        ),
        row(
            "an outcome is shown until its time, then Home",
            vec![
                (
                    0,
                    loaded(SessionRecord {
                        return_home_at_ms: Some(ms_at(180)),
                        ..record(TvStatus::Denied)
                    }),
                ),
                (180, Event::Slept),
                (180, written()),
            ],
            vec!["pairing-over -> sleep 180s", "write home Release", "stop"],
        ),
        row(
            "going Home retries a store failure",
            vec![
                (0, loaded(record(TvStatus::Expired))),
                (0, Event::Slept),
                (0, Event::Wrote(Err(store_down()))),
            ],
            vec![
                "pairing-over -> sleep 0ns",
                "write home Release",
                "write-failed -> sleep 1s",
            ],
        ),
        row(
            "Home: the lease is given up",
            vec![(0, loaded(record(TvStatus::Idle))), (0, written())],
            vec!["pairing-over -> write lease-only Release", "stop"],
        ),
        row(
            "another generation's record: the task is over",
            vec![(
                0,
                loaded(SessionRecord {
                    generation: 2,
                    ..record(TvStatus::Starting)
                }),
            )],
            vec!["stop"],
        ),
        row(
            "no record: the task is over",
            vec![(0, Event::Loaded(Ok(None)))],
            vec!["stop"],
        ),
        row(
            "a read failure retries",
            vec![(0, Event::Loaded(Err(store_down()))), (1, Event::Slept)],
            vec!["read-failed -> sleep 1s", "load"],
        ),
        row(
            "an event the phase did not ask for stops the task",
            vec![(0, Event::Revoked)],
            vec!["stop"],
        ),
    ] {
        run(row);
    }
}

#[test]
fn signed_in_sessions() {
    let fresh = || loaded(signed_in(tokens(1, true), 0, 600));
    for row in [
        row(
            "sleeps until the refresh is due",
            vec![(0, fresh())],
            vec!["pairing-over -> sleep 240s"],
        ),
        row(
            "without a refresh token, until the sign-out",
            vec![(0, loaded(signed_in(tokens(1, false), 0, 600)))],
            vec!["pairing-over -> sleep 600s"],
        ),
        row(
            "refreshes when due and stores the rotated tokens",
            vec![
                (240, fresh()),
                (240, Event::Refreshed(Some(Ok(tokens(2, true))))),
                (240, written()),
            ],
            vec![
                "pairing-over -> refresh refresh-1",
                "refreshed -> write refreshed access-2 refresh-2 Keep",
                "load",
            ],
        ),
        row(
            "a refresh without a new refresh token keeps the old one",
            vec![
                (240, fresh()),
                (240, Event::Refreshed(Some(Ok(tokens(2, false))))),
            ],
            vec![
                "pairing-over -> refresh refresh-1",
                "refreshed -> write refreshed access-2 refresh-1 Keep",
            ],
        ),
        row(
            "a refused refresh drops the refresh token",
            vec![
                (240, fresh()),
                (240, Event::Refreshed(Some(Err(oauth("invalid_grant"))))),
                (240, written()),
            ],
            vec![
                "pairing-over -> refresh refresh-1",
                "refresh-failed -> write refresh-refused Keep",
                "load",
            ],
        ),
        row(
            "a refresh not sent (lease in doubt) is tried again in a moment",
            vec![(240, fresh()), (240, Event::Refreshed(None))],
            vec!["pairing-over -> refresh refresh-1", "sleep 1s"],
        ),
        row(
            "tokens of a refresh that ends after sign-out are revoked",
            vec![
                (240, fresh()),
                (240, Event::Refreshed(Some(Ok(tokens(2, true))))),
                (240, not_current()),
                (240, Event::Revoked),
            ],
            vec![
                "pairing-over -> refresh refresh-1",
                "refreshed -> write refreshed access-2 refresh-2 Keep",
                "revoke access-2",
                "stop",
            ],
        ),
        row(
            "signs out when idle, and revokes what it took",
            vec![
                (600, fresh()),
                (
                    600,
                    Event::Wrote(Ok(Written::Changed {
                        taken: Some(tokens(1, true)),
                    })),
                ),
                (600, Event::Revoked),
            ],
            vec![
                "pairing-over -> write sign-out-if-due Release",
                "idle-sign-out -> revoke access-1",
                "load",
            ],
        ),
        row(
            "a sign-out that activity pushed back reads the record again",
            vec![(600, fresh()), (600, Event::Wrote(Ok(Written::Unchanged)))],
            vec!["pairing-over -> write sign-out-if-due Release", "load"],
        ),
    ] {
        run(row);
    }
}

/// One row of the change table.
struct ChangeRow {
    name: &'static str,
    before: SessionRecord,
    change: Change,
    /// What `apply` said.
    did: &'static str,
    status: &'static str,
    device_kept: bool,
    access_token: Option<&'static str>,
}

#[test]
fn changes_apply_to_the_latest_record() {
    let rows = [
        ChangeRow {
            name: "unreachable once",
            before: record(TvStatus::Starting),
            change: Change::Unreachable,
            did: "changed",
            status: "unreachable",
            device_kept: false,
            access_token: None,
        },
        ChangeRow {
            name: "unreachable twice writes nothing",
            before: record(TvStatus::Unreachable { pairing: None }),
            change: Change::Unreachable,
            did: "unchanged",
            status: "unreachable",
            device_kept: false,
            access_token: None,
        },
        ChangeRow {
            name: "trouble keeps the code on screen",
            before: waiting(600, false),
            change: Change::PollNews {
                trouble: true,
                interval: S(5),
            },
            did: "changed",
            status: "unreachable",
            device_kept: true,
            access_token: None,
        },
        ChangeRow {
            name: "recovery shows the code again",
            before: waiting(600, true),
            change: Change::PollNews {
                trouble: false,
                interval: S(5),
            },
            did: "changed",
            status: "waiting",
            device_kept: true,
            access_token: None,
        },
        ChangeRow {
            name: "an outcome forgets the device code",
            before: waiting(600, false),
            change: Change::Outcome {
                status: TvStatus::Denied,
                home_at_ms: ms_at(180),
            },
            did: "changed",
            status: "denied",
            device_kept: false,
            access_token: None,
        },
        ChangeRow {
            name: "signed in: tokens in, device code out",
            before: waiting(600, false),
            change: Change::SignedIn {
                status: signed_in(tokens(1, true), 0, 600).status,
                tokens: tokens(1, true),
                at_ms: ms_at(0),
            },
            did: "changed",
            status: "signed-in",
            device_kept: false,
            access_token: Some("access-1"),
        },
        ChangeRow {
            name: "an idle sign-out takes the tokens, as a new generation",
            before: signed_in(tokens(1, true), 0, 600),
            change: Change::SignOutIfDue { now_ms: ms_at(600) },
            did: "took access-1",
            status: "idle",
            device_kept: false,
            access_token: None,
        },
        ChangeRow {
            name: "activity moved the sign-out: nothing to do",
            before: signed_in(tokens(1, true), 0, 900),
            change: Change::SignOutIfDue { now_ms: ms_at(600) },
            did: "unchanged",
            status: "signed-in",
            device_kept: false,
            access_token: Some("access-1"),
        },
        ChangeRow {
            name: "a refused refresh on a signed-out session is not current",
            before: record(TvStatus::Idle),
            change: Change::Refreshed {
                fresh: None,
                at_ms: ms_at(0),
            },
            did: "not current",
            status: "idle",
            device_kept: false,
            access_token: None,
        },
    ];
    for row in rows {
        let mut record = row.before;
        let generation = record.generation;
        let did = match row.change.apply(&mut record) {
            Written::Changed { taken: None } => "changed".to_owned(),
            Written::Changed { taken: Some(t) } => format!("took {}", t.access_token.expose()),
            Written::Unchanged => "unchanged".to_owned(),
            Written::NotCurrent => "not current".to_owned(),
        };
        let name = row.name;
        assert_eq!(did, row.did, "{name}");
        assert_eq!(record.status.state_name(), row.status, "{name}");
        assert_eq!(record.device.is_some(), row.device_kept, "{name}: device");
        let access = record.tokens.as_ref().map(|t| t.access_token.expose());
        assert_eq!(access, row.access_token, "{name}: tokens");
        let bumped = record.generation != generation;
        assert_eq!(bumped, did.starts_with("took"), "{name}: generation");
    }
}

#[test]
fn presence_and_refresh_times() {
    let after = S(20);
    for (seen, now, gone) in [
        (Ok(Some(ms_at(0))), ms_at(20), false),
        (Ok(Some(ms_at(0))), ms_at(21), true),
        (Ok(None), ms_at(0), true),
        (Err(store_down()), ms_at(1000), false),
    ] {
        assert_eq!(abandoned(&seen, now, after), gone, "{seen:?} at {now}");
    }
    let due = |expires_in: u64, refresh: bool| {
        let tokens = TokenSet {
            expires_in: Some(S(expires_in)),
            ..tokens(1, refresh)
        };
        refresh_due_ms(&signed_in(tokens, 0, 600)).map(|at| (at - T0) / 1000)
    };
    assert_eq!(due(300, true), Some(240), "a minute early");
    assert_eq!(due(90, true), Some(45), "at least half way");
    assert_eq!(due(300, false), None, "nothing to refresh with");
}
