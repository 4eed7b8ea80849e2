//! The listener: accepts TCP connections and serves each with hyper's HTTP/1.1 server, and
//! on shutdown stops accepting and lets open connections finish. At most `MAX_CONNECTIONS`
//! are served at once ([`ConnectionLimit`]): one more is answered 503 and closed, and when
//! even those pile up, closed without an answer, so a flood costs a few descriptors and
//! never the process.
//!
//! TVs and phones reach the server over HTTP/1.1, directly or through a proxy, and the build
//! has no HTTP/2 at all. Serving each connection with hyper's HTTP/1.1 server directly, not
//! with `axum::serve`, saves about 7 KB per open connection, that is per TV holding its push
//! stream: 13.0 KB against 20.4 KB per open stream, 12.0 KB against 18.8 KB per idle
//! kept-alive connection (`examples/sse_floor.rs`, 10,000 connections). The saving comes from
//! a read ahead, not from HTTP/2 code: `axum::serve` hands each connection to hyper-util's auto
//! builder, which reads the first bytes (up to 24) itself to tell HTTP/1.1 from HTTP/2 and
//! then replays them to hyper. After that short first read, hyper enlarges its 8 KB read
//! buffer to make room for the next one (to 16 KB), and the buffer keeps that size while the
//! connection lives. The same builder set to HTTP/1.1 only reads nothing ahead and costs what
//! hyper alone does (11.9 KB per stream; 17.8 KB when it reads ahead, and `axum::serve` 2.6 KB
//! more). What this listener adds to bare hyper (the limits and the drain) costs about 1 KB.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tower::Service;

use crate::metrics::Metrics;

/// How long a client may take to send a request's head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait, after an accept error (out of file descriptors, say), before trying again.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// How long open connections get to finish once shutdown starts.
const DRAIN_LIMIT: Duration = Duration::from_secs(20);
/// Connections over the cap answered 503 at once; more are closed without an answer.
const REFUSING_AT_ONCE: usize = 64;
/// How long a connection over the cap gets to send its request and read the 503.
const REFUSE_WITHIN: Duration = Duration::from_secs(2);
/// At most one warning about the cap in this long.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// How many connections to serve at once, and where to count them.
#[derive(Clone, Debug)]
pub struct ConnectionLimit {
    pub max: usize,
    /// `tvsignin_connections` and `tvsignin_connections_refused_total`.
    pub metrics: Option<Metrics>,
}

impl ConnectionLimit {
    /// No cap and no metrics (tests and examples).
    pub fn unlimited() -> Self {
        Self {
            max: Semaphore::MAX_PERMITS,
            metrics: None,
        }
    }
}

/// Held while a connection is served.
struct Open {
    _permit: OwnedSemaphorePermit,
    gauge: Option<metrics::Gauge>,
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(gauge) = &self.gauge {
            gauge.decrement(1.0);
        }
    }
}

/// Serves `app` on `listener` until `shutdown`, then waits (up to [`DRAIN_LIMIT`]) for open
/// connections to finish their requests. Handlers see the peer as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    limit: ConnectionLimit,
) {
    let mut make_service: IntoMakeServiceWithConnectInfo<Router, SocketAddr> =
        app.into_make_service_with_connect_info();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(limit.max.min(Semaphore::MAX_PERMITS)));
    let refusing = Arc::new(Semaphore::new(REFUSING_AT_ONCE));
    let gauge = limit.metrics.as_ref().map(Metrics::connections);
    let refused = limit.metrics.as_ref().map(Metrics::connections_refused);
    let mut warned: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (socket, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                tracing::warn!(%error, "cannot accept a connection; pausing");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(ACCEPT_PAUSE) => continue,
                }
            }
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            if let Some(refused) = &refused {
                refused.increment(1);
            }
            if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                warned = Some(Instant::now());
                tracing::warn!(
                    max = limit.max,
                    "MAX_CONNECTIONS connections are open; refusing new ones with 503"
                );
            }
            refuse(socket, &refusing);
            continue;
        };
        if let Some(gauge) = &gauge {
            gauge.increment(1.0);
        }
        let held = Open {
            _permit: permit,
            gauge: gauge.clone(),
        };
        // Push events are small writes that must go out at once.
        if let Err(error) = socket.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let service = match make_service.call(peer).await {
            Ok(service) => service,
            Err(never) => match never {},
        };
        let connection =
            http.serve_connection(TokioIo::new(socket), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _held = held;
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN_LIMIT) => {
            tracing::warn!("connections still open {DRAIN_LIMIT:?} after shutdown began; closing them");
        }
    }
}

