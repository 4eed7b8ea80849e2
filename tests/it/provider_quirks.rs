//! Provider quirks, one test each: the real `ProviderClient` (and `run_polling`) talking HTTP
//! to a small scripted provider on 127.0.0.1 whose endpoints answer from a per-test script.

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::json;

use tvsignin::oidc::error::ErrorCode;
use tvsignin::oidc::polling::{PollOutcome, PollProgress, PollResponse, TokioTimer, VirtualTimer};
use tvsignin::oidc::secret::{ClientSecret, DeviceCode};
use tvsignin::oidc::{ClientAuthMethod, ProviderError};

use crate::support::polling::{approved, poll_until_done};
use crate::support::scripted::{Reply, Scripted, DEVICE, DISCOVERY, ELSEWHERE, TOKEN};
use crate::support::within;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn pending_intervals(progress: &[PollProgress]) -> Vec<u64> {
    progress
        .iter()
        .filter_map(|p| match p {
            PollProgress::Pending { interval } => Some(interval.as_secs()),
            PollProgress::Trouble { .. } => None,
        })
        .collect()
}

fn trouble_waits(progress: &[PollProgress]) -> Vec<u64> {
    progress
        .iter()
        .filter_map(|p| match p {
            PollProgress::Trouble { retry_in } => Some(retry_in.as_secs()),
            PollProgress::Pending { .. } => None,
        })
        .collect()
}

fn form_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned()
}

// ---------------------------------------------------------------------------------------------
// Device authorization response quirks.

#[tokio::test]
async fn verification_url_is_an_alias_of_verification_uri() {
    within(10, async {
        let idp = Scripted::start().await;
        // Older Google: `verification_url`, and no `verification_uri` at all.
        idp.script(
            DEVICE,
            vec![Reply::json(
                200,
                json!({ "device_code": "dc", "user_code": "GQVQ-JKEC", "verification_url": "https://www.google.com/device", "expires_in": 1800, "interval": 5 }),
            )],
        );
        let d = idp.client(|_| {}).start_device_authorization().await.unwrap();
        assert_eq!(d.verification_uri, "https://www.google.com/device");
        assert_eq!(d.user_code, "GQVQ-JKEC");
        assert!(d.verification_uri_complete.is_none());
        // The alias is a known field, not an unknown extra.
        assert!(!d.extra.contains_key("verification_url"), "{:?}", d.extra);
    })
    .await;
}

#[tokio::test]
async fn a_missing_interval_means_five_seconds() {
    within(10, async {
        let idp = Scripted::start().await;
        idp.script(
            DEVICE,
            vec![Reply::json(200, json!({ "device_code": "dc", "user_code": "U", "verification_uri": "https://e/d", "expires_in": 600 }))],
        );
        idp.script(TOKEN, vec![Reply::tokens()]);
        let client = idp.client(|_| {});
        let d = client.start_device_authorization().await.unwrap();
        assert_eq!(d.interval, secs(5));
        // And the loop really waits those 5 s before its first poll (on a virtual clock).
        let timer = VirtualTimer::new();
        let (outcome, _) = poll_until_done(&client, &d, &timer).await;
        approved(outcome);
        assert_eq!(timer.sleeps(), vec![5]);
    })
    .await;
}

#[tokio::test]
async fn a_form_encoded_device_response_is_parsed() {
    within(10, async {
        let idp = Scripted::start().await;
        idp.script(
            DEVICE,
            vec![Reply::raw(
                200,
                "application/x-www-form-urlencoded; charset=utf-8",
                "device_code=dc%2B1&user_code=ABCD-EFGH&verification_uri=https%3A%2F%2Fe.example%2Fdevice&expires_in=900&interval=7",
            )],
        );
        let d = idp.client(|_| {}).start_device_authorization().await.unwrap();
        assert_eq!(d.device_code.expose(), "dc+1");
        assert_eq!(d.user_code, "ABCD-EFGH");
        assert_eq!(d.verification_uri, "https://e.example/device");
        assert_eq!(d.expires_in, secs(900));
        assert_eq!(d.interval, secs(7));
    })
    .await;
}

