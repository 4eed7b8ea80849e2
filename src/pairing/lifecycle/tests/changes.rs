//! What each change does to a record, and the rules on a record's times.

use super::*;

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
                identity: Default::default(),
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
