//! The whole app in demo mode, in this process, on a free loopback port: what the tests that
//! drive it over HTTP share.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tvsignin::server::demo_idp::DemoTiming;
use tvsignin::server::settings::{RawSettings, Settings};
use tvsignin::server::start::{build_state, serve};
use tvsignin::server::AppState;

/// Every test is over in this time, whatever happens.
pub async fn bounded<F: Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("test took longer than 60 s");
}

/// The app, in demo mode, on a free loopback port; stopped when dropped.
pub struct TestApp {
    pub base: String,
    /// The demo provider's issuer.
    pub issuer: String,
    pub state: AppState,
    /// A client that follows no redirects (tests look at them).
    pub http: reqwest::Client,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

/// Starts the app with `extra` settings and the demo provider asking for a 1 s interval;
/// returns once it answers `/healthz` (at most 10 s).
pub async fn start(extra: &[(&str, &str)]) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let bound = listener.local_addr().expect("local address");
    let port = bound.port();
    let mut pairs = vec![("PUBLIC_URL".to_owned(), format!("http://127.0.0.1:{port}"))];
    pairs.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let settings = Settings::from_raw(&RawSettings::from_pairs(pairs)).expect("settings");
    let shutdown = CancellationToken::new();
    let mut state = build_state(settings, bound, shutdown.clone()).expect("state");
    // No browser bundle needed: a site folder that does not exist skips precompression.
    state.leptos_options.site_root = "target/tests-no-site".into();
    let demo = state.demo.as_ref().expect("demo mode");
    demo.set_timing(DemoTiming {
        interval: Duration::from_secs(1),
        ..demo.timing()
    });
    tokio::spawn(serve(listener, state.clone()));
    let app = TestApp {
        base: format!("http://127.0.0.1:{port}"),
        issuer: format!("http://127.0.0.1:{port}/demo-idp"),
        state,
        http: http_client(),
        shutdown,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let quick = app
            .http
            .get(format!("{}/healthz", app.base))
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        if quick.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the app did not start within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app
}
