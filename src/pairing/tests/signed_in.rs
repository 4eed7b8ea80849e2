//! A signed-in TV: the access token refreshed before it expires (rotation, a provider that
//! keeps the refresh token, a refused refresh), the idle sign-out and what pushes it back,
//! and Sign out, each revoking what it drops exactly once.

use crate::model::TvStatus;
use crate::oidc::token::TokenSet;
use crate::pairing::store::SessionRecord;
use crate::pairing::testing::{oauth, tokens, wait, Call, Method, Rig, S};
use crate::pairing::SessionId;

/// Signs a TV in with `tokens` at 5 s (the first poll).
async fn signed_in(rig: &Rig, tokens: TokenSet) -> SessionId {
    rig.provider.poll(Ok(tokens));
    let id = rig.start().await;
    wait(S(6)).await;
    assert_eq!(rig.shown(&id).await.state_name(), "signed-in");
    id
}

/// Tokens without a refresh token: nothing to refresh.
fn access_only(n: u32) -> TokenSet {
    TokenSet {
        refresh_token: None,
        ..tokens(n)
    }
}

fn revoked(rig: &Rig) -> Vec<Call> {
    let calls = rig.provider.calls();
    calls
        .into_iter()
        .filter(|c| matches!(c, Call::Revoke(_)))
        .collect()
}

fn access(record: &Option<SessionRecord>) -> String {
    let tokens = record.as_ref().and_then(|r| r.tokens.as_ref()).unwrap();
    tokens.access_token.expose().to_owned()
}

