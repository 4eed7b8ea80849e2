//! Fault injection through the whole app (issue 7): the server runs in-process on a loopback
//! port and talks to a small scripted provider, also on loopback. Each test is bounded.
//!
//! - a provider that is down when the server starts, and comes up later on the same port;
//! - token endpoint trouble mid-pairing (503, a hang past the timeout, a slow answer,
//!   malformed JSON), ending signed in;
//! - graceful shutdown with a push stream open and a pairing polling;
//! - a restart mid-pairing: the TV's cookie finds a clean Home, not an error.

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::support::tv::{user_code, Tv};
use tvsignin::server::start::{build_state, serve};
use tvsignin::settings::{RawSettings, Settings};

/// Every test is over in this time, whatever happens.
async fn within<T>(secs: u64, test: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), test)
        .await
        .unwrap_or_else(|_| panic!("test took longer than {secs} s"))
}

/// A loopback port that nothing listens on (right now).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

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

// ---------------------------------------------------------------------------------------------
// The scripted provider.

/// One answer of the token endpoint.
#[derive(Clone, Debug)]
struct Reply {
    status: u16,
    content_type: &'static str,
    body: String,
    delay: Duration,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    fn raw(status: u16, content_type: &'static str, body: &str) -> Self {
        Self {
            status,
            content_type,
            body: body.to_owned(),
            delay: Duration::ZERO,
        }
    }

    fn pending() -> Self {
        Self::json(400, json!({ "error": "authorization_pending" }))
    }

    fn tokens() -> Self {
        Self::json(
            200,
            json!({ "access_token": "at-faults", "token_type": "Bearer", "expires_in": 3600 }),
        )
    }

    fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A token request as the provider saw it.
#[derive(Clone, Debug)]
struct TokenRequest {
    at: Instant,
    device_code: String,
}

struct FakeInner {
    base: String,
    /// The token endpoint's answers in order; the last one repeats.
    token_script: Mutex<VecDeque<Reply>>,
    token_requests: Mutex<Vec<TokenRequest>>,
    device_requests: Mutex<usize>,
}

/// Discovery, device authorization (a new code each time, interval 1 s), a scripted token
/// endpoint, userinfo (Alice) and revocation. Stopped when dropped.
struct FakeProvider {
    base: String,
    inner: Arc<FakeInner>,
    task: JoinHandle<()>,
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeProvider {
    async fn start(token_script: Vec<Reply>) -> Self {
        Self::serve_on(
            TcpListener::bind("127.0.0.1:0").await.expect("bind"),
            token_script,
        )
    }

    fn serve_on(listener: TcpListener, token_script: Vec<Reply>) -> Self {
        assert!(!token_script.is_empty());
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let inner = Arc::new(FakeInner {
            base: base.clone(),
            token_script: Mutex::new(token_script.into()),
            token_requests: Mutex::default(),
            device_requests: Mutex::default(),
        });
        let app = Router::new().fallback(answer).with_state(inner.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake provider");
        });
        Self { base, inner, task }
    }

    fn token_requests(&self) -> Vec<TokenRequest> {
        self.inner.token_requests.lock().unwrap().clone()
    }

