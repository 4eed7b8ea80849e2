//! The whole device flow against the real local OpenID provider (npm `oidc-provider`): each
//! client authentication method end to end (sign-in, ID token, refresh, revocation), plus
//! deny, expiry and `slow_down`. Each test starts its own provider, so they run in parallel.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use tokio::sync::Notify;
use url::Url;

use tvsignin::oidc::polling::{PollOutcome, PollProgress, Timer, TokioTimer};
use tvsignin::oidc::secret::{ClientSecret, IdToken};
use tvsignin::oidc::{
    ClientAuthMethod, ProviderClient, ProviderConfig, ProviderError, ProviderSource,
};

use crate::support::local_idp::{
    phone, LocalIdp, PhoneAction, ALICE, BASIC_CLIENT, POST_CLIENT, PUBLIC_CLIENT,
};
use crate::support::polling::{approved, poll_until_done, poll_watching};
use crate::support::within;

type ClientDef = (&'static str, Option<&'static str>, &'static str);

/// A client of `idp`; `auth: None` leaves the method to discovery.
fn client_for(
    idp: &LocalIdp,
    (id, secret, _): ClientDef,
    auth: Option<ClientAuthMethod>,
) -> ProviderClient {
    let mut config =
        ProviderConfig::new(ProviderSource::Issuer(Url::parse(&idp.issuer).unwrap()), id);
    config.client_secret = secret.map(ClientSecret::new);
    config.auth_method = auth;
    // Generous: the whole suite runs in parallel on small CI machines.
    config.request_timeout = Duration::from_secs(15);
    ProviderClient::new(config).expect("client")
}

/// The ID token with its payload rewritten (signature kept): a forgery.
fn forge(token: &IdToken, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> IdToken {
    let parts: Vec<&str> = token.expose().split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS has three parts");
    let mut payload: serde_json::Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    edit(&mut payload);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
    IdToken::new(format!("{}.{payload}.{}", parts[0], parts[2]))
}

/// The ID token with one signature character changed.
fn flip_signature(token: &IdToken) -> IdToken {
    let (rest, sig) = token.expose().rsplit_once('.').unwrap();
    let mut sig: Vec<u8> = sig.bytes().collect();
    let middle = sig.len() / 2;
    sig[middle] = if sig[middle] == b'A' { b'B' } else { b'A' };
    IdToken::new(format!("{rest}.{}", String::from_utf8(sig).unwrap()))
}

/// Sign-in, ID token, refresh and revocation for one client, with alice allowing on the phone.
async fn full_flow(
    def: ClientDef,
    auth: Option<ClientAuthMethod>,
    expect_method: ClientAuthMethod,
    complete_uri: bool,
) {
    let idp = LocalIdp::start(&[("IDP_INTERVAL", "1")]).await;
    let client = client_for(&idp, def, auth);
    let endpoints = client.load_endpoints().await.expect("discovery");
    assert_eq!(endpoints.auth_method, expect_method);

    let d = client
        .start_device_authorization()
        .await
        .expect("device authorization");
    assert_eq!(d.interval, Duration::from_secs(1));
    let uri = if complete_uri {
        d.verification_uri_complete.clone().expect("complete uri")
    } else {
        d.verification_uri.clone()
    };
    let (user, password) = ALICE;
    let ((outcome, progress), (exit, output)) = tokio::join!(
        poll_until_done(&client, &d, &TokioTimer),
        phone(&uri, &d.user_code, user, password, PhoneAction::Allow),
    );
    assert_eq!(exit, 0, "phone: {output}");
    let tokens = approved(outcome);
    assert!(
        progress.iter().all(|p| *p
            == PollProgress::Pending {
                interval: Duration::from_secs(1)
            }),
        "{progress:?}"
    );

    // Who signed in: the ID token is verified, userinfo supplies the rest.
    let signed_in = client
        .complete_sign_in(&tokens)
        .await
        .expect("complete_sign_in");
    assert_eq!(signed_in.sub, "alice");
    assert_eq!(signed_in.display_name, "Alice Liddell");
    assert!(
        signed_in
            .claims
            .contains(&("ext.tenantId".to_owned(), "wonderland-tenant".to_owned())),
        "{:?}",
        signed_in.claims
    );
    assert!(signed_in
        .claims
        .contains(&("email".to_owned(), "alice@example.test".to_owned())));

    let id_token = tokens.id_token.clone().expect("an ID token");
    let claims = client
        .verify_id_token(&id_token)
        .await
        .expect("genuine ID token");
    assert_eq!(claims.sub, "alice");
    assert_eq!(
        claims.claims.get("aud").and_then(Value::as_str),
        Some(def.0)
    );
    assert_eq!(
        claims.claims.get("iss").and_then(Value::as_str),
        Some(idp.issuer.as_str())
    );

    // Tampered tokens are rejected: a payload naming bob under alice's signature, and a
    // damaged signature.
    let forged = forge(&id_token, |p| {
        p.insert("sub".into(), "bob".into());
    });
    for (what, bad) in [
        ("forged sub", forged),
        ("flipped signature", flip_signature(&id_token)),
    ] {
        match client.verify_id_token(&bad).await {
            Err(ProviderError::InvalidIdToken(reason)) => {
                assert!(reason.contains("InvalidSignature"), "{what}: {reason}")
            }
            other => panic!("{what}: expected InvalidIdToken, got {other:?}"),
        }
    }

    // Refresh gives a working new access token.
    let refresh_token = tokens.refresh_token.clone().expect("a refresh token");
    let refreshed = client.refresh(&refresh_token).await.expect("refresh");
    assert_ne!(refreshed.access_token, tokens.access_token);
    if def.0 == PUBLIC_CLIENT.0 {
        // The public client's refresh tokens rotate on every use.
        assert_ne!(refreshed.refresh_token.as_ref(), Some(&refresh_token));
    }
    assert_eq!(
        client
            .userinfo(&refreshed.access_token)
            .await
            .expect("userinfo")
            .sub(),
        "alice"
    );

    // Revocation ends the grant: both the new and the original access token stop working.
    assert!(
        client.revoke(&refreshed).await.expect("revoke"),
        "the provider has a revocation endpoint"
    );
    for (what, token) in [
        ("refreshed", &refreshed.access_token),
        ("original", &tokens.access_token),
    ] {
        let err = client.userinfo(token).await.expect_err(what);
        assert_eq!(
            err.oauth().map(|e| e.code.as_str()),
            Some("invalid_token"),
            "{what}: {err:?}"
        );
        // The same request, raw: the provider's status is 401.
        let raw = reqwest::Client::new()
            .get(endpoints.userinfo.clone().unwrap())
            .bearer_auth(token.expose())
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status().as_u16(), 401, "{what}");
    }
}

#[tokio::test]
async fn public_client_signs_in_end_to_end() {
    // No secret: discovery leaves it `none`. The phone opens the complete URI.
    within(
        40,
        full_flow(PUBLIC_CLIENT, None, ClientAuthMethod::None, true),
    )
    .await;
}

#[tokio::test]
async fn basic_client_signs_in_end_to_end() {
    // Method left to discovery, which lists client_secret_basic. The phone types the code.
    within(
        40,
        full_flow(
            BASIC_CLIENT,
            None,
            ClientAuthMethod::ClientSecretBasic,
            false,
        ),
    )
    .await;
}

#[tokio::test]
async fn post_client_signs_in_end_to_end() {
    // Discovery lists basic too, so client_secret_post has to be set explicitly.
    let method = Some(ClientAuthMethod::ClientSecretPost);
    within(
        40,
        full_flow(
            POST_CLIENT,
            method,
            ClientAuthMethod::ClientSecretPost,
            true,
        ),
    )
    .await;
}

#[tokio::test]
async fn denying_on_the_phone_ends_polling_as_denied() {
    within(40, async {
        let idp = LocalIdp::start(&[("IDP_INTERVAL", "1")]).await;
        let client = client_for(&idp, PUBLIC_CLIENT, None);
        let d = client.start_device_authorization().await.unwrap();
        let uri = d.verification_uri_complete.clone().unwrap();
        let (user, password) = ALICE;
        let ((outcome, _), (exit, output)) = tokio::join!(
            poll_until_done(&client, &d, &TokioTimer),
            phone(&uri, &d.user_code, user, password, PhoneAction::Deny),
        );
        assert_eq!(exit, 0, "phone: {output}");
        assert!(matches!(outcome, PollOutcome::Denied), "{outcome:?}");
    })
    .await;
}

#[tokio::test]
async fn an_unused_code_expires() {
    within(40, async {
        let idp = LocalIdp::start(&[("IDP_DEVICE_CODE_TTL", "3"), ("IDP_INTERVAL", "1")]).await;
        let client = client_for(&idp, BASIC_CLIENT, None);
        let d = client.start_device_authorization().await.unwrap();
        assert_eq!(d.expires_in, Duration::from_secs(3));
        let started = Instant::now();
        let (outcome, progress) = poll_until_done(&client, &d, &TokioTimer).await;
        let elapsed = started.elapsed();
        assert!(matches!(outcome, PollOutcome::Expired), "{outcome:?}");
        assert!(!progress.is_empty(), "it was polled while still valid");
        assert!(
            elapsed >= Duration::from_millis(2500) && elapsed < Duration::from_secs(6),
            "{elapsed:?}"
        );
    })
    .await;
}

/// The real clock, except that the second sleep (the first one after a poll) is cut short,
/// so the next poll comes too soon and provokes `slow_down`. Records what was asked for.
struct HastyTimer {
    asked: Mutex<Vec<Duration>>,
}

impl Timer for HastyTimer {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let mut asked = self.asked.lock().unwrap();
        asked.push(duration);
        let actual = if asked.len() == 2 {
            Duration::from_millis(100)
        } else {
            duration
        };
        Box::pin(tokio::time::sleep(actual))
    }
}