/// Answers one request on a connection over the cap with 503 and closes it; with too many
/// such answers under way already, closes it at once.
fn refuse(socket: TcpStream, refusing: &Arc<Semaphore>) {
    let Ok(permit) = Arc::clone(refusing).try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(REFUSE_WITHIN)
            .keep_alive(false);
        let busy = hyper::service::service_fn(|_request| async {
            let response = http::Response::builder()
                .status(http::StatusCode::SERVICE_UNAVAILABLE)
                .header(http::header::RETRY_AFTER, "5")
                .header(http::header::CONNECTION, "close")
                .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(axum::body::Body::from(
                    "The server is busy. Try again in a moment.",
                ))
                .expect("a static response");
            Ok::<_, Infallible>(response)
        });
        let answer = http.serve_connection(TokioIo::new(socket), busy);
        let _ = tokio::time::timeout(REFUSE_WITHIN, answer).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::ConnectInfo;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn start() -> (SocketAddr, CancellationToken, tokio::task::JoinHandle<()>) {
        start_with(ConnectionLimit::unlimited()).await
    }

    async fn start_with(
        limit: ConnectionLimit,
    ) -> (SocketAddr, CancellationToken, tokio::task::JoinHandle<()>) {
        let app = Router::new().route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(serve(listener, app, shutdown.clone(), limit));
        (address, shutdown, task)
    }

    /// Sends `GET /peer` on `stream` and returns the whole answer, up to the server's close.
    async fn answer_until_closed(stream: &mut TcpStream) -> String {
        stream
            .write_all(b"GET /peer HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let mut seen = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut seen))
            .await
            .expect("closed within 5 s")
            .unwrap();
        String::from_utf8_lossy(&seen).into_owned()
    }

    /// Sends `GET /peer` on `stream` and returns the response body.
    async fn ask_peer(stream: &mut TcpStream) -> String {
        stream
            .write_all(b"GET /peer HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let mut seen = Vec::new();
        let mut buffer = [0u8; 512];
        loop {
            let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
                .await
                .expect("an answer within 5 s")
                .unwrap();
            assert!(
                n > 0,
                "closed before the answer: {:?}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&seen).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .expect("content-length");
                if body.len() >= length {
                    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                    return body[..length].to_owned();
                }
            }
        }
    }

    #[tokio::test]
    async fn handlers_see_the_peer_and_connections_are_kept_alive() {
        let (address, shutdown, task) = start().await;
        let mut stream = TcpStream::connect(address).await.unwrap();
        let me = stream.local_addr().unwrap().to_string();
        assert_eq!(ask_peer(&mut stream).await, me);
        // A second request on the same connection.
        assert_eq!(ask_peer(&mut stream).await, me);
        shutdown.cancel();
        task.await.unwrap();
    }

    #[tokio::test]
    async fn connections_over_the_cap_get_503_and_a_freed_place_is_used_again() {
        let metrics = Metrics::new();
        let (address, shutdown, task) = start_with(ConnectionLimit {
            max: 2,
            metrics: Some(metrics.clone()),
        })
        .await;
        let mut first = TcpStream::connect(address).await.unwrap();
        let mut second = TcpStream::connect(address).await.unwrap();
        ask_peer(&mut first).await;
        ask_peer(&mut second).await;
        for _ in 0..3 {
            let mut over = TcpStream::connect(address).await.unwrap();
            let answer = answer_until_closed(&mut over).await;
            assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
            assert!(answer.contains("retry-after: 5"), "{answer}");
        }
        // The open ones keep working.
        ask_peer(&mut first).await;
        let text = metrics.render();
        assert!(text.contains("tvsignin_connections 2"), "{text}");
        assert!(
            text.contains("tvsignin_connections_refused_total 3"),
            "{text}"
        );
        drop(second);
        // Its place is free once the server notices the close.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let mut next = TcpStream::connect(address).await.unwrap();
            next.write_all(b"GET /peer HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                .await
                .unwrap();
            let mut head = [0u8; 12];
            let read = tokio::time::timeout(Duration::from_secs(5), next.read_exact(&mut head))
                .await
                .expect("an answer within 5 s");
            if read.is_ok() && &head == b"HTTP/1.1 200" {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the freed place was not reused"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        shutdown.cancel();
        task.await.unwrap();
    }

    #[tokio::test]
    async fn shutdown_closes_idle_connections_and_stops_accepting() {
        let (address, shutdown, task) = start().await;
        let mut idle = TcpStream::connect(address).await.unwrap();
        ask_peer(&mut idle).await;
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("serve returns soon after shutdown")
            .unwrap();
        let mut buffer = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buffer))
            .await
            .expect("the idle connection is closed");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        assert!(
            TcpStream::connect(address).await.is_err(),
            "still accepting"
        );
    }
}
