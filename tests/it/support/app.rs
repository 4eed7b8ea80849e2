//! The whole app in this process, on a loopback port: what the tests that drive it over HTTP
//! share. It runs in demo mode unless the settings name a provider, with a store of the
//! test's choosing, and without a browser bundle.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tvsignin::pairing::store::SessionStore;
use tvsignin::server::start::{build_state_with_store, open_store, serve};
#[cfg(feature = "demo")]
use tvsignin::server::AppState;
use tvsignin::settings::{RawSettings, Settings};

/// The app on a loopback port; shut down when dropped.
pub struct TestApp {
    pub base: String,
    /// The demo provider's issuer (in demo mode).
    #[cfg(feature = "demo")]
    pub issuer: String,
    #[cfg(feature = "demo")]
    pub state: AppState,
    /// The address it listens on.
    pub addr: std::net::SocketAddr,
    /// A client that follows no redirects (tests look at them).
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    serve: Option<JoinHandle<()>>,
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

/// The app in demo mode with `extra` settings, the demo provider asking for a 1 s interval;
/// returns once it answers `/healthz` (at most 10 s).
#[cfg(feature = "demo")]
pub async fn start(extra: &[(&str, &str)]) -> TestApp {
    use tvsignin::demo_idp::DemoTiming;
    let app = start_with(extra, None).await;
    let demo = app.state.demo.as_ref().expect("demo mode");
    demo.set_timing(DemoTiming {
        interval: Duration::from_secs(1),
        ..demo.timing()
    });
    app
}

/// The app with `extra` settings (a provider, Redis, ...) and `store` (else the store the
/// settings ask for) on a free port; returns once it answers `/healthz` (at most 10 s).
pub async fn start_with(extra: &[(&str, &str)], store: Option<Arc<dyn SessionStore>>) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    serve_on(listener, extra, store).await
}

/// As [`start_with`], on `listener`. Without a provider in `extra` (`ISSUER`,
/// `TENANT_URL` or `TOKEN_ENDPOINT`) the app runs in demo mode, on purpose with
/// `DEMO=true`, so that settings that mark a production server (`TRUST_PROXY`) may be
/// tested with it too.
pub async fn serve_on(
    listener: TcpListener,
    extra: &[(&str, &str)],
    store: Option<Arc<dyn SessionStore>>,
) -> TestApp {
    let bound = listener.local_addr().expect("local address");
    let base = format!("http://127.0.0.1:{}", bound.port());
    let mut pairs = vec![("PUBLIC_URL".to_owned(), base.clone())];
    let provider_set = extra
        .iter()
        .any(|(key, _)| ["ISSUER", "TENANT_URL", "TOKEN_ENDPOINT"].contains(key));
    if !provider_set {
        pairs.push(("DEMO".to_owned(), "true".to_owned()));
    }
    pairs.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let settings = Settings::from_raw(&RawSettings::from_pairs(pairs)).expect("settings");
    let shutdown = CancellationToken::new();
    let store = match store {
        Some(store) => store,
        None => open_store(&settings, shutdown.clone())
            .await
            .expect("the session store"),
    };
    let mut state =
        build_state_with_store(settings, bound, shutdown.clone(), store).expect("state");
    // No browser bundle is needed, and none may be touched: the real one (after a
    // release build) would be precompressed in place by every app at once. A site folder
    // that does not exist skips that.
    state.leptos_options.site_root = "target/tests-no-site".into();
    let serve = Some(tokio::spawn(serve(listener, state.clone())));
    let app = TestApp {
        #[cfg(feature = "demo")]
        issuer: format!("{base}/demo-idp"),
        base,
        addr: bound,
        #[cfg(feature = "demo")]
        state,
        http: http_client(),
        shutdown,
        serve,
    };
    app.wait_until_up().await;
    app
}

impl TestApp {
    async fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let quick = self
                .http
                .get(format!("{}/healthz", self.base))
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if quick.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the app did not start within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Shuts the app down; it must have stopped serving within `limit`. Returns how long
    /// that took.
    pub async fn stop(&mut self, limit: Duration) -> Duration {
        let started = Instant::now();
        self.shutdown.cancel();
        let serve = self.serve.take().expect("still serving");
        let result = tokio::time::timeout(limit, serve)
            .await
            .unwrap_or_else(|_| panic!("the server did not stop within {limit:?} of shutdown"));
        result.expect("serve task");
        started.elapsed()
    }
}