    fn device_requests(&self) -> usize {
        *self.inner.device_requests.lock().unwrap()
    }
}

async fn answer(
    State(inner): State<Arc<FakeInner>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let base = &inner.base;
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    match (method, uri.path()) {
        (Method::GET, "/.well-known/openid-configuration") => axum::Json(json!({
            "issuer": base,
            "device_authorization_endpoint": format!("{base}/device_authorization"),
            "token_endpoint": format!("{base}/token"),
            "userinfo_endpoint": format!("{base}/userinfo"),
            "revocation_endpoint": format!("{base}/revoke"),
            "token_endpoint_auth_methods_supported": ["none"],
        }))
        .into_response(),
        (Method::POST, "/device_authorization") => {
            let n = {
                let mut count = inner.device_requests.lock().unwrap();
                *count += 1;
                *count
            };
            let user_code = format!("CODE-{n:04}");
            axum::Json(json!({
                "device_code": format!("device-code-{n}"),
                "user_code": user_code,
                "verification_uri": format!("{base}/activate"),
                "verification_uri_complete": format!("{base}/activate?user_code={user_code}"),
                "expires_in": 600,
                "interval": 1,
            }))
            .into_response()
        }
        (Method::POST, "/token") => {
            inner.token_requests.lock().unwrap().push(TokenRequest {
                at: Instant::now(),
                device_code: field("device_code").unwrap_or_default(),
            });
            let reply = {
                let mut script = inner.token_script.lock().unwrap();
                if script.len() > 1 {
                    script.pop_front().unwrap()
                } else {
                    script.front().unwrap().clone()
                }
            };
            if !reply.delay.is_zero() {
                tokio::time::sleep(reply.delay).await;
            }
            (
                StatusCode::from_u16(reply.status).unwrap(),
                [("content-type", reply.content_type)],
                reply.body,
            )
                .into_response()
        }
        (Method::GET, "/userinfo") => axum::Json(
            json!({ "sub": "alice", "name": "Alice Liddell", "ext": { "tenantId": "t-1" } }),
        )
        .into_response(),
        (Method::POST, "/revoke") => StatusCode::OK.into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// The app, in-process.

/// The app on a loopback listener; shut down when dropped.
struct App {
    base: String,
    addr: SocketAddr,
    shutdown: CancellationToken,
    serve: Option<JoinHandle<()>>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl App {
    /// Serves on `listener` with the provider at `issuer` (client `tv`, public) and `extra`.
    fn start(listener: TcpListener, issuer: &str, extra: &[(&str, &str)]) -> Self {
        let addr = listener.local_addr().expect("local addr");
        let base = format!("http://{addr}");
        let mut pairs: Vec<(String, String)> = vec![
            ("ISSUER".into(), issuer.to_owned()),
            ("CLIENT_ID".into(), "tv".into()),
            ("PUBLIC_URL".into(), base.clone()),
        ];
        pairs.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let settings = Settings::from_raw(&RawSettings::from_pairs(pairs)).expect("settings");
        let shutdown = CancellationToken::new();
        let mut state = build_state(settings, addr, shutdown.clone()).expect("state");
        // No browser bundle is needed: a folder that does not exist keeps start-up quick.
        state.leptos_options.site_root = "target/faults-tests-no-site".into();
        let serve = Some(tokio::spawn(serve(listener, state)));
        Self {
            base,
            addr,
            shutdown,
            serve,
        }
    }

    /// Cancels the shutdown token; the serve future must then finish within `limit`.
    async fn stop(&mut self, limit: Duration) -> Duration {
        let started = Instant::now();
        self.shutdown.cancel();
        let serve = self.serve.take().expect("still serving");
        let result = tokio::time::timeout(limit, serve)
            .await
            .unwrap_or_else(|_| panic!("the server did not stop within {limit:?} of shutdown"));
        result.expect("serve task");
        started.elapsed()
    }

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
        let mut app = App::start(
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            &issuer,
            &[],
        );

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
        let provider =
            FakeProvider::serve_on(bind_port(provider_port).await, vec![Reply::pending()]);
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
        assert!(provider.device_requests() >= 1);
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
        let provider = FakeProvider::start(vec![
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
        let mut app = App::start(
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            &provider.base,
            &[("HTTP_TIMEOUT_SECS", "1")],
        );
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
        let polls = provider.token_requests();
        assert_eq!(polls.len(), 5, "token requests: {polls:?}");
        let gap = polls[2].at.duration_since(polls[1].at);
        assert!(
            gap < Duration::from_secs(8),
            "the hung request was not cut off at 1 s: {gap:?}"
        );
        assert!(polls.iter().all(|p| p.device_code == "device-code-1"));
        app.stop(Duration::from_secs(5)).await;
    })
    .await;
}

/// Shutdown with a push stream open and a pairing polling: the server stops within 5 s, the
/// stream ends, and the provider sees no token request afterwards.
#[tokio::test]
async fn graceful_shutdown_ends_streams_and_polling() {
    within(40, async {
        let provider = FakeProvider::start(vec![Reply::pending()]).await;
        let mut app = App::start(
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            &provider.base,
            &[],
        );
        let tv = Tv::new(&app.base);
        tv.open_page().await;
        tv.call("start").await;

        // Opened after the start: the pairing lives under the id its answer brought.
        let mut events = tv.open_events(Duration::from_secs(30)).await;
        assert_eq!(events.status(), 200);
        let first = tokio::time::timeout(Duration::from_secs(5), events.chunk())
            .await
            .expect("the stream sends the status at once")
            .expect("read /events");
        assert!(first.is_some_and(|c| String::from_utf8_lossy(&c).contains("event: status")));
        let reader = tokio::spawn(async move {
            let mut text = String::new();
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
        while provider.token_requests().len() < 2 {
            assert!(Instant::now() < deadline, "the pairing is not polling");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let before = provider.token_requests().len();
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
        let settled = provider.token_requests().len();
        assert!(
            settled <= before + 1,
            "polled after shutdown: {before} -> {settled}"
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            provider.token_requests().len(),
            settled,
            "the polling task kept going"
        );
    })
    .await;
}

/// The app restarts mid-pairing (no shared store): the TV, with its old cookie, finds a
/// clean Home under a new session (in memory, sessions and the key that signs their ids end
/// with the process) and can start a new code; the old code is polled no more.
#[tokio::test]
async fn a_restart_mid_pairing_comes_back_idle() {
    within(40, async {
        let provider = FakeProvider::start(vec![Reply::pending()]).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut first = App::start(listener, &provider.base, &[]);
        let tv = Tv::new(&first.base);
        tv.open_page().await;
        tv.call("start").await;
        let cookie = tv.cookie();
        let old = user_code(&tv.wait_for("waiting", Duration::from_secs(10)).await);

        first.stop(Duration::from_secs(5)).await;
        drop(first);
        let stopped = Instant::now();
        let second = App::start(bind_port(port).await, &provider.base, &[]);
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
        let polls = provider.token_requests();
        let old_after = polls
            .iter()
            .filter(|p| p.device_code == "device-code-1" && p.at > stopped)
            .count();
        assert_eq!(
            old_after, 0,
            "the old pairing kept polling after the restart"
        );
        assert!(
            polls.iter().any(|p| p.device_code == "device-code-2"),
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
        let provider = FakeProvider::start(vec![Reply::pending()]).await;
        // The same server under another name: its discovery names http://127.0.0.1:<port>.
        let issuer = provider.base.replace("127.0.0.1", "localhost");
        let app = App::start(
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            &issuer,
            &[],
        );
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
        assert_eq!(provider.device_requests(), 0, "no code asked of it");
    })
    .await;
}
