//! Memory floor of the server stack: what one open Server-Sent Events connection costs with
//! no app code at all (the same axum, hyper and tokio as tvsignin), so tvsignin's own figures
//! in `docs/performance.md` can be read against it. Two listeners are measured:
//! `axum::serve` (HTTP/1.1 and HTTP/2 on every connection) and tvsignin's own
//! `server::listener::serve` (HTTP/1.1 only).
//!
//! For each, it starts itself again as a child process that serves `GET /events` (a `watch`
//! channel streamed as SSE with keep-alives, the shape of tvsignin's push stream) on a free
//! loopback port, opens N connections to it, reads each first event, then reads the child's
//! RSS.
//!
//! Run with `cargo run --release --features ssr --example sse_floor -- 5000` (N defaults to
//! 5,000; it needs about 2 N open files). All traffic stays on 127.0.0.1; the run stops by
//! itself within 120 s and the child is killed when it ends.

// A command-line report: printing to stdout is the point.
#![allow(clippy::print_stdout)]

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures::{Stream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_stream::wrappers::WatchStream;

const SERVE: &str = "--serve";
const LIMIT: Duration = Duration::from_secs(120);

/// The push stream, minus the app: one `watch` channel per connection, sent as SSE.
async fn events() -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (sender, receiver) = tokio::sync::watch::channel(r#"{"state":"idle"}"#.to_owned());
    let stream = WatchStream::new(receiver).map(move |status| {
        let _open = &sender;
        Ok(Event::default().event("status").data(status))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The two listeners measured.
const LISTENERS: [&str; 2] = ["axum::serve", "tvsignin listener"];

async fn serve(listener: std::net::TcpListener, which: &str) {
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let listener = TcpListener::from_std(listener).expect("listener");
    let app = axum::Router::new().route("/events", get(events));
    if which == LISTENERS[0] {
        axum::serve(listener, app).await.expect("serve");
    } else {
        let never = tokio_util::sync::CancellationToken::new();
        tvsignin::server::listener::serve(
            listener,
            app,
            never,
            tvsignin::server::listener::ConnectionLimit::unlimited(),
        )
        .await;
    }
}

/// `VmRSS` of a process, in KB.
fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Opens one stream and reads until the end of the response head and the first event.
async fn open_stream(port: u16) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
        .await?;
    let mut seen = Vec::new();
    let mut buffer = [0u8; 1024];
    while !seen.windows(6).any(|w| w == b"data: ") {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        seen.extend_from_slice(&buffer[..n]);
    }
    Ok(stream)
}

async fn measure(streams: usize, which: &str) {
    // A free loopback port, bound again by the child.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("own path"))
        .args([SERVE, &port.to_string(), which])
        .kill_on_drop(true)
        .spawn()
        .expect("start the bare server");
    let pid = child.id().expect("child pid");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = rss_kb(pid);

    let mut open = Vec::with_capacity(streams);
    let mut errors = 0usize;
    // 250 connections at a time.
    for first in (0..streams).step_by(250) {
        let batch = 250.min(streams - first);
        let results = futures::future::join_all((0..batch).map(|_| open_stream(port))).await;
        for result in results {
            match result {
                Ok(stream) => open.push(stream),
                Err(error) => {
                    if errors == 0 {
                        eprintln!("first failed stream: {error}");
                    }
                    errors += 1;
                }
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let loaded = rss_kb(pid);
    let held = open.len().max(1);
    println!("{which}, bare SSE (no app code), {} streams", open.len());
    println!("  errors                      {errors}");
    println!("  server RSS idle             {idle} KB");
    println!("  server RSS with the streams {loaded} KB");
    println!(
        "  server RSS per stream       {:.1} KB",
        loaded.saturating_sub(idle) as f64 / held as f64
    );
    drop(open);
    let _ = child.kill().await;
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(SERVE) {
        let port: u16 = args.get(1).and_then(|p| p.parse().ok()).expect("port");
        let which = args.get(2).expect("listener");
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
        // The parent kills this process; the limit only guards against an orphan.
        let _ = tokio::time::timeout(LIMIT, serve(listener, which)).await;
        return;
    }
    let streams = args.first().and_then(|n| n.parse().ok()).unwrap_or(5_000);
    let both = async {
        for which in LISTENERS {
            measure(streams, which).await;
        }
    };
    if tokio::time::timeout(LIMIT, both).await.is_err() {
        eprintln!("stopped after {} s", LIMIT.as_secs());
        std::process::exit(1);
    }
}
