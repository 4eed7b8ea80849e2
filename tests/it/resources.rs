//! Memory, streams and connections under abuse (issue 13), black-box over HTTP against the
//! whole app on a loopback port: 10,000 requests with made-up cookies leave nothing behind
//! (in memory, and in a real `redis-server`); push streams over the per-address cap are
//! refused with 429 while TVs elsewhere pair as usual; connections over the cap are answered
//! 503 and the server carries on. Every loop is bounded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tvsignin::pairing::store::memory::MemoryStore;

use crate::support::app::{start, start_with, TestApp};
use crate::support::events::Events;
use crate::support::fleet::store_key;
use crate::support::redis::Redis;
use crate::support::tv::Tv;
use crate::support::{within, work_dir};

/// Requests with made-up cookies, and how many are in flight at once.
const FLOOD: usize = 10_000;
const IN_FLIGHT: usize = 32;

/// A made-up session cookie value: a random id, as earlier versions issued them, or one with
/// a forged signature.
fn made_up_cookie(n: usize) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    if n.is_multiple_of(2) {
        format!("tvsignin_session={id}")
    } else {
        format!("tvsignin_session={id}.{}", "A".repeat(43))
    }
}

/// Sends `FLOOD` requests, each with its own made-up cookie, as a script that wants memory
/// would: the page (one in ten: rendering it takes most of the time here, and it asks for
/// the status as the status endpoint does), the status endpoint, and the push stream
/// (opened, then dropped).
async fn flood(app: &TestApp) {
    let started = Instant::now();
    let statuses = futures::stream::iter(0..FLOOD)
        .map(|n| {
            let cookie = made_up_cookie(n);
            let request = match n % 10 {
                0 => app.http.get(format!("{}/", app.base)),
                1..=7 => app
                    .http
                    .post(format!("{}/api/status", app.base))
                    .header("sec-fetch-site", "same-origin")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(""),
                _ => app.http.get(format!("{}/events", app.base)),
            };
            async move {
                // Headers only: a push stream is dropped as soon as it is open.
                let response = request.header("cookie", cookie).send().await;
                response.map(|r| r.status()).map_err(|e| e.to_string())
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    let failed: Vec<_> = statuses
        .iter()
        .filter(|s| !matches!(s, Ok(status) if status.is_success()))
        .take(5)
        .collect();
    assert!(failed.is_empty(), "failed requests, e.g. {failed:?}");
    eprintln!("{FLOOD} requests in {:?}", started.elapsed());
}

/// Waits (5 s at most) until this server holds `sessions` sessions in memory and open
/// streams from `addresses` addresses: the dropped streams' bookkeeping is gone.
async fn assert_held_in_memory(app: &TestApp, sessions: usize, addresses: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let held = (app.state.hub.len(), app.state.push_streams.addresses());
        if held == (sessions, addresses) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "5 s after the requests ended: (sessions, addresses with streams) = {held:?}, \
             not {:?}",
            (sessions, addresses)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_requests_with_made_up_cookies_leave_memory_flat() {
    within(60, async {
        let store = Arc::new(MemoryStore::new());
        let app = start_with(&[], Some(store.clone())).await;
        // A real TV pairing meanwhile, watching its stream: the only session stored.
        let tv = Tv::new(&app.base);
        tv.open_page().await;
        let mut screen = Events::open(&tv, Duration::from_secs(50)).await;
        tv.call("start").await;
        screen.wait_for("waiting", Duration::from_secs(10)).await;
        let held = store.held();
        assert_eq!(held.records, 1, "{held:?}");

        flood(&app).await;

        assert_eq!(store.held(), held, "the store grew");
        assert_held_in_memory(&app, 1, 1).await;
        assert_eq!(
            tv.status().await["state"],
            "waiting",
            "the real TV pairs on"
        );
    })
    .await;
}

/// `used_memory` from `INFO memory`.
async fn redis_memory(redis: &Redis) -> i64 {
    let info = redis.cli_text(&["INFO", "memory"]).await;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no used_memory in {info}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_requests_with_made_up_cookies_leave_redis_flat() {
    within(60, async {
        let dir = work_dir(module_path!(), "redis_flat");
        let redis = Redis::start(&dir).await;
        let key = store_key();
        // A real provider's settings (it need not answer for these requests).
        let app = start_with(
            &[
                ("ISSUER", "http://127.0.0.1:9"),
                ("CLIENT_ID", "tv"),
                ("REDIS_URL", &redis.url),
                ("STORE_KEY", &key),
            ],
            None,
        )
        .await;
        // The replica's own bookkeeping (its lease) is written on its first heartbeat.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let keys = redis.keys().await;
        let memory = redis_memory(&redis).await;

        flood(&app).await;

        assert_eq!(redis.keys().await, keys, "keys were added");
        let grown = redis_memory(&redis).await - memory;
        assert!(grown < 256 * 1024, "Redis memory grew by {grown} bytes");
        assert_held_in_memory(&app, 0, 0).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_over_the_per_address_cap_are_refused_while_other_tvs_keep_working() {
    within(60, async {
        let app = start(&[("MAX_PUSH_STREAMS_PER_ADDRESS", "3")]).await;
        // One address holds as many streams as it may (each with a session of its own).
        let crowd = reqwest::Client::builder()
            .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let open = || crowd.get(format!("{}/events", app.base)).send();
        let mut held = Vec::new();
        for _ in 0..3 {
            let stream = open().await.unwrap();
            assert_eq!(stream.status(), StatusCode::OK);
            held.push(stream);
        }
        let refused = open().await.unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.headers().contains_key("retry-after"));

        // A TV at another address pairs as usual, following its stream.
        let tv = Tv::from_address(&app.base, "127.0.0.3".parse().unwrap());
        tv.open_page().await;
        let mut events = Events::open(&tv, Duration::from_secs(30)).await;
        assert_eq!(tv.call("start").await["state"], "starting");
        events.wait_for("waiting", Duration::from_secs(10)).await;
        let metrics = app
            .http
            .get(format!("{}/metrics", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("tvsignin_push_streams_refused_total 1"),
            "{metrics}"
        );

        // A closed stream frees its place.
        drop(held.pop());
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let again = open().await.unwrap();
            if again.status() == StatusCode::OK {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no place 5 s after a stream closed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

/// `GET /healthz` on `stream`; the answer's status line, or None if the server closed.
async fn ask(stream: &mut TcpStream) -> Option<String> {
    let sent = stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await;
    sent.ok()?;
    let mut seen = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("an answer or a close within 5 s")
            .ok()?;
        if n == 0 {
            return None;
        }
        seen.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&seen).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return head.lines().next().map(str::to_owned);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_answered_503_and_the_server_carries_on() {
    within(60, async {
        let app = start(&[("MAX_CONNECTIONS", "8")]).await;
        let addr: SocketAddr = app.addr;
        // Connections are served until the cap (the test's own pooled ones count too).
        let mut held = Vec::new();
        let first_refused = loop {
            assert!(held.len() <= 8, "more than 8 connections served at once");
            let mut stream = TcpStream::connect(addr).await.unwrap();
            match ask(&mut stream).await.as_deref() {
                Some(line) if line.starts_with("HTTP/1.1 200") => held.push(stream),
                Some(line) => break line.to_owned(),
                None => panic!("closed without an answer below the refusal budget"),
            }
        };
        assert!(first_refused.starts_with("HTTP/1.1 503"), "{first_refused}");
        assert!(held.len() >= 6, "only {} served", held.len());

        // A flood over the cap: answered 503, or closed; nothing else.
        let answers: Vec<Option<String>> = futures::stream::iter(0..300)
            .map(|_| async move {
                let mut stream = TcpStream::connect(addr).await.ok()?;
                ask(&mut stream).await
            })
            .buffer_unordered(100)
            .collect()
            .await;
        for answer in answers.iter().flatten() {
            assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        }
        assert!(answers.iter().flatten().count() > 0, "no 503 at all");

        // The connections being served carry on.
        for stream in &mut held {
            let line = ask(stream).await.expect("a served connection stays served");
            assert!(line.starts_with("HTTP/1.1 200"), "{line}");
        }
        // Once they close, others are served again.
        drop(held);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            if ask(&mut stream)
                .await
                .is_some_and(|l| l.starts_with("HTTP/1.1 200"))
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "not served again 5 s after the others closed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}
