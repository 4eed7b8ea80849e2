//! Memory floor of the server stack: what one open Server-Sent Events connection costs with
//! no app code at all (the same axum, hyper and tokio as tvsignin), so tvsignin's own figures
//! in `docs/performance.md` can be read against it. Four listeners are measured:
//! `axum::serve`; hyper-util's auto builder, which `axum::serve` hands each connection to,
//! as it is (it reads a connection's first bytes itself to tell HTTP/1.1 from HTTP/2) and set
//! to HTTP/1.1 only (no such read); and tvsignin's own `server::listener::serve`, which hands
//! each connection to hyper's HTTP/1.1 server directly. The build has no HTTP/2 in any of them.
//!
//! For each, it starts itself again as a child process that serves `GET /events` (a `watch`
//! channel streamed as SSE with keep-alives, the shape of tvsignin's push stream) on a free
//! loopback port, opens N connections to it, reads each first event, then reads the child's
//! RSS. With `--idle`, each connection asks `GET /ping` once instead and stays open, kept
//! alive with nothing in flight.
//!
//! Run with `cargo run --release --features ssr --example sse_floor -- 5000 [--idle]` (N
//! defaults to 5,000; it needs about 2 N open files). All traffic stays on 127.0.0.1; the run
//! stops by itself within 240 s and the child is killed when it ends.

// A command-line report: printing to stdout is the point.
#![allow(clippy::print_stdout)]

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures::{Stream, StreamExt};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_stream::wrappers::WatchStream;

const SERVE: &str = "--serve";
const LIMIT: Duration = Duration::from_secs(240);

/// The push stream, minus the app: one `watch` channel per connection, sent as SSE.
async fn events() -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (sender, receiver) = tokio::sync::watch::channel(r#"{"state":"idle"}"#.to_owned());
    let stream = WatchStream::new(receiver).map(move |status| {
        let _open = &sender;
        Ok(Event::default().event("status").data(status))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The listeners measured.
const LISTENERS: [&str; 4] = [
    "axum::serve",
    "auto builder",
    "auto builder, HTTP/1.1 only",
    "tvsignin listener",
];

async fn serve(listener: std::net::TcpListener, which: &str) {
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let listener = TcpListener::from_std(listener).expect("listener");
    let app = axum::Router::new()
        .route("/events", get(events))
        .route("/ping", get(|| async { "pong" }));
    match LISTENERS.iter().position(|l| *l == which) {
        Some(0) => axum::serve(listener, app).await.expect("serve"),
        Some(1) => serve_auto(listener, app, auto::Builder::new(TokioExecutor::new())).await,
        Some(2) => {
            let builder = auto::Builder::new(TokioExecutor::new()).http1_only();
            serve_auto(listener, app, builder).await;
        }
        _ => {
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
}

/// Serves each connection with hyper-util's auto builder, as `axum::serve` does.
async fn serve_auto(
    listener: TcpListener,
    app: axum::Router,
    builder: auto::Builder<TokioExecutor>,
) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        let builder = builder.clone();
        tokio::spawn(async move {
            let _ = builder
                .serve_connection(TokioIo::new(socket), service)
                .await;
        });
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

/// Opens one stream and reads until the end of the response head and the first event; with
/// `idle`, asks `GET /ping` and reads the whole answer.
async fn open_stream(port: u16, idle: bool) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let (request, end): (&[u8], &[u8]) = if idle {
        (b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b"pong")
    } else {
        (
            b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n",
            b"data: ",
        )
    };
    stream.write_all(request).await?;
    let mut seen = Vec::new();
    let mut buffer = [0u8; 1024];
    while !seen.windows(end.len()).any(|w| w == end) {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        seen.extend_from_slice(&buffer[..n]);
    }
    Ok(stream)
}

async fn measure(streams: usize, which: &str, idle: bool) {
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
    let before = rss_kb(pid);

    let mut open = Vec::with_capacity(streams);
    let mut errors = 0usize;
    // 250 connections at a time.
    for first in (0..streams).step_by(250) {
        let batch = 250.min(streams - first);
        let results = futures::future::join_all((0..batch).map(|_| open_stream(port, idle))).await;
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
    let (what, each) = if idle {
        ("idle kept-alive connections", "connection")
    } else {
        ("bare SSE (no app code) streams", "stream")
    };
    println!("{which}, {} {what}", open.len());
    println!("  errors                      {errors}");
    println!("  server RSS idle             {before} KB");
    println!("  server RSS with them open   {loaded} KB");
    println!(
        "  server RSS per {each:<12} {:.1} KB",
        loaded.saturating_sub(before) as f64 / held as f64
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
    let idle = args.iter().any(|a| a == "--idle");
    let all = async {
        for which in LISTENERS {
            measure(streams, which, idle).await;
        }
    };
    if tokio::time::timeout(LIMIT, all).await.is_err() {
        eprintln!("stopped after {} s", LIMIT.as_secs());
        std::process::exit(1);
    }
}
