//! Operations (issue 7) through the whole app on a loopback port, in demo mode: `/metrics`
//! after one TV pairing driven over HTTP (the TV's server functions and push stream, the
//! phone through the demo provider's HTML forms), request ids, and the per-address limit on
//! new codes.

#![cfg(feature = "ssr")]

mod support;

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::Value;

use support::demo_app::{bounded, start, TestApp};

/// The `name=value` part of the session cookie a response sets.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tvsignin_session="))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

impl TestApp {
    /// A TV browser's first visit: its session cookie.
    async fn new_tv(&self) -> String {
        let response = self
            .http
            .get(format!("{}/", self.base))
            .send()
            .await
            .unwrap();
        session_cookie(response.headers()).expect("GET / sets the session cookie")
    }

    /// Calls a server function as the TV page does; (HTTP status, the TV status as JSON).
    async fn call(
        &self,
        endpoint: &str,
        cookie: Option<&str>,
        extra: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn metrics(&self) -> String {
        let response = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()[reqwest::header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/plain"),
            "{:?}",
            response.headers()
        );
        assert!(
            session_cookie(response.headers()).is_none(),
            "a scrape gets no TV session"
        );
        response.text().await.unwrap()
    }
}

/// The value of one series (`name{labels}` exactly as rendered), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

fn count(text: &str, series: &str) -> f64 {
    value(text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

/// The TV's push stream, read event by event.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(app: &TestApp, cookie: &str) -> Self {
        let response = reqwest::Client::new()
            .get(format!("{}/events", app.base))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next status event's data.
    async fn next(&mut self) -> Value {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")) {
                    return serde_json::from_str(data.trim()).unwrap();
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.response.chunk())
                .await
                .expect("no event within 20 s")
                .unwrap()
                .expect("the push stream ended");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Reads events until one has `state`.
    async fn until(&mut self, state: &str) -> Value {
        loop {
            let status = self.next().await;
            if status["state"] == state {
                return status;
            }
        }
    }
}

const STARTED: &str = "tvsignin_pairings_started_total";
const SIGNED_IN: &str = r#"tvsignin_pairings_finished_total{outcome="signed_in"}"#;
const SIGN_INS: &str = r#"tvsignin_sign_ins_total{client_id="tvsignin-demo"}"#;
const POLLS_PENDING: &str = r#"tvsignin_token_polls_total{outcome="pending"}"#;
const POLLS_TOKENS: &str = r#"tvsignin_token_polls_total{outcome="tokens"}"#;
const PUSH: &str = "tvsignin_push_connections";
const THROTTLED_ADDRESS: &str = r#"tvsignin_pairings_throttled_total{limit="address"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_a_pairing_to_a_sign_in() {
    bounded(async {
        let app = start(&[]).await;
        let before = app.metrics().await;
        assert_eq!(count(&before, STARTED), 0.0, "{before}");
        assert_eq!(count(&before, SIGNED_IN), 0.0, "{before}");
        assert_eq!(count(&before, PUSH), 0.0, "{before}");

        let tv = app.new_tv().await;
        let mut events = Events::open(&app, &tv).await;
        assert_eq!(events.next().await["state"], "idle");
        assert_eq!(
            count(&app.metrics().await, PUSH),
            1.0,
            "the open stream counts"
        );

        let (status, body) = app.call("start", Some(&tv), &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            matches!(body["state"].as_str(), Some("starting" | "waiting")),
            "{body}"
        );
        let waiting = events.until("waiting").await;
        let link = waiting["pairing"]["verification_uri_complete"]
            .as_str()
            .unwrap()
            .to_owned();

        // The TV polls at least once (pending) before the phone approves.
        let deadline = Instant::now() + Duration::from_secs(10);
        while count(&app.metrics().await, POLLS_PENDING) < 1.0 {
            assert!(
                Instant::now() < deadline,
                "no pending poll counted within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let done = app
            .phone()
            .sign_in(&link, "alice", "alice-demo", "allow")
            .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.html);
        let signed_in = events.until("signed-in").await;
        assert_eq!(
            signed_in["profile"]["display_name"], "Alice Demo",
            "{signed_in}"
        );

        let text = app.metrics().await;
        assert!(count(&text, STARTED) >= 1.0, "{text}");
        assert_eq!(count(&text, SIGNED_IN), 1.0, "{text}");
        assert_eq!(count(&text, SIGN_INS), 1.0, "{text}");
        assert!(count(&text, POLLS_PENDING) >= 1.0, "{text}");
        assert_eq!(count(&text, POLLS_TOKENS), 1.0, "{text}");
        assert_eq!(count(&text, PUSH), 1.0, "{text}");
        assert_eq!(count(&text, "tvsignin_tv_sessions"), 1.0, "{text}");
        assert_eq!(
            count(&text, "tvsignin_provider_discovery_loaded"),
            1.0,
            "{text}"
        );
        assert!(
            text.contains("# TYPE tvsignin_pairings_started_total counter"),
            "{text}"
        );
        assert!(
            !text.contains("tvsignin_provider_errors_total{"),
            "no provider errors\n{text}"
        );

        // Closing the stream brings the gauge back down.
        drop(events);
        let deadline = Instant::now() + Duration::from_secs(10);
        while count(&app.metrics().await, PUSH) != 0.0 {
            assert!(
                Instant::now() < deadline,
                "the push gauge did not drop within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_carry_a_request_id() {
    bounded(async {
        let app = start(&[]).await;
        let response = app
            .http
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .unwrap();
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(id.len(), 36, "a UUID: {id}");
        let other = app
            .http
            .get(format!("{}/metrics", app.base))
            .send()
            .await
            .unwrap();
        assert_ne!(other.headers()["x-request-id"].to_str().unwrap(), id);
        // A proxy's id is kept.
        let response = app
            .http
            .get(format!("{}/healthz", app.base))
            .header("x-request-id", "from-the-proxy-1")
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-request-id"], "from-the-proxy-1");
    })
    .await;
}

#[tokio::test]
async fn pages_are_compressed_and_the_push_stream_never_is() {
    bounded(async {
        let app = start(&[]).await;
        let get = |path: &str, encodings: &str| {
            app.http
                .get(format!("{}{path}", app.base))
                .header("accept-encoding", encodings)
                .send()
        };
        for (path, encodings, expected) in [
            ("/", "br", "br"),
            ("/metrics", "gzip", "gzip"),
            ("/demo-idp/device", "br, gzip", "br"),
        ] {
            let response = get(path, encodings).await.unwrap();
            assert_eq!(
                response
                    .headers()
                    .get("content-encoding")
                    .map(|v| v.to_str().unwrap()),
                Some(expected),
                "{path}: {:?}",
                response.headers()
            );
        }
        let stream = get("/events", "br, gzip").await.unwrap();
        let headers = stream.headers();
        assert_eq!(stream.status(), StatusCode::OK);
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream"),
            "{headers:?}"
        );
        assert!(headers.get("content-encoding").is_none(), "{headers:?}");
        // The outer layers still apply to it.
        assert!(headers.contains_key("x-request-id"), "{headers:?}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(
            session_cookie(headers).is_some(),
            "no session cookie: {headers:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_codes_are_limited_per_client_address() {
    bounded(async {
        let app = start(&[("PAIRING_RATE_LIMIT", "2")]).await;
        // Each call without a cookie is a new TV session: only the address limit applies.
        for _ in 0..2 {
            let (status, body) = app.call("renew", None, &[]).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["state"], "starting", "{body}");
        }
        let (status, body) = app.call("renew", None, &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["state"], "throttled", "{body}");
        let wait = body["retry_after_secs"].as_u64().unwrap();
        assert!((1..=31).contains(&wait), "one new code every 30 s: {body}");
        // X-Forwarded-For means nothing unless TRUST_PROXY is set.
        let (_, body) = app
            .call("renew", None, &[("x-forwarded-for", "203.0.113.9")])
            .await;
        assert_eq!(body["state"], "throttled", "{body}");
        // Start on a TV that is not waiting is refused the same way.
        let tv = app.new_tv().await;
        let (_, body) = app.call("start", Some(&tv), &[]).await;
        assert_eq!(body["state"], "throttled", "{body}");
        assert_eq!(count(&app.metrics().await, THROTTLED_ADDRESS), 3.0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_forwarded_address_counts() {
    bounded(async {
        let app = start(&[("PAIRING_RATE_LIMIT", "2"), ("TRUST_PROXY", "true")]).await;
        for client in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
            for _ in 0..2 {
                let forwarded = format!("{client}, 10.0.0.1");
                let (_, body) = app
                    .call("renew", None, &[("x-forwarded-for", &forwarded)])
                    .await;
                assert_eq!(body["state"], "starting", "{client}: {body}");
            }
        }
        let (_, body) = app
            .call("renew", None, &[("x-forwarded-for", "198.51.100.2")])
            .await;
        assert_eq!(body["state"], "throttled", "{body}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tv_is_still_limited_by_its_session() {
    bounded(async {
        let app = start(&[("PAIRING_RATE_LIMIT", "2"), ("TRUST_PROXY", "true")]).await;
        let tv = app.new_tv().await;
        // A different forwarded address each time: only the session limit can refuse.
        for (n, client) in ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
            .into_iter()
            .enumerate()
        {
            let (_, body) = app
                .call("renew", Some(&tv), &[("x-forwarded-for", client)])
                .await;
            let expected = if n < 2 { "starting" } else { "throttled" };
            assert_eq!(body["state"], expected, "call {n}: {body}");
        }
        let text = app.metrics().await;
        assert_eq!(
            count(
                &text,
                r#"tvsignin_pairings_throttled_total{limit="session"}"#
            ),
            1.0,
            "{text}"
        );
        assert_eq!(
            count(
                &text,
                r#"tvsignin_pairings_finished_total{outcome="replaced"}"#
            ),
            1.0,
            "{text}"
        );
        assert_eq!(count(&text, STARTED), 2.0, "{text}");
    })
    .await;
}