#[tokio::test]
async fn slow_down_adds_five_seconds_and_the_pairing_still_completes() {
    within(40, async {
        let idp = LocalIdp::start(&[("IDP_SLOW_DOWN", "1"), ("IDP_INTERVAL", "1")]).await;
        let client = client_for(&idp, POST_CLIENT, Some(ClientAuthMethod::ClientSecretPost));
        let d = client.start_device_authorization().await.unwrap();
        let timer = HastyTimer {
            asked: Mutex::new(Vec::new()),
        };
        // The phone starts only once slow_down has been seen, so the tokens cannot arrive
        // before the too-fast poll.
        let slowed = Notify::new();
        let on_progress = |p: &PollProgress| {
            if *p
                == (PollProgress::Pending {
                    interval: Duration::from_secs(6),
                })
            {
                slowed.notify_one();
            }
        };
        let uri = d.verification_uri_complete.clone().unwrap();
        let (user, password) = ALICE;
        let phone_after_slow_down = async {
            tokio::time::timeout(Duration::from_secs(10), slowed.notified())
                .await
                .expect("no slow_down seen");
            phone(&uri, &d.user_code, user, password, PhoneAction::Allow).await
        };
        let ((outcome, progress), (exit, output)) = tokio::join!(
            poll_watching(&client, &d, &timer, on_progress),
            phone_after_slow_down
        );
        assert_eq!(exit, 0, "phone: {output}");
        let tokens = approved(outcome);

        let secs = |list: &[Duration]| list.iter().map(Duration::as_secs).collect::<Vec<_>>();
        // A loaded machine may add a network hiccup (Trouble, with back-off); the rule under
        // test is what the provider's answers do to the interval.
        let intervals: Vec<Duration> = progress
            .iter()
            .filter_map(|p| match p {
                PollProgress::Pending { interval } => Some(*interval),
                PollProgress::Trouble { .. } => None,
            })
            .collect();
        // Pending at 1 s, then slow_down: 1 + 5 = 6 s for every later poll.
        assert_eq!(secs(&intervals[..2]), vec![1, 6]);
        assert!(
            intervals[1..].iter().all(|i| i.as_secs() == 6),
            "{intervals:?}"
        );
        let asked = timer.asked.lock().unwrap().clone();
        assert_eq!(secs(&asked[..3]), vec![1, 1, 6]);
        // Later waits are the 6 s interval, or its doubling after a hiccup.
        assert!(asked[2..].iter().all(|d| d.as_secs() % 6 == 0), "{asked:?}");

        let signed_in = client.complete_sign_in(&tokens).await.unwrap();
        assert_eq!(signed_in.display_name, "Alice Liddell");
    })
    .await;
}