#[tokio::test]
async fn an_entra_style_message_field_is_kept() {
    within(10, async {
        let idp = Scripted::start().await;
        let message = "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code FGH7KL2 to authenticate.";
        idp.script(
            DEVICE,
            vec![Reply::json(
                200,
                json!({ "device_code": "dc", "user_code": "FGH7KL2", "verification_uri": "https://microsoft.com/devicelogin", "expires_in": "900", "interval": "5", "message": message }),
            )],
        );
        let d = idp.client(|_| {}).start_device_authorization().await.unwrap();
        assert_eq!(d.extra.get("message").and_then(|m| m.as_str()), Some(message));
        // Entra sends numbers as strings in some versions.
        assert_eq!(d.expires_in, secs(900));
        assert_eq!(d.interval, secs(5));
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Token endpoint quirks.

#[tokio::test]
async fn oauth_errors_are_decided_on_the_error_field_whatever_the_status() {
    within(10, async {
        let idp = Scripted::start().await;
        let client = idp.client(|_| {});
        let code = DeviceCode::new("dc");
        for (status, error, expect) in [
            (
                200,
                "authorization_pending",
                ErrorCode::AuthorizationPending,
            ),
            (403, "access_denied", ErrorCode::AccessDenied),
            (429, "slow_down", ErrorCode::SlowDown),
            (401, "invalid_client", ErrorCode::InvalidClient),
        ] {
            idp.script(TOKEN, vec![Reply::error(status, error)]);
            let err = client.poll_token(&code).await.unwrap_err();
            assert_eq!(
                err.oauth().map(|e| e.code.clone()),
                Some(expect.clone()),
                "HTTP {status}: {err}"
            );
            assert_eq!(
                client.poll_for_rules(&code).await.unwrap_err(),
                PollResponse::Error(expect),
                "HTTP {status}"
            );
        }
        // A 429 without an `error` is plain overload: retry later, not a protocol answer.
        idp.script(
            TOKEN,
            vec![Reply::raw(429, "text/plain", "Too Many Requests")],
        );
        assert_eq!(
            client.poll_for_rules(&code).await.unwrap_err(),
            PollResponse::Trouble
        );

        // The loop acts on them too: pending (200), slow_down (429), access_denied (403).
        idp.script(
            TOKEN,
            vec![
                Reply::error(200, "authorization_pending"),
                Reply::error(429, "slow_down"),
                Reply::error(403, "access_denied"),
            ],
        );
        let before = idp.hits(TOKEN);
        let d = client.start_device_authorization().await.unwrap();
        let timer = VirtualTimer::new();
        let (outcome, progress) = poll_until_done(&client, &d, &timer).await;
        assert!(matches!(outcome, PollOutcome::Denied), "{outcome:?}");
        assert_eq!(pending_intervals(&progress), vec![1, 6]);
        assert_eq!(timer.sleeps(), vec![1, 1, 6]);
        assert_eq!(idp.hits(TOKEN) - before, 3);
    })
    .await;
}

#[tokio::test]
async fn slow_down_twice_grows_the_interval_5_10_15() {
    within(10, async {
        let idp = Scripted::start().await;
        // No `interval`: the 5 s default, then +5 s per slow_down, kept for every later poll.
        idp.script(
            DEVICE,
            vec![Reply::json(200, json!({ "device_code": "dc", "user_code": "U", "verification_uri": "https://e/d", "expires_in": 600 }))],
        );
        idp.script(
            TOKEN,
            vec![
                Reply::error(400, "slow_down"),
                Reply::error(400, "slow_down"),
                Reply::pending(),
                Reply::tokens(),
                Reply::error(400, "invalid_grant"),
            ],
        );
        let client = idp.client(|_| {});
        let d = client.start_device_authorization().await.unwrap();
        let timer = VirtualTimer::new();
        let (outcome, progress) = poll_until_done(&client, &d, &timer).await;
        assert_eq!(approved(outcome).access_token.expose(), "at-1");
        assert_eq!(pending_intervals(&progress), vec![10, 15, 15]);
        assert_eq!(timer.sleeps(), vec![5, 10, 15, 15]);
        assert_eq!(idp.hits(TOKEN), 4);
    })
    .await;
}

#[tokio::test]
async fn server_errors_back_off_then_succeed() {
    within(10, async {
        let idp = Scripted::start().await;
        idp.script(
            TOKEN,
            vec![
                Reply::raw(503, "text/html", "<h1>Service Unavailable</h1>"),
                Reply::json(502, json!({ "message": "bad gateway" })),
                Reply::tokens(),
            ],
        );
        let client = idp.client(|_| {});
        let d = client.start_device_authorization().await.unwrap();
        let timer = VirtualTimer::new();
        let (outcome, progress) = poll_until_done(&client, &d, &timer).await;
        assert_eq!(approved(outcome).access_token.expose(), "at-1");
        // Interval 1 s: trouble doubles it, then doubles the back-off.
        assert_eq!(trouble_waits(&progress), vec![2, 4]);
        assert_eq!(timer.sleeps(), vec![1, 2, 4]);
        assert_eq!(idp.hits(TOKEN), 3);
    })
    .await;
}

#[tokio::test]
async fn a_timeout_is_transient_then_polling_succeeds() {
    within(15, async {
        let idp = Scripted::start().await;
        // Slow headers, then headers at once but a body that stalls half-way.
        let slow = Reply::pending().after(secs(3));
        idp.script(
            TOKEN,
            vec![slow.clone(), Reply::stalled(), slow, Reply::tokens()],
        );
        let client = idp.client(|c| c.request_timeout = Duration::from_millis(300));
        let d = client.start_device_authorization().await.unwrap();

        for what in ["slow headers", "stalled body"] {
            let started = Instant::now();
            let err = client.poll_token(&d.device_code).await.unwrap_err();
            assert!(
                matches!(err, ProviderError::Timeout { .. }),
                "{what}: {err:?}"
            );
            assert!(err.is_transient(), "{what}");
            assert!(
                started.elapsed() < secs(2),
                "{what}: no request timeout: {:?}",
                started.elapsed()
            );
        }

        let timer = VirtualTimer::new();
        let (outcome, progress) = poll_until_done(&client, &d, &timer).await;
        assert_eq!(approved(outcome).access_token.expose(), "at-1");
        assert_eq!(trouble_waits(&progress), vec![2]);
        assert_eq!(idp.hits(TOKEN), 4);
    })
    .await;
}

#[tokio::test]
async fn malformed_json_is_transient() {
    within(10, async {
        let idp = Scripted::start().await;
        idp.script(
            TOKEN,
            vec![
                Reply::raw(200, "application/json", r#"{"access_token": "#),
                Reply::raw(200, "application/json", "[1, 2, 3]"),
                Reply::tokens(),
            ],
        );
        let client = idp.client(|_| {});
        let err = client.poll_token(&DeviceCode::new("dc")).await.unwrap_err();
        assert!(matches!(err, ProviderError::Malformed { .. }), "{err:?}");
        assert!(err.is_transient());

        let d = client.start_device_authorization().await.unwrap();
        let timer = VirtualTimer::new();
        let (outcome, progress) = poll_until_done(&client, &d, &timer).await;
        approved(outcome);
        assert_eq!(
            trouble_waits(&progress),
            vec![2],
            "a JSON array is malformed too"
        );
        assert_eq!(idp.hits(TOKEN), 3);
    })
    .await;
}

#[tokio::test]
async fn a_huge_body_is_refused_without_reading_it_all() {
    within(15, async {
        let idp = Scripted::start().await;
        let limit = 64 * 1024;
        idp.script(
            TOKEN,
            vec![
                // Announced with a Content-Length far over the cap.
                Reply::raw(200, "application/json", vec![b' '; 1024 * 1024]),
                // Chunked and endless: only a capped read ever finishes.
                Reply::endless(),
                Reply::endless(),
                Reply::tokens(),
            ],
        );
        let client = idp.client(|c| c.max_response_bytes = limit);
        let code = DeviceCode::new("dc");
        for what in ["content-length", "endless stream"] {
            let started = Instant::now();
            let err = client.poll_token(&code).await.unwrap_err();
            assert!(
                matches!(err, ProviderError::TooLarge { limit: l, .. } if l == limit),
                "{what}: {err:?}"
            );
            assert!(
                started.elapsed() < secs(3),
                "{what}: took {:?}",
                started.elapsed()
            );
        }
        // The loop treats it as trouble and carries on; the client still works.
        assert_eq!(
            client.poll_for_rules(&code).await.unwrap_err(),
            PollResponse::Trouble
        );
        assert_eq!(
            client
                .poll_token(&code)
                .await
                .unwrap()
                .access_token
                .expose(),
            "at-1"
        );

        // Discovery is capped as well.
        idp.script(DISCOVERY, vec![Reply::endless()]);
        let err = idp
            .client(|c| c.max_response_bytes = limit)
            .load_endpoints()
            .await
            .unwrap_err();
        assert!(matches!(err, ProviderError::TooLarge { .. }), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn an_expired_code_is_not_polled() {
    within(10, async {
        let idp = Scripted::start().await;
        // Real clock: 1 s of life and a 1 s interval, so the first check is already too late.
        idp.script(
            DEVICE,
            vec![Reply::json(200, json!({ "device_code": "dc", "user_code": "U", "verification_uri": "https://e/d", "expires_in": 1, "interval": 1 }))],
        );
        let client = idp.client(|_| {});
        let d = client.start_device_authorization().await.unwrap();
        let started = Instant::now();
        let (outcome, _) = poll_until_done(&client, &d, &TokioTimer).await;
        assert!(matches!(outcome, PollOutcome::Expired), "{outcome:?}");
        assert_eq!(idp.hits(TOKEN), 0, "polled a code past its deadline");
        assert!(started.elapsed() < Duration::from_millis(1900), "{:?}", started.elapsed());

        // Virtual clock: 3 s of life, only pending: polls at 1 s and 2 s, then stops at 3 s.
        idp.script(
            DEVICE,
            vec![Reply::json(200, json!({ "device_code": "dc", "user_code": "U", "verification_uri": "https://e/d", "expires_in": 3, "interval": 1 }))],
        );
        let d = client.start_device_authorization().await.unwrap();
        let timer = VirtualTimer::new();
        let (outcome, _) = poll_until_done(&client, &d, &timer).await;
        assert!(matches!(outcome, PollOutcome::Expired), "{outcome:?}");
        assert_eq!(idp.hits(TOKEN), 2);
        assert_eq!(timer.sleeps(), vec![1, 1, 1]);
    })
    .await;
}

#[tokio::test]
async fn polling_stops_once_the_code_is_redeemed() {
    within(15, async {
        let idp = Scripted::start().await;
        // After the tokens, any further poll would be answered invalid_grant (and at real
        // providers revoke the grant).
        idp.script(
            TOKEN,
            vec![
                Reply::pending(),
                Reply::pending(),
                Reply::tokens(),
                Reply::error(400, "invalid_grant"),
            ],
        );
        let client = idp.client(|_| {});
        let d = client.start_device_authorization().await.unwrap();
        assert_eq!(d.interval, secs(1));
        let started = Instant::now();
        let (outcome, progress) = poll_until_done(&client, &d, &TokioTimer).await;
        let elapsed = started.elapsed();
        assert_eq!(approved(outcome).refresh_token.unwrap().expose(), "rt-1");
        assert_eq!(pending_intervals(&progress), vec![1, 1]);
        assert!(
            elapsed >= secs(3) && elapsed < secs(6),
            "three 1 s waits, got {elapsed:?}"
        );
        // Nothing keeps polling in the background.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(idp.hits(TOKEN), 3);
    })
    .await;
}

#[tokio::test]
async fn redirects_from_the_token_endpoint_are_not_followed() {
    within(10, async {
        let idp = Scripted::start().await;
        let client = idp.client(|_| {});
        let code = DeviceCode::new("dc");
        let target = format!("{}{ELSEWHERE}", idp.base);
        for status in [302, 307, 308] {
            idp.script(
                TOKEN,
                vec![Reply::raw(status, "text/plain", "").header("location", &target)],
            );
            let err = client.poll_token(&code).await.unwrap_err();
            assert!(
                matches!(err, ProviderError::Status { status: s, .. } if s == status),
                "{err:?}"
            );
            // Not a "retry later": the pairing ends.
            assert_eq!(
                client.poll_for_rules(&code).await.unwrap_err(),
                PollResponse::Error(ErrorCode::Other("http_status".into()))
            );
        }
        assert_eq!(
            idp.hits(ELSEWHERE),
            0,
            "a redirect was followed (the device code went elsewhere)"
        );
        assert_eq!(idp.hits(TOKEN), 6);
    })
    .await;
}

#[tokio::test]
async fn client_secret_basic_sends_the_secret_in_the_header_only() {
    within(10, async {
        let idp = Scripted::start().await;
        idp.script(TOKEN, vec![Reply::tokens()]);
        // Characters that must be form-encoded before Basic (RFC 6749 §2.3.1).
        let client = idp.client(|c| {
            c.client_id = "tv:kiosk".into();
            c.client_secret = Some(ClientSecret::new("p@ss w/rd:1"));
            c.auth_method = Some(ClientAuthMethod::ClientSecretBasic);
        });
        let d = client.start_device_authorization().await.unwrap();
        client.poll_token(&d.device_code).await.unwrap();
        let requests = [idp.seen(DEVICE), idp.seen(TOKEN)].concat();
        assert_eq!(requests.len(), 2);
        for seen in requests {
            let header = seen
                .authorization
                .as_deref()
                .expect("an Authorization header");
            let decoded = String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(header.strip_prefix("Basic ").expect("Basic"))
                    .expect("base64"),
            )
            .unwrap();
            let (id, secret) = decoded.split_once(':').expect("id:secret");
            assert_eq!(
                (form_decode(id).as_str(), form_decode(secret).as_str()),
                ("tv:kiosk", "p@ss w/rd:1")
            );
            assert!(
                seen.field("client_secret").is_empty(),
                "secret in the body too: {:?}",
                seen.form
            );
            assert!(
                !seen.form.iter().any(|(_, v)| v.contains("p@ss")),
                "{:?}",
                seen.form
            );
        }
    })
    .await;
}

#[tokio::test]
async fn client_secret_post_sends_the_secret_in_the_body_only() {
    within(10, async {
        let idp = Scripted::start().await;
        idp.script(TOKEN, vec![Reply::tokens()]);
        // Discovery lists only client_secret_post, so the client picks it by itself.
        let base = idp.base.clone();
        idp.script(
            DISCOVERY,
            vec![Reply::json(
                200,
                json!({ "issuer": base, "device_authorization_endpoint": format!("{base}{DEVICE}"), "token_endpoint": format!("{base}{TOKEN}"), "token_endpoint_auth_methods_supported": ["client_secret_post"] }),
            )],
        );
        let client = idp.client(|c| c.client_secret = Some(ClientSecret::new("post-secret")));
        let d = client.start_device_authorization().await.unwrap();
        client.poll_token(&d.device_code).await.unwrap();
        let requests = [idp.seen(DEVICE), idp.seen(TOKEN)].concat();
        assert_eq!(requests.len(), 2);
        for seen in requests {
            assert_eq!(seen.authorization, None);
            assert_eq!(seen.field("client_secret"), vec!["post-secret"]);
            assert_eq!(seen.field("client_id"), vec!["tv"]);
        }
        let token = &idp.seen(TOKEN)[0];
        assert_eq!(token.field("grant_type"), vec!["urn:ietf:params:oauth:grant-type:device_code"]);
        assert_eq!(token.field("device_code"), vec!["dc-1"]);
    })
    .await;
}

#[tokio::test]
async fn a_public_client_sends_only_its_id() {
    within(10, async {
        let idp = Scripted::start().await;
        idp.script(TOKEN, vec![Reply::tokens()]);
        let client = idp.client(|_| {});
        let d = client.start_device_authorization().await.unwrap();
        client.poll_token(&d.device_code).await.unwrap();
        for seen in [idp.seen(DEVICE), idp.seen(TOKEN)].concat() {
            assert_eq!(seen.authorization, None);
            assert_eq!(seen.field("client_id"), vec!["tv"]);
            assert!(seen.field("client_secret").is_empty());
        }
    })
    .await;
}

#[tokio::test]
async fn a_lowercase_bearer_token_type_is_accepted() {
    within(10, async {
        let idp = Scripted::start().await;
        idp.script(
            TOKEN,
            vec![
                Reply::json(200, json!({ "access_token": "at-lower", "token_type": "bearer", "expires_in": "3599", "id_token": "x.y.z" })),
                Reply::json(200, json!({ "access_token": "at-mac", "token_type": "mac" })),
            ],
        );
        let client = idp.client(|_| {});
        let code = DeviceCode::new("dc");
        let tokens = client.poll_token(&code).await.unwrap();
        assert_eq!(tokens.access_token.expose(), "at-lower");
        assert_eq!(tokens.expires_in, Some(secs(3599)));
        assert_eq!(tokens.id_token.unwrap().expose(), "x.y.z");
        // Only the case is forgiven: another token type is still refused.
        let err = client.poll_token(&code).await.unwrap_err();
        assert!(matches!(err, ProviderError::Unsupported(_)), "{err:?}");
    })
    .await;
}
