//! Signed in: refreshes (rotation, a kept refresh token, refusal, no answer, no lease, a late answer)
//! and the idle sign-out.

use super::*;

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
            "an unanswered refresh keeps the refresh token and is tried again",
            vec![
                (240, fresh()),
                (240, Event::Refreshed(Some(Err(unreachable())))),
                (255, Event::Slept),
                (255, fresh()),
            ],
            vec![
                "pairing-over -> refresh refresh-1",
                "refresh-unanswered -> sleep 15s",
                "load",
                "pairing-over -> refresh refresh-1",
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
