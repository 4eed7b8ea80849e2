//! New codes under the limits: per TV session, per client address, `MAX_PAIRINGS` per
//! server; and a reload that must not make a new code.

use std::net::IpAddr;

use crate::metrics::ThrottledBy;
use crate::model::TvStatus;
use crate::pairing::testing::{kiosk, wait, Method, Rig, S};
use crate::pairing::SessionId;
use crate::settings::KioskSettings;

fn throttled(by: ThrottledBy) -> String {
    let limit = match by {
        ThrottledBy::Session => "session",
        ThrottledBy::Address => "address",
        ThrottledBy::Server => "server",
    };
    format!("tvsignin_pairings_throttled_total{{limit=\"{limit}\"}}")
}

fn limited(per_minute: u32, max_pairings: usize) -> KioskSettings {
    KioskSettings {
        pairings_per_minute: per_minute,
        max_pairings,
        ..kiosk()
    }
}

#[tokio::test(start_paused = true)]
async fn a_session_gets_so_many_new_codes_a_minute() {
    let rig = Rig::with(limited(2, 1000));
    let id = rig.start().await;
    wait(S(10)).await;
    let id = rig.hub.renew(&id, None).await.unwrap().moved_to.unwrap();
    wait(S(10)).await;
    let refused = rig.hub.renew(&id, None).await.unwrap();
    // The oldest start ages out of the minute 40 s from now; one more second to be sure.
    assert_eq!(
        refused.status,
        TvStatus::Throttled {
            retry_after_secs: 41
        }
    );
    let id = refused.moved_to.expect("a refusal moves the session too");
    assert_eq!(rig.metric(&throttled(ThrottledBy::Session)), 1.0);
    wait(S(1)).await;
    assert_eq!(rig.provider.count(Method::Authorize), 2);
    assert_eq!(
        rig.hub.pairings_in_progress(),
        0,
        "the refused TV holds no pairing"
    );
    // The throttled screen returns Home once the wait is over.
    wait(S(39)).await;
    assert_eq!(rig.shown(&id).await.state_name(), "throttled");
    wait(S(2)).await;
    assert_eq!(rig.shown(&id).await, TvStatus::Idle);
    let again = rig.hub.start(&id, None).await.unwrap();
    assert_eq!(again.status, TvStatus::Starting);
}

#[tokio::test(start_paused = true)]
async fn an_address_gets_so_many_new_codes_a_minute_whatever_its_cookies() {
    let rig = Rig::with(limited(2, 1000));
    let address: IpAddr = "192.0.2.7".parse().unwrap();
    for _ in 0..2 {
        let fresh = rig.hub.start(&SessionId::generate(), Some(address)).await;
        assert_eq!(fresh.unwrap().status, TvStatus::Starting);
    }
    let refused = rig
        .hub
        .start(&SessionId::generate(), Some(address))
        .await
        .unwrap();
    // Two a minute: the next one is allowed 30 s on.
    assert_eq!(
        refused.status,
        TvStatus::Throttled {
            retry_after_secs: 30
        }
    );
    assert_eq!(rig.metric(&throttled(ThrottledBy::Address)), 1.0);
    let elsewhere: IpAddr = "2001:db8::1".parse().unwrap();
    let other = rig.hub.start(&SessionId::generate(), Some(elsewhere)).await;
    assert_eq!(other.unwrap().status, TvStatus::Starting);
    // The limiter runs on the injected clock: 30 virtual seconds later the address may again.
    wait(S(30)).await;
    let later = rig.hub.start(&SessionId::generate(), Some(address)).await;
    assert_eq!(later.unwrap().status, TvStatus::Starting);
}

#[tokio::test(start_paused = true)]
async fn a_full_server_refuses_new_pairings_but_not_new_codes() {
    let rig = Rig::with(limited(10, 1));
    let first = rig.start().await;
    let _viewer = rig.hub.subscribe(&first).await.unwrap();
    wait(S(1)).await;
    let refused = rig.hub.start(&SessionId::generate(), None).await.unwrap();
    assert_eq!(
        refused.status,
        TvStatus::Throttled {
            retry_after_secs: 15
        }
    );
    assert_eq!(rig.metric(&throttled(ThrottledBy::Server)), 1.0);
    // New code replaces a pairing, so it is never refused for want of a slot.
    let first = rig.hub.renew(&first, None).await.unwrap();
    assert_eq!(first.status, TvStatus::Starting);
    let first = first.moved_to.unwrap();
    wait(S(1)).await;
    assert_eq!(rig.hub.pairings_in_progress(), 1);
    // Once that pairing ends, its slot is free for another TV.
    rig.hub.cancel(&first).await.unwrap();
    wait(S(1)).await;
    assert_eq!(rig.hub.pairings_in_progress(), 0);
    let second = rig.hub.start(&refused.moved_to.unwrap(), None).await;
    assert_eq!(second.unwrap().status, TvStatus::Starting);
    assert_eq!(rig.hub.pairings_in_progress(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_reload_does_not_make_a_new_code() {
    let rig = Rig::new();
    let id = rig.start().await;
    wait(S(1)).await;
    let again = rig.hub.start(&id, None).await.unwrap();
    assert_eq!(again.status.state_name(), "waiting");
    assert_eq!(again.moved_to, None, "nothing started, nothing moved");
    wait(S(1)).await;
    assert_eq!(rig.provider.count(Method::Authorize), 1);
    assert_eq!(rig.metric("tvsignin_pairings_started_total"), 1.0);
}
