//! Starting a pairing (a code, or retrying an unreachable provider), and the records that
//! call for no polling: outcomes, Home, another generation, none.

use super::*;

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
