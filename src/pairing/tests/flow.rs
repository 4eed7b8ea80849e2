//! A pairing from Sign in to its end: the code, polling by the rules, trouble and recovery,
//! each outcome screen and its return Home, cancel, and the TV leaving.

use crate::model::{Claim, TvStatus};
use crate::oidc::ProviderError;
use crate::pairing::testing::{code, oauth, tokens, unreachable, wait, Call, Method, Rig, S};

const FINISHED: &str = "tvsignin_pairings_finished_total";

fn finished(outcome: &str) -> String {
    format!("{FINISHED}{{outcome=\"{outcome}\"}}")
}

#[tokio::test(start_paused = true)]
async fn a_pairing_signs_in_and_its_code_is_never_polled_again() {
    let rig = Rig::new();
    rig.provider.poll(Err(oauth("authorization_pending")));
    rig.provider.poll(Err(oauth("authorization_pending")));
    rig.provider.poll(Ok(tokens(1)));
    let started_ms = rig.now_ms();
    let id = rig.start().await;
    let (statuses, _viewer) = rig.hub.subscribe(&id).await.unwrap();
    wait(S(1)).await;
    let TvStatus::Waiting { pairing } = rig.shown(&id).await else {
        panic!("no code on screen: {:?}", rig.shown(&id).await)
    };
    assert_eq!(pairing.user_code, "CODE-0001");
    assert_eq!(pairing.expires_at_ms, started_ms + 600_000);
    assert_eq!(rig.hub.pairings_in_progress(), 1);

    wait(S(200)).await;
    // The first poll waits one interval (RFC 8628 §3.4), then one per interval.
    assert_eq!(rig.provider.times(Method::Poll), vec![S(5), S(10), S(15)]);
    let TvStatus::SignedIn {
        profile,
        sign_out_at_ms,
        warn_secs,
    } = rig.shown(&id).await
    else {
        panic!("not signed in: {:?}", rig.shown(&id).await)
    };
    assert_eq!(profile.display_name, "Alice Liddell");
    // Only what SHOW_CLAIMS names: no phone number on a shared screen.
    let email = Claim {
        name: "email".into(),
        value: "alice@example.com".into(),
    };
    assert_eq!(profile.claims, vec![email]);
    assert_eq!(sign_out_at_ms, started_ms + 15_000 + 600_000);
    assert_eq!(warn_secs, 60);
    assert_eq!(statuses.borrow().state_name(), "signed-in", "pushed too");
    assert_eq!(rig.hub.pairings_in_progress(), 0, "the slot is free again");
    let polls = vec![Call::Poll("device-1".into()); 3];
    let mut expected = vec![Call::Authorize];
    expected.extend(polls);
    expected.push(Call::CompleteSignIn("access-1".into()));
    assert_eq!(
        rig.provider.calls(),
        expected,
        "never polled after approval"
    );

    let record = rig.record(&id).await.unwrap();
    assert!(record.device.is_none(), "the device code is forgotten");
    assert_eq!(record.tokens.unwrap().access_token.expose(), "access-1");
    // The forward-auth check reads who signed in, with the token it hands on.
    let session = rig.hub.signed_in_session(&id).await.unwrap().unwrap();
    assert_eq!(session.identity.email.as_deref(), Some("alice@example.com"));
    assert_eq!(session.access_token.expose(), "access-1");
    assert_eq!(rig.metric("tvsignin_pairings_started_total"), 1.0);
    assert_eq!(rig.metric(&finished("signed_in")), 1.0);
    assert_eq!(
        rig.metric(r#"tvsignin_sign_ins_total{client_id="tv"}"#),
        1.0
    );
    assert_eq!(
        rig.metric(r#"tvsignin_token_polls_total{outcome="pending"}"#),
        2.0
    );
    assert_eq!(
        rig.metric(r#"tvsignin_token_polls_total{outcome="tokens"}"#),
        1.0
    );
}

#[tokio::test(start_paused = true)]
async fn slow_down_raises_the_stored_interval() {
    let rig = Rig::new();
    rig.provider.poll(Err(oauth("slow_down")));
    let id = rig.start().await;
    let _viewer = rig.hub.subscribe(&id).await.unwrap();
    wait(S(26)).await;
    assert_eq!(rig.provider.times(Method::Poll), vec![S(5), S(15), S(25)]);
    let device = rig.record(&id).await.unwrap().device.unwrap();
    assert_eq!(
        device.interval,
        S(10),
        "a replica that adopts it polls as slowly"
    );
    assert_eq!(
        rig.metric(r#"tvsignin_token_polls_total{outcome="slow_down"}"#),
        1.0
    );
}

#[tokio::test(start_paused = true)]
async fn provider_trouble_shows_unreachable_backs_off_and_recovers() {
    let rig = Rig::new();
    rig.provider.poll(Err(unreachable()));
    rig.provider.poll(Err(unreachable()));
    let id = rig.start().await;
    let _viewer = rig.hub.subscribe(&id).await.unwrap();
    wait(S(6)).await;
    let TvStatus::Unreachable { pairing: Some(p) } = rig.shown(&id).await else {
        panic!("trouble not shown: {:?}", rig.shown(&id).await)
    };
    assert_eq!(p.user_code, "CODE-0001", "the code stays on screen");
    wait(S(30)).await;
    // Back-off: twice the interval, then twice that; recovery polls at the interval again.
    assert_eq!(rig.provider.times(Method::Poll), vec![S(5), S(15), S(35)]);
    assert_eq!(rig.shown(&id).await.state_name(), "waiting", "recovered");
    assert_eq!(
        rig.metric(r#"tvsignin_token_polls_total{outcome="trouble"}"#),
        2.0
    );
    assert_eq!(
        rig.metric(r#"tvsignin_provider_errors_total{operation="token_poll",kind="unreachable"}"#),
        2.0
    );
}

#[tokio::test(start_paused = true)]
async fn no_code_from_the_provider_is_retried_with_a_doubling_wait() {
    let rig = Rig::new();
    rig.provider.authorize(Err(unreachable()));
    rig.provider.authorize(Err(unreachable()));
    rig.provider.authorize(Ok(code(7, S(600), S(5))));
    let id = rig.start().await;
    let _viewer = rig.hub.subscribe(&id).await.unwrap();
    wait(S(1)).await;
    assert_eq!(
        rig.shown(&id).await,
        TvStatus::Unreachable { pairing: None }
    );
    wait(S(6)).await;
    assert_eq!(
        rig.provider.times(Method::Authorize),
        vec![S(0), S(2), S(6)]
    );
    let shown = rig.shown(&id).await;
    assert_eq!(shown.pairing().unwrap().user_code, "CODE-0007", "{shown:?}");
    assert_eq!(
        rig.metric(
            r#"tvsignin_provider_errors_total{operation="device_authorization",kind="unreachable"}"#
        ),
        2.0
    );
}

#[tokio::test(start_paused = true)]
async fn declined_shows_denied_then_returns_home() {
    let rig = Rig::new();
    rig.provider.poll(Err(oauth("access_denied")));
    let id = rig.start().await;
    let _viewer = rig.hub.subscribe(&id).await.unwrap();
    wait(S(6)).await;
    assert_eq!(rig.shown(&id).await, TvStatus::Denied);
    assert_eq!(rig.metric(&finished("denied")), 1.0);
    assert_eq!(rig.hub.pairings_in_progress(), 0);
    // EXPIRED_RETURN_HOME_SECS (180) after the outcome.
    wait(S(178)).await;
    assert_eq!(rig.shown(&id).await, TvStatus::Denied);
    wait(S(2)).await;
    assert_eq!(rig.shown(&id).await, TvStatus::Idle);
    assert_eq!(rig.provider.count(Method::Poll), 1);
}

#[tokio::test(start_paused = true)]
async fn expiry_ends_polling_at_the_deadline_and_new_code_renews() {
    let rig = Rig::new();
    rig.provider.authorize(Ok(code(1, S(12), S(5))));
    let id = rig.start().await;
    let _viewer = rig.hub.subscribe(&id).await.unwrap();
    wait(S(13)).await;
    // Polls at 5 and 10; at 12 the code is expired without asking.
    assert_eq!(rig.provider.times(Method::Poll), vec![S(5), S(10)]);
    assert_eq!(rig.shown(&id).await, TvStatus::Expired);
    assert_eq!(rig.metric(&finished("expired")), 1.0);

    let renewed = rig.hub.renew(&id, None).await.unwrap();
    assert_eq!(renewed.status, TvStatus::Starting);
    let new_id = renewed.moved_to.expect("New code moves the session");
    assert_eq!(
        rig.shown(&id).await,
        TvStatus::Idle,
        "nothing left under the old id"
    );
    wait(S(1)).await;
    let shown = rig.shown(&new_id).await;
    assert_eq!(shown.pairing().unwrap().user_code, "CODE-0002", "{shown:?}");
    assert_eq!(rig.metric("tvsignin_pairings_started_total"), 2.0);
    assert_eq!(
        rig.metric(&finished("replaced")),
        0.0,
        "nothing was under way"
    );
}

#[tokio::test(start_paused = true)]
async fn new_code_replaces_the_one_on_screen() {
    let rig = Rig::new();
    let id = rig.start().await;
    let _viewer = rig.hub.subscribe(&id).await.unwrap();
    wait(S(6)).await;
    let new_id = rig.hub.renew(&id, None).await.unwrap().moved_to.unwrap();
    let _viewer = rig.hub.subscribe(&new_id).await.unwrap();
    wait(S(30)).await;
    let polls = rig.provider.polls();
    assert_eq!(polls[0], (S(5), "device-1".into()));
    assert!(
        polls[1..].iter().all(|(_, code)| code == "device-2"),
        "the old code is never polled again: {polls:?}"
    );
    assert_eq!(rig.metric(&finished("replaced")), 1.0);
    assert_eq!(rig.hub.pairings_in_progress(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_provider_refusal_ends_the_pairing_as_expired() {
    let rig = Rig::new();
    rig.provider.poll(Err(oauth("invalid_grant")));
    let id = rig.start().await;
    let _viewer = rig.hub.subscribe(&id).await.unwrap();
    wait(S(6)).await;
    assert_eq!(rig.shown(&id).await, TvStatus::Expired);
    assert_eq!(rig.metric(&finished("rejected")), 1.0);
    assert_eq!(
        rig.metric(r#"tvsignin_token_polls_total{outcome="invalid_grant"}"#),
        1.0
    );
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_polling_and_returns_home() {
    let rig = Rig::new();
    let id = rig.start().await;
    let _viewer = rig.hub.subscribe(&id).await.unwrap();
    wait(S(6)).await;
    assert_eq!(rig.hub.cancel(&id).await.unwrap(), TvStatus::Idle);
    assert_eq!(rig.shown(&id).await, TvStatus::Idle);
    wait(S(60)).await;
    assert_eq!(rig.provider.count(Method::Poll), 1, "no poll after Cancel");
    assert_eq!(rig.metric(&finished("cancelled")), 1.0);
    assert_eq!(rig.hub.pairings_in_progress(), 0);
    // Cancel on Home changes nothing, and makes no record for an unknown id.
    let unknown = crate::pairing::SessionId::generate();
    assert_eq!(rig.hub.cancel(&unknown).await.unwrap(), TvStatus::Idle);
    assert!(rig.record(&unknown).await.is_none());
}

#[tokio::test(start_paused = true)]
async fn polling_stops_once_no_tv_watches() {
    let rig = Rig::new();
    let left = rig.start().await;
    let watched = rig.start().await;
    let _viewer = rig.hub.subscribe(&watched).await.unwrap();
    wait(S(92)).await;
    let polls = rig.provider.polls();
    let count = |code: &str| polls.iter().filter(|(_, c)| c == code).count();
    // Seen at Sign in; ABANDON_AFTER_SECS (20) later the next poll is not sent.
    assert_eq!(count("device-1"), 4, "{polls:?}");
    assert_eq!(rig.shown(&left).await, TvStatus::Idle);
    assert_eq!(count("device-2"), 18, "a watched TV polls on");
    assert_eq!(rig.metric(&finished("abandoned")), 1.0);
    assert_eq!(rig.hub.pairings_in_progress(), 1);
}

#[tokio::test(start_paused = true)]
async fn retrying_the_provider_stops_once_no_tv_watches() {
    let rig = Rig::new();
    for _ in 0..10 {
        rig.provider.authorize(Err(unreachable()));
    }
    let id = rig.start().await;
    wait(S(60)).await;
    assert_eq!(
        rig.provider.times(Method::Authorize),
        vec![S(0), S(2), S(6), S(14)],
        "the retry at 30 s finds nobody watching"
    );
    assert_eq!(rig.shown(&id).await, TvStatus::Idle);
    assert_eq!(rig.metric(&finished("abandoned")), 1.0);
}

#[tokio::test(start_paused = true)]
async fn a_sign_in_that_cannot_be_completed_revokes_the_tokens() {
    let rig = Rig::new();
    rig.provider.poll(Ok(tokens(1)));
    rig.provider
        .sign_in(Err(ProviderError::InvalidIdToken("bad signature".into())));
    let id = rig.start().await;
    let _viewer = rig.hub.subscribe(&id).await.unwrap();
    wait(S(6)).await;
    assert_eq!(rig.shown(&id).await, TvStatus::Expired);
    assert_eq!(
        rig.provider.calls()[2..],
        [
            Call::CompleteSignIn("access-1".into()),
            Call::Revoke("access-1".into())
        ]
    );
    assert!(rig.record(&id).await.unwrap().tokens.is_none());
    assert_eq!(rig.metric(&finished("failed")), 1.0);
    assert_eq!(
        rig.metric(
            r#"tvsignin_provider_errors_total{operation="sign_in",kind="invalid_id_token"}"#
        ),
        1.0
    );
}
