//! Operations (issue 7) through the whole app on a loopback port, in demo mode: `/metrics`
//! after one TV pairing driven over HTTP (the TV's server functions and push stream, the
//! phone through the demo provider's HTML forms), request ids, the per-address limit on
//! new codes (behind a trusted proxy: the address the proxy saw, not what the client wrote
//! into `X-Forwarded-For`), and the per-server cap on pairings in progress.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::app::{start, TestApp};
use crate::support::events::Events;
use crate::support::tv::{session_cookie, Tv};
use crate::support::{metric_value, within};

impl TestApp {
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

fn count(text: &str, series: &str) -> f64 {
    metric_value(text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

/// How long a push stream may stay open in these tests, and how long to wait for an event.
const STREAM: Duration = Duration::from_secs(50);
const WAIT: Duration = Duration::from_secs(20);

const STARTED: &str = "tvsignin_pairings_started_total";
const SIGNED_IN: &str = r#"tvsignin_pairings_finished_total{outcome="signed_in"}"#;
const SIGN_INS: &str = r#"tvsignin_sign_ins_total{client_id="tvsignin-demo"}"#;
const POLLS_PENDING: &str = r#"tvsignin_token_polls_total{outcome="pending"}"#;
const POLLS_TOKENS: &str = r#"tvsignin_token_polls_total{outcome="tokens"}"#;
const PUSH: &str = "tvsignin_push_connections";
const THROTTLED_ADDRESS: &str = r#"tvsignin_pairings_throttled_total{limit="address"}"#;
const THROTTLED_SERVER: &str = r#"tvsignin_pairings_throttled_total{limit="server"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_a_pairing_to_a_sign_in() {
    within(60, async {
        let app = start(&[]).await;
        let before = app.metrics().await;
        assert_eq!(count(&before, STARTED), 0.0, "{before}");
        assert_eq!(count(&before, SIGNED_IN), 0.0, "{before}");
        assert_eq!(count(&before, PUSH), 0.0, "{before}");

        let tv = Tv::new(&app.base);
        tv.open_page().await;
        let mut events = Events::open(&tv, STREAM).await;
        let first = events.next(WAIT).await.expect("the current status first");
        assert_eq!(first["state"], "idle");
        assert_eq!(
            count(&app.metrics().await, PUSH),
            1.0,
            "the open stream counts"
        );

        let body = tv.call("start").await;
        assert!(
            matches!(body["state"].as_str(), Some("starting" | "waiting")),
            "{body}"
        );
        // The start moved the session to a new id: the stream was opened again under it.
        let waiting = events.wait_for("waiting", WAIT).await;
        assert_eq!(events.reopened, 1, "one move, one new stream");
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
        let signed_in = events.wait_for("signed-in", WAIT).await;
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
    within(60, async {
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
    within(60, async {
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
    within(60, async {
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
        let tv = Tv::new(&app.base);
        tv.open_page().await;
        assert_eq!(tv.call("start").await["state"], "throttled");
        assert_eq!(count(&app.metrics().await, THROTTLED_ADDRESS), 3.0);
    })
    .await;
}

/// Behind the README's nginx (`$proxy_add_x_forwarded_for`), the proxy appends the address
/// it saw to whatever `X-Forwarded-For` the client sent: only that last entry counts. A
/// script that writes a new address in front each time, with no cookie (a fresh session
/// each time), is still one client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_address_the_proxy_saw_counts() {
    within(60, async {
        let app = start(&[("PAIRING_RATE_LIMIT", "2"), ("TRUST_PROXY", "true")]).await;
        for (n, spoofed) in ["203.0.113.1", "203.0.113.2", "203.0.113.3", "junk"]
            .into_iter()
            .enumerate()
        {
            let forwarded = format!("{spoofed}, 198.51.100.1");
            let (_, body) = app
                .call("renew", None, &[("x-forwarded-for", &forwarded)])
                .await;
            let expected = if n < 2 { "starting" } else { "throttled" };
            assert_eq!(body["state"], expected, "call {n} ({forwarded}): {body}");
        }
        // Other clients of the proxy have their own allowance, whatever they write.
        for client in ["198.51.100.2", "198.51.100.3"] {
            let forwarded = format!("198.51.100.1, {client}");
            let (_, body) = app
                .call("renew", None, &[("x-forwarded-for", &forwarded)])
                .await;
            assert_eq!(body["state"], "starting", "{client}: {body}");
        }
        assert_eq!(count(&app.metrics().await, THROTTLED_ADDRESS), 2.0);
    })
    .await;
}

/// With two proxies in a row (`TRUST_PROXY_HOPS=2`), the client is the second entry from
/// the right: the outer proxy wrote it, the inner one wrote the outer one's address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_trusted_proxies_the_second_entry_from_the_right_counts() {
    within(60, async {
        let app = start(&[
            ("PAIRING_RATE_LIMIT", "1"),
            ("TRUST_PROXY", "true"),
            ("TRUST_PROXY_HOPS", "2"),
        ])
        .await;
        let via = |spoofed: &str, client: &str| format!("{spoofed}, {client}, 10.0.0.2");
        let (_, body) = app
            .call(
                "renew",
                None,
                &[("x-forwarded-for", &via("1.1.1.1", "198.51.100.1"))],
            )
            .await;
        assert_eq!(body["state"], "starting", "{body}");
        let (_, body) = app
            .call(
                "renew",
                None,
                &[("x-forwarded-for", &via("2.2.2.2", "198.51.100.1"))],
            )
            .await;
        assert_eq!(body["state"], "throttled", "the same client: {body}");
        let (_, body) = app
            .call(
                "renew",
                None,
                &[("x-forwarded-for", &via("1.1.1.1", "198.51.100.2"))],
            )
            .await;
        assert_eq!(body["state"], "starting", "another client: {body}");
    })
    .await;
}

/// `MAX_PAIRINGS`: a server runs at most that many pairings at once, from any addresses;
/// a TV over the cap is told to try again in a moment, and a pairing that ends frees its
/// place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairings_in_progress_are_capped_per_server() {
    within(60, async {
        let app = start(&[("MAX_PAIRINGS", "2")]).await;
        let tvs: Vec<Tv> = (2..=4)
            .map(|n| Tv::from_address(&app.base, format!("127.0.0.{n}").parse().unwrap()))
            .collect();
        for tv in &tvs[..2] {
            let body = tv.call("start").await;
            assert_eq!(body["state"], "starting", "{body}");
        }
        let body = tvs[2].call("start").await;
        assert_eq!(body["state"], "throttled", "a third at once: {body}");
        let text = app.metrics().await;
        assert_eq!(count(&text, THROTTLED_SERVER), 1.0, "{text}");
        assert_eq!(count(&text, "tvsignin_pairings_in_progress"), 2.0, "{text}");

        // The first TV cancels: its place goes to the next one asking.
        assert_eq!(tvs[0].call("cancel").await["state"], "idle");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let body = tvs[2].call("start").await;
            if body["state"] == "starting" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no free place 10 s after a cancel: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Pairings under way carry on; New code on one of them is not refused.
        assert_eq!(tvs[1].call("renew").await["state"], "starting");
        let text = app.metrics().await;
        assert_eq!(count(&text, "tvsignin_pairings_in_progress"), 2.0, "{text}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tv_is_still_limited_by_its_session() {
    within(60, async {
        let app = start(&[("PAIRING_RATE_LIMIT", "2"), ("TRUST_PROXY", "true")]).await;
        let tv = Tv::new(&app.base);
        tv.open_page().await;
        // A different forwarded address each time: only the session limit can refuse. The
        // limit follows the session to each new id its starts move it to.
        for (n, client) in ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
            .into_iter()
            .enumerate()
        {
            let body = tv.call_with("renew", &[("x-forwarded-for", client)]).await;
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