#[tokio::test(start_paused = true)]
async fn access_tokens_are_refreshed_a_minute_before_they_expire_with_the_rotated_token() {
    let rig = Rig::new();
    let id = signed_in(&rig, tokens(1)).await;
    // 300 s tokens from 5 s: due at 245 s, then 240 s after each refresh.
    wait(S(500)).await;
    assert_eq!(rig.provider.times(Method::Refresh), vec![S(245), S(485)]);
    let refreshes: Vec<Call> = rig
        .provider
        .calls()
        .into_iter()
        .filter(|c| matches!(c, Call::Refresh(_)))
        .collect();
    assert_eq!(
        refreshes,
        vec![
            Call::Refresh("refresh-1".into()),
            Call::Refresh("refresh-2".into())
        ]
    );
    let record = rig.record(&id).await;
    assert_eq!(access(&record), "access-3");
    assert_eq!(record.unwrap().tokens_at_ms, rig.now_ms() - 21_000);
    assert!(revoked(&rig).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_refresh_without_a_new_refresh_token_keeps_the_old_one() {
    let rig = Rig::new();
    rig.provider.refresh(Ok(access_only(9)));
    let id = signed_in(&rig, tokens(1)).await;
    wait(S(240)).await;
    let record = rig.record(&id).await;
    assert_eq!(access(&record), "access-9");
    let kept = record.unwrap().tokens.unwrap().refresh_token.unwrap();
    assert_eq!(kept.expose(), "refresh-1");
    wait(S(240)).await;
    assert_eq!(
        rig.provider.calls().last(),
        Some(&Call::Refresh("refresh-1".into())),
        "the next refresh sends the kept token"
    );
}

#[tokio::test(start_paused = true)]
async fn a_refused_refresh_keeps_the_session_until_the_idle_sign_out() {
    let rig = Rig::new();
    rig.provider.refresh(Err(oauth("invalid_grant")));
    let id = signed_in(&rig, tokens(1)).await;
    wait(S(300)).await;
    let record = rig.record(&id).await.unwrap();
    assert_eq!(record.status.state_name(), "signed-in");
    assert!(
        record.tokens.unwrap().refresh_token.is_none(),
        "a refused refresh token is not sent again"
    );
    assert_eq!(
        rig.metric(r#"tvsignin_provider_errors_total{operation="refresh",kind="oauth_error"}"#),
        1.0
    );
    wait(S(300)).await;
    assert_eq!(rig.provider.count(Method::Refresh), 1);
    assert_eq!(rig.shown(&id).await, TvStatus::Idle, "signed out at 605 s");
    assert_eq!(revoked(&rig), vec![Call::Revoke("access-1".into())]);
}

#[tokio::test(start_paused = true)]
async fn an_idle_tv_signs_out_by_itself_after_warning() {
    let rig = Rig::new();
    let started_ms = rig.now_ms();
    let id = signed_in(&rig, access_only(1)).await;
    let TvStatus::SignedIn {
        sign_out_at_ms,
        warn_secs,
        ..
    } = rig.shown(&id).await
    else {
        unreachable!()
    };
    // The TV counts down from SIGN_OUT_WARNING_SECS before IDLE_SIGN_OUT_SECS is up.
    assert_eq!(sign_out_at_ms, started_ms + 5_000 + 600_000);
    assert_eq!(warn_secs, 60);
    wait(S(598)).await;
    assert_eq!(rig.shown(&id).await.state_name(), "signed-in");
    wait(S(2)).await;
    assert_eq!(rig.shown(&id).await, TvStatus::Idle);
    assert!(rig.record(&id).await.unwrap().tokens.is_none());
    wait(S(600)).await;
    assert_eq!(revoked(&rig), vec![Call::Revoke("access-1".into())]);
}

#[tokio::test(start_paused = true)]
async fn activity_pushes_the_idle_sign_out_back() {
    let rig = Rig::new();
    let id = signed_in(&rig, access_only(1)).await;
    wait(S(294)).await;
    let TvStatus::SignedIn { sign_out_at_ms, .. } = rig.hub.activity(&id).await.unwrap() else {
        unreachable!()
    };
    assert_eq!(sign_out_at_ms, rig.now_ms() + 600_000);
    wait(S(400)).await;
    assert_eq!(
        rig.shown(&id).await.state_name(),
        "signed-in",
        "past the first deadline"
    );
    wait(S(201)).await;
    assert_eq!(rig.shown(&id).await, TvStatus::Idle);
    assert_eq!(revoked(&rig), vec![Call::Revoke("access-1".into())]);
    // Activity on Home changes nothing.
    assert_eq!(rig.hub.activity(&id).await.unwrap(), TvStatus::Idle);
}

#[tokio::test(start_paused = true)]
async fn sign_out_revokes_once_and_moves_the_session() {
    let rig = Rig::new();
    let id = signed_in(&rig, tokens(1)).await;
    let acted = rig.hub.sign_out(&id).await.unwrap();
    assert_eq!(acted.status, TvStatus::Idle);
    let new_id = acted.moved_to.expect("Sign out moves the session");
    assert!(
        rig.record(&id).await.is_none(),
        "nothing left under the old id"
    );
    let record = rig.record(&new_id).await.unwrap();
    assert_eq!(
        (record.status, record.tokens.is_none()),
        (TvStatus::Idle, true)
    );
    wait(S(1000)).await;
    assert_eq!(revoked(&rig), vec![Call::Revoke("access-1".into())]);
    assert_eq!(rig.provider.count(Method::Refresh), 0, "the task stopped");
}

#[tokio::test(start_paused = true)]
async fn tokens_of_a_refresh_that_ends_after_sign_out_are_revoked() {
    let rig = Rig::new();
    let gate = rig.provider.hold(Method::Refresh);
    let id = signed_in(&rig, tokens(1)).await;
    wait(S(240)).await;
    assert_eq!(
        rig.provider.count(Method::Refresh),
        1,
        "a refresh is under way"
    );
    rig.hub.sign_out(&id).await.unwrap();
    gate.add_permits(1);
    wait(S(1)).await;
    assert_eq!(
        revoked(&rig),
        vec![
            Call::Revoke("access-1".into()),
            Call::Revoke("access-2".into())
        ]
    );
}
