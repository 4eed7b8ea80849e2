//! Fault injection through the whole app (issue 7): the server runs in-process on a loopback
//! port and talks to a small scripted provider, also on loopback. Each test is bounded.
//!
//! - a provider that is down when the server starts, and comes up later on the same port;
//! - token endpoint trouble mid-pairing (503, a hang past the timeout, a slow answer,
//!   malformed JSON), ending signed in;
//! - graceful shutdown with a push stream open and a pairing polling;
//! - a restart mid-pairing: the TV's cookie finds a clean Home, not an error.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::support::app::{serve_on, TestApp};
use crate::support::scripted::{Reply, Scripted, DEVICE, TOKEN, USERINFO};
use crate::support::tv::{user_code, Tv};
use crate::support::{free_port, within};

/// Binds 127.0.0.1:`port`, retrying briefly (a port just released can take a moment).
async fn bind_port(port: u16) -> TcpListener {
    let mut tries = 0;
    loop {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => return listener,
            Err(error) if tries < 50 => {
                tries += 1;
                eprintln!("bind 127.0.0.1:{port}: {error}; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("cannot bind 127.0.0.1:{port}: {error}"),
        }
    }
}

/// A provider on `listener` whose device authorization makes a new code each time
/// (`device-code-<n>`, shown as `CODE-000<n>`, interval 1 s), whose token endpoint answers
/// `token_script` in order (the last answer repeats), and whose userinfo names Alice.
fn provider_on(listener: TcpListener, token_script: Vec<Reply>) -> Scripted {
    let provider = Scripted::serve_on(listener);
    let base = provider.base.clone();
    let codes = (1..=9)
        .map(|n| {
            let user_code = format!("CODE-{n:04}");
            Reply::json(
                200,
                json!({
                    "device_code": format!("device-code-{n}"),
                    "user_code": user_code,
                    "verification_uri": format!("{base}/activate"),
                    "verification_uri_complete": format!("{base}/activate?user_code={user_code}"),
                    "expires_in": 600,
                    "interval": 1,
                }),
            )
        })
        .collect();
    provider.script(DEVICE, codes);
    provider.script(TOKEN, token_script);
    provider.script(
        USERINFO,
        vec![Reply::json(
            200,
            json!({ "sub": "alice", "name": "Alice Liddell", "ext": { "tenantId": "t-1" } }),
        )],
    );
    provider
}

/// As [`provider_on`], on a free port.
async fn start_provider(token_script: Vec<Reply>) -> Scripted {
    provider_on(
        TcpListener::bind("127.0.0.1:0").await.expect("bind"),
        token_script,
    )
}

/// The app on `listener` with the provider at `issuer` (client `tv`, public) and `extra`.
async fn app_on(listener: TcpListener, issuer: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![("ISSUER", issuer), ("CLIENT_ID", "tv")];
    settings.extend_from_slice(extra);
    serve_on(listener, &settings, None).await
}

impl TestApp {
    /// The HTTP status of `GET <path>` (0 when the app does not answer).
    async fn get_status(&self, path: &str) -> u16 {
        reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }
}

// ---------------------------------------------------------------------------------------------
// The tests.

/// The provider is down when the server starts; it comes up later on the same port, and the
/// pairing and readiness recover by themselves.
#[tokio::test]
async fn a_provider_down_at_start_up_recovers_by_itself() {
    within(45, async {
        let provider_port = free_port();
        let issuer = format!("http://127.0.0.1:{provider_port}");
        let mut app = app_on(
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            &issuer,
            &[],
        )
        .await;

        assert_eq!(app.get_status("/healthz").await, 200);
        assert_eq!(
            app.get_status("/readyz").await,
            503,
            "not ready without the provider"
        );

        let tv = Tv::new(&app.base);
        tv.open_page().await;
        tv.call("start").await;
        let status = tv.wait_for("unreachable", Duration::from_secs(10)).await;
        assert!(
            status["pairing"].is_null(),
            "no code could be made yet: {status}"
        );
        assert_eq!(app.get_status("/readyz").await, 503);

        // The provider comes up on the port the settings name.
        let provider = provider_on(bind_port(provider_port).await, vec![Reply::pending()]);
        let up = Instant::now();
        // Start retries are 2 s doubling, so the next try lands within a few seconds; allow
        // the discovery retry's next step (up to 30 s) as the outer bound.
        let status = tv.wait_for("waiting", Duration::from_secs(32)).await;
        let recovered = up.elapsed();
        assert_eq!(user_code(&status), "CODE-0001");
        let deadline = Instant::now() + Duration::from_secs(5);
        while app.get_status("/readyz").await != 200 {
            assert!(Instant::now() < deadline, "/readyz did not recover");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!("pairing recovered {recovered:?} after the provider came up");
        assert!(provider.hits(DEVICE) >= 1);
        app.stop(Duration::from_secs(5)).await;
    })
    .await;
}

/// Token endpoint trouble mid-pairing: 503, a hang past the 1 s timeout, a slow (in time)
/// answer, malformed JSON, then tokens. The TV shows `unreachable` with the code still on
/// screen while in trouble, and ends signed in.
#[tokio::test]
async fn token_endpoint_trouble_mid_pairing_ends_signed_in() {
    within(45, async {
        let provider = start_provider(vec![
            Reply::raw(503, "text/html", "<h1>Service Unavailable</h1>"),
            // Far longer than the 1 s timeout: only the timeout ends this one.
            Reply::pending().after(Duration::from_secs(20)),
            Reply::pending().after(Duration::from_millis(400)),
            Reply::raw(
                200,
                "application/json",
                r#"{"access_token": "at-faults", "token_ty"#,
            ),
            Reply::tokens(),
        ])
        .await;
        let mut app = app_on(
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            &provider.base,
            &[("HTTP_TIMEOUT_SECS", "1")],
        )
        .await;
        let tv = Tv::new(&app.base);
        tv.open_page().await;
        let started = Instant::now();
        tv.call("start").await;

        // Record every state the TV goes through (the shortest lasts about 1 s).
        let mut seen: Vec<Value> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(35);
        let last = loop {
            let status = tv.status().await;
            if seen.last().is_none_or(|prev| prev != &status) {
                eprintln!(
                    "{:>6.1}s {}",
                    started.elapsed().as_secs_f64(),
                    status["state"]
                );
                seen.push(status.clone());
            }
            if status["state"] == "signed-in" || status["state"] == "expired" {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "not signed in within 35 s; seen {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(last["state"], "signed-in", "{last}");
        assert_eq!(last["profile"]["display_name"], "Alice Liddell");

        let states: Vec<&str> = seen.iter().map(|s| s["state"].as_str().unwrap()).collect();
        let expected = [
            "waiting",
            "unreachable",
            "waiting",
            "unreachable",
            "signed-in",
        ];
        let mut rest = states.iter();
        for want in expected {
            assert!(
                rest.any(|s| *s == want),
                "expected {expected:?} in order, saw {states:?}"
            );
        }
        // While in trouble the code stays on screen.
        let code = user_code(seen.iter().find(|s| s["state"] == "waiting").unwrap());
        for status in seen.iter().filter(|s| s["state"] == "unreachable") {
            assert_eq!(
                user_code(status),
                code,
                "the pairing must stay shown: {status}"
            );
        }

        // Five polls, the hang cut off by the timeout, and none after the tokens.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let polls = provider.seen(TOKEN);
        assert_eq!(polls.len(), 5, "token requests: {polls:?}");
        let gap = polls[2].at.duration_since(polls[1].at);
        assert!(
            gap < Duration::from_secs(8),
            "the hung request was not cut off at 1 s: {gap:?}"
        );
        assert!(polls
            .iter()
            .all(|p| p.field("device_code") == ["device-code-1"]));
        app.stop(Duration::from_secs(5)).await;
    })
    .await;
}

/// Shutdown with a push stream open and a pairing polling: the server stops within 5 s, the
/// stream ends, and the provider sees no token request afterwards.
#[tokio::test]
async fn graceful_shutdown_ends_streams_and_polling() {
    within(40, async {
        let provider = start_provider(vec![Reply::pending()]).await;
        let mut app = app_on(
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            &provider.base,
            &[],
        )
        .await;
        let tv = Tv::new(&app.base);
        tv.open_page().await;
        tv.call("start").await;

        // Opened after the start: the pairing lives under the id its answer brought.
        let mut events = tv.open_events(Duration::from_secs(30)).await;
        assert_eq!(events.status(), 200);
        let first = tokio::time::timeout(Duration::from_secs(5), events.chunk())
            .await
            .expect("the stream sends the status at once")
            .expect("read /events")
            .map(|chunk| String::from_utf8_lossy(&chunk).into_owned())
            .unwrap_or_default();
        assert!(first.contains("event: status"), "{first}");
        let reader = tokio::spawn(async move {
            // The first event may already be the code on screen: keep it.
            let mut text = first;
            loop {
                match events.chunk().await {
                    Ok(Some(chunk)) => text.push_str(&String::from_utf8_lossy(&chunk)),
                    Ok(None) => return Ok(text),
                    Err(error) => return Err(format!("{error}")),
                }
            }
        });

        tv.wait_for("waiting", Duration::from_secs(10)).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while provider.hits(TOKEN) < 2 {
            assert!(Instant::now() < deadline, "the pairing is not polling");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let before = provider.hits(TOKEN);
        let took = app.stop(Duration::from_secs(5)).await;
        eprintln!("server stopped {took:?} after shutdown");
        let streamed = tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .expect("the /events stream did not end within 5 s of shutdown")
            .expect("reader task");
        let streamed = streamed.expect("the /events stream should end cleanly");
        assert!(
            streamed.contains("waiting"),
            "the stream carried the pairing: {streamed}"
        );

        // A poll already in flight may still land; after that, silence.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let settled = provider.hits(TOKEN);
        assert!(
            settled <= before + 1,
            "polled after shutdown: {before} -> {settled}"
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(provider.hits(TOKEN), settled, "the polling task kept going");
    })
    .await;
}

/// The app restarts mid-pairing (no shared store): the TV, with its old cookie, finds a
/// clean Home under a new session (in memory, sessions and the key that signs their ids end
/// with the process) and can start a new code; the old code is polled no more.
#[tokio::test]
async fn a_restart_mid_pairing_comes_back_idle() {
    within(40, async {
        let provider = start_provider(vec![Reply::pending()]).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut first = app_on(listener, &provider.base, &[]).await;
        let tv = Tv::new(&first.base);
        tv.open_page().await;
        tv.call("start").await;
        let cookie = tv.cookie();
        let old = user_code(&tv.wait_for("waiting", Duration::from_secs(10)).await);

        first.stop(Duration::from_secs(5)).await;
        drop(first);
        let stopped = Instant::now();
        let second = app_on(bind_port(port).await, &provider.base, &[]).await;
        assert_eq!(second.addr.port(), port);

        let status = tv.status().await;
        assert_eq!(
            status["state"], "idle",
            "a clean Home after the restart: {status}"
        );
        assert_ne!(
            tv.cookie(),
            cookie,
            "a new session: the old id means nothing now"
        );

        tv.call("start").await;
        let new = user_code(&tv.wait_for("waiting", Duration::from_secs(10)).await);
        assert_ne!(new, old, "a new code");
        // Let the new pairing poll a little; the old device code must not be polled again.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let polls = provider.seen(TOKEN);
        let old_after = polls
            .iter()
            .filter(|p| p.field("device_code") == ["device-code-1"] && p.at > stopped)
            .count();
        assert_eq!(
            old_after, 0,
            "the old pairing kept polling after the restart"
        );
        assert!(
            polls
                .iter()
                .any(|p| p.field("device_code") == ["device-code-2"]),
            "the new pairing polls"
        );
    })
    .await;
}

/// A discovery document that names another issuer than the settings (OpenID Connect
/// Discovery §4.3) is never used: no code is asked for, the TV says it cannot reach the
/// sign-in service, and `/readyz` says why in fixed words, never in the provider's.
#[tokio::test]
async fn a_provider_naming_another_issuer_is_not_used() {
    within(30, async {
        let provider = start_provider(vec![Reply::pending()]).await;
        // The same server under another name: its discovery names http://127.0.0.1:<port>.
        let issuer = provider.base.replace("127.0.0.1", "localhost");
        let app = app_on(
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            &issuer,
            &[],
        )
        .await;
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        let (status, body) = loop {
            let response = client
                .get(format!("{}/readyz", app.base))
                .send()
                .await
                .expect("GET /readyz");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("readyz JSON");
            // Until discovery has been tried, the reason is only "discovery_not_loaded".
            if body["ready"] == true || body["reason"] == "issuer_mismatch" {
                break (status, body);
            }
            assert!(Instant::now() < deadline, "discovery not tried: {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["ready"], false);
        assert_eq!(body["reason"], "issuer_mismatch", "{body}");
        assert!(
            !body.to_string().contains(&provider.base),
            "the provider's own issuer is not repeated: {body}"
        );

        let tv = Tv::new(&app.base);
        tv.open_page().await;
        tv.call("start").await;
        let shown = tv.wait_for("unreachable", Duration::from_secs(10)).await;
        assert!(shown["pairing"].is_null(), "{shown}");
        assert_eq!(provider.hits(DEVICE), 0, "no code asked of it");
    })
    .await;
}
