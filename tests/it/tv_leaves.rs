//! When the TV goes away (page closed: no push connection, no requests), the server stops
//! polling the provider for it shortly after, instead of polling for nobody until expiry.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tvsignin::server::start::{build_state, serve};
use tvsignin::settings::{RawSettings, Settings};

/// A provider that never gets an answer from the person: every poll is pending.
async fn pending_provider(polls: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let issuer = base.clone();
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let b = issuer.clone();
                async move {
                    Json(json!({
                        "issuer": b,
                        "device_authorization_endpoint": format!("{b}/device"),
                        "token_endpoint": format!("{b}/token"),
                        "userinfo_endpoint": format!("{b}/userinfo"),
                    }))
                }
            }),
        )
        .route(
            "/device",
            post(|| async {
                Json(json!({
                    "device_code": "device-code-1", "user_code": "BCDF-GHJK",
                    "verification_uri": "https://idp.example/device", "expires_in": 600, "interval": 1
                }))
            }),
        )
        .route(
            "/token",
            post(move || {
                polls.fetch_add(1, Ordering::SeqCst);
                async { (axum::http::StatusCode::BAD_REQUEST, Json(json!({"error": "authorization_pending"}))) }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    base
}

/// Calls a server function as the TV page does.
async fn call(http: &reqwest::Client, base: &str, endpoint: &str) -> serde_json::Value {
    http.post(format!("{base}/api/{endpoint}"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn polling_stops_after_the_tv_leaves() {
    let polls = Arc::new(AtomicUsize::new(0));
    let issuer = pending_provider(polls.clone()).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bound = listener.local_addr().unwrap();
    let base = format!("http://{bound}");
    let settings = Settings::from_raw(&RawSettings::from_pairs([
        ("ISSUER", issuer.as_str()),
        ("CLIENT_ID", "tv"),
        ("PUBLIC_URL", base.as_str()),
        ("ABANDON_AFTER_SECS", "2"),
    ]))
    .unwrap();
    let shutdown = CancellationToken::new();
    let mut state = build_state(settings, bound, shutdown.clone()).unwrap();
    state.leptos_options.site_root = "target/tv-leaves-tests-no-site".into();
    tokio::spawn(serve(listener, state));

    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    // The TV opens the page (session cookie), starts a pairing and follows its push stream
    // (under the new session id the start's answer brought).
    http.get(format!("{base}/healthz")).send().await.unwrap();
    let started = call(&http, &base, "start").await;
    assert_eq!(started["state"], "starting");
    let mut events = http.get(format!("{base}/events")).send().await.unwrap();
    // While the stream is open, polling goes on, once a second.
    let deadline = Instant::now() + Duration::from_secs(10);
    while polls.load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "no polling while the TV watches");
        let _ = tokio::time::timeout(Duration::from_millis(200), events.chunk()).await;
    }

    // The TV goes away.
    drop(events);
    let left_at = polls.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after_grace = polls.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        polls.load(Ordering::SeqCst),
        after_grace,
        "still polling 5 s after the TV left"
    );
    assert!(
        after_grace <= left_at + 4,
        "polled {} more times after the TV left",
        after_grace - left_at
    );

    // Coming back, the TV finds Home, ready for a new code.
    let status = call(&http, &base, "status").await;
    assert_eq!(status["status"]["state"], "idle", "{status}");
    shutdown.cancel();
}
