//! Turns and leases: a superseded task writes nothing (and revokes what it brought), a
//! replica whose leases lapsed stops its tasks, no poll goes out while the lease is in doubt,
//! and adopted sessions resume with the stored device code, spread within their interval.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::model::{PairingView, TvStatus};
use crate::oidc::secret::DeviceCode;
use crate::pairing::store::{DeviceGrant, Lease, Saved, SessionRecord, SessionStore, Write};
use crate::pairing::testing::{kiosk, tokens, wait, Call, FleetStore, Method, Rig, VirtualClock};
use crate::pairing::testing::{oauth, S};
use crate::pairing::SessionId;

fn fleet_rig() -> (Rig, Arc<FleetStore>) {
    let clock = Arc::new(VirtualClock::new());
    let store = Arc::new(FleetStore::new(clock.clone()));
    (Rig::on(kiosk(), clock, store.clone()), store)
}

#[tokio::test(start_paused = true)]
async fn a_superseded_task_writes_nothing_and_revokes_what_it_brought() {
    let rig = Rig::new();
    let gate = rig.provider.hold(Method::Poll);
    rig.provider.poll(Ok(tokens(1)));
    let id = rig.start().await;
    let _viewer = rig.hub.subscribe(&id).await.unwrap();
    wait(S(6)).await;
    assert_eq!(
        rig.provider.count(Method::Poll),
        1,
        "a poll is at the provider"
    );
    // New code while that poll is out: a new generation, whose task runs from now on.
    let new_id = rig.hub.renew(&id, None).await.unwrap().moved_to.unwrap();
    gate.add_permits(1);
    wait(S(1)).await;
    let shown = rig.shown(&new_id).await;
    assert_eq!(shown.pairing().unwrap().user_code, "CODE-0002", "{shown:?}");
    assert!(!rig
        .provider
        .calls()
        .contains(&Call::CompleteSignIn("access-1".into())));
    assert_eq!(
        rig.provider.calls().last(),
        Some(&Call::Revoke("access-1".into())),
        "tokens nobody takes are revoked"
    );
    assert_eq!(
        rig.metric(r#"tvsignin_sign_ins_total{client_id="tv"}"#),
        0.0
    );
}

#[tokio::test(start_paused = true)]
async fn tokens_of_a_pairing_cancelled_during_sign_in_are_revoked() {
    let rig = Rig::new();
    let gate = rig.provider.hold(Method::CompleteSignIn);
    rig.provider.poll(Ok(tokens(1)));
    let id = rig.start().await;
    wait(S(6)).await;
    assert_eq!(rig.provider.count(Method::CompleteSignIn), 1);
    rig.hub.cancel(&id).await.unwrap();
    gate.add_permits(1);
    wait(S(1)).await;
    assert_eq!(rig.shown(&id).await, TvStatus::Idle, "the cancel stands");
    assert_eq!(rig.provider.count(Method::Revoke), 1);
    assert_eq!(
        rig.provider.calls().last(),
        Some(&Call::Revoke("access-1".into()))
    );
    let finished = r#"tvsignin_pairings_finished_total{outcome="signed_in"}"#;
    assert_eq!(rig.metric(finished), 0.0);
}

#[tokio::test(start_paused = true)]
async fn tasks_stop_when_this_replicas_leases_lapse() {
    let (rig, store) = fleet_rig();
    let id = rig.start().await;
    let _viewer = rig.hub.subscribe(&id).await.unwrap();
    wait(S(11)).await;
    assert_eq!(rig.provider.count(Method::Poll), 2);
    store.lost.store(true, Ordering::SeqCst);
    wait(S(60)).await;
    assert_eq!(
        rig.provider.count(Method::Poll),
        2,
        "another replica may have adopted it: no poll from here"
    );
}

#[tokio::test(start_paused = true)]
async fn no_poll_goes_out_while_the_lease_is_in_doubt() {
    let (rig, store) = fleet_rig();
    store.lease_in_doubt.store(true, Ordering::SeqCst);
    let id = rig.start().await;
    let _viewer = rig.hub.subscribe(&id).await.unwrap();
    wait(S(6)).await;
    assert_eq!(rig.provider.count(Method::Poll), 0);
    assert!(matches!(
        rig.shown(&id).await,
        TvStatus::Unreachable { pairing: Some(_) }
    ));
    wait(S(10)).await;
    assert_eq!(rig.provider.count(Method::Poll), 0);
    store.lease_in_doubt.store(false, Ordering::SeqCst);
    // Backed off as for trouble: held back at 5 and 15; the one at 35 goes out.
    wait(S(20)).await;
    assert_eq!(rig.provider.times(Method::Poll), vec![S(35)]);
    assert_eq!(rig.shown(&id).await.state_name(), "waiting");
}

/// Stores a pairing as another replica left it (claimed, as its owner did) and returns
/// the owner epoch this replica adopts it under.
async fn left_by_another_replica(
    store: &FleetStore,
    id: &SessionId,
    n: u32,
    status: fn(PairingView) -> TvStatus,
    now_ms: u64,
) {
    let pairing = PairingView {
        user_code: format!("LEFT-{n}"),
        verification_uri: "https://idp.example/device".into(),
        verification_uri_complete: None,
        qr_svg: String::new(),
        expires_at_ms: now_ms + 600_000,
        interval_secs: 5,
    };
    let record = SessionRecord {
        generation: 3,
        status: status(pairing),
        device: Some(DeviceGrant {
            device_code: DeviceCode::new(format!("left-{n}")),
            // slow_down raised it there.
            interval: S(10),
            expires_at_ms: now_ms + 600_000,
        }),
        ..SessionRecord::default()
    };
    let write = Write {
        expected: 0,
        record: &record,
        ttl: S(700),
        lease: Lease::Claim,
        fence: None,
    };
    let Saved::Written { epoch, .. } = store.save(id, write).await.unwrap() else {
        panic!("not stored")
    };
    store.touch(std::slice::from_ref(id)).await.unwrap();
    store.adopt.lock().unwrap().push((id.clone(), epoch));
}

#[tokio::test(start_paused = true)]
async fn adopted_pairings_resume_with_their_device_code_spread_within_the_interval() {
    let (rig, store) = fleet_rig();
    let ids: Vec<SessionId> = (0..20).map(|_| SessionId::generate()).collect();
    for (n, id) in ids.iter().enumerate() {
        let waiting = |pairing| TvStatus::Waiting { pairing };
        left_by_another_replica(&store, id, n as u32, waiting, rig.now_ms()).await;
    }
    let viewers: Vec<_> =
        futures::future::join_all(ids.iter().map(|id| rig.hub.subscribe(id))).await;
    // Adopted at the first heartbeat (now), each starts within its interval (10 s), then
    // waits one interval before its first poll.
    wait(S(20)).await;
    let polls = rig.provider.polls();
    let mut firsts = Vec::new();
    for n in 0..20 {
        let code = format!("left-{n}");
        let times: Vec<Duration> = polls
            .iter()
            .filter(|(_, c)| *c == code)
            .map(|(t, _)| *t)
            .collect();
        let first = *times
            .first()
            .unwrap_or_else(|| panic!("{code} never polled"));
        assert!(
            first >= S(10) && first < S(20),
            "{code} first polled at {first:?}"
        );
        firsts.push(first);
    }
    let distinct: BTreeSet<Duration> = firsts.iter().copied().collect();
    assert!(distinct.len() > 1, "not spread: {firsts:?}");
    assert_eq!(rig.provider.count(Method::Authorize), 0, "no new codes");
    assert_eq!(rig.hub.pairings_in_progress(), 20);
    drop(viewers);
}

#[tokio::test(start_paused = true)]
async fn an_adopted_pairing_keeps_its_slowed_interval_and_shows_recovery() {
    let (rig, store) = fleet_rig();
    let id = SessionId::generate();
    let unreachable = |pairing| TvStatus::Unreachable {
        pairing: Some(pairing),
    };
    left_by_another_replica(&store, &id, 1, unreachable, rig.now_ms()).await;
    rig.provider.poll(Err(oauth("authorization_pending")));
    let _viewer = rig.hub.subscribe(&id).await.unwrap();
    wait(S(40)).await;
    let times = rig.provider.times(Method::Poll);
    assert!(times.len() >= 2, "{times:?}");
    assert_eq!(times[1] - times[0], S(10), "the interval slow_down raised");
    assert_eq!(
        rig.shown(&id).await.state_name(),
        "waiting",
        "the first answer clears the trouble it was adopted with"
    );
}
