//! Waiting for the answer: each poll by the RFC 8628 rules, what the TV is told, each
//! outcome, and the presence check before each poll.

use super::*;

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
