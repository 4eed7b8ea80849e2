//! Load generator (issue 6): simulates N TVs against one tvsignin server, or against several
//! replicas sharing one Redis.
//!
//! It starts a fast scripted OpenID provider inside this process, starts the release
//! `tvsignin` binary as a separate process pointed at it, then ramps up N TVs. Each TV gets
//! its own session cookie, keeps its push stream (`GET /events`) open, starts a pairing
//! (which moves its session to a new id: it opens the stream again under the new cookie, as
//! the TV page does) and waits for `signed-in`. The provider approves each code at a random instant and records
//! when it did and when it handed out the tokens, so push latency can be measured.
//!
//! In-memory mode (the default) runs one server that keeps its pairings in memory.
//!
//! Redis mode (`--redis`, implied by `--replicas N` with N > 1) also starts a `redis-server`
//! on a free loopback port (no persistence, working directory in a fresh temporary
//! directory) and N server processes on different loopback ports, all with the same
//! `REDIS_URL`, the same freshly generated `STORE_KEY` and the same `PUBLIC_URL` (as behind a
//! load balancer; the first replica's address stands in for it), all pointed at the same
//! provider. TV i gets its cookie from and holds its push stream on replica i % N, and sends
//! its server-function calls with that cookie to replica (i + 1) % N, so with two or more
//! replicas every sign-in has to cross from one replica to another. Memory, CPU and open
//! descriptors are reported for every server, for redis-server and in total.
//!
//! Run with `scripts/load.sh [N] [flags]` (e.g. `scripts/load.sh 1000 --redis --replicas 2`),
//! or: `cargo run --release --features ssr --example loadgen -- --tvs 1000`
//! All traffic stays on 127.0.0.1. Everything is bounded by `--timeout-secs`; the child
//! processes are killed at the end, on ctrl-c, and at a hard limit shortly after the timeout.

// A command-line report: printing to stdout is the point.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

#[derive(Parser, Debug, Clone)]
#[command(
    about = "Simulates N TVs against one tvsignin server (or replicas sharing Redis) and prints figures",
    // A flag given twice takes the later value (scripts/load.sh passes defaults first).
    args_override_self = true
)]
struct Args {
    /// Number of simulated TVs.
    #[arg(long, default_value_t = 1000)]
    tvs: usize,
    /// Polling interval the provider asks for, in seconds.
    #[arg(long, default_value_t = 5)]
    interval: u64,
    /// Earliest approval, seconds after the code is issued.
    #[arg(long, default_value_t = 5.0)]
    approve_min: f64,
    /// Latest approval, seconds after the code is issued.
    #[arg(long, default_value_t = 30.0)]
    approve_max: f64,
    /// New TVs per second during the ramp-up.
    #[arg(long, default_value_t = 500)]
    ramp: u64,
    /// The whole run stops after this many seconds, finished or not.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
    /// HTTP client pools shared by the TVs (each TV still has its own cookie).
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Only open the push streams (no pairing): measures the cost of a connected, idle TV.
    #[arg(long)]
    idle_only: bool,
    /// Leave out `verification_uri_complete`: the QR code then encodes the shorter
    /// `verification_uri` (shows how much of a pairing's memory is the QR SVG).
    #[arg(long)]
    no_complete_uri: bool,
    /// Number of tvsignin server processes. More than one implies `--redis`.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=32))]
    replicas: u16,
    /// Keep the servers' state in a redis-server started for this run (`REDIS_URL`, with one
    /// `STORE_KEY` shared by all replicas).
    #[arg(long)]
    redis: bool,
    /// The server binary.
    #[arg(long, default_value = "target/release/tvsignin")]
    server_bin: String,
    /// The redis-server binary (Redis mode).
    #[arg(long, default_value = "redis-server")]
    redis_bin: String,
}

impl Args {
    fn replica_count(&self) -> usize {
        usize::from(self.replicas.max(1))
    }

    fn redis_mode(&self) -> bool {
        self.redis || self.replicas > 1
    }
}

/// A tiny deterministic generator (splitmix64), seeded from a random UUID.
struct Rng(u64);
impl Rng {
    fn new() -> Self {
        Self(uuid::Uuid::new_v4().as_u64_pair().0)
    }
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Code {
    user_code: String,
    issued: Instant,
    approve_at: Instant,
    served: Option<Instant>,
}

struct Provider {
    no_complete_uri: bool,
    interval: u64,
    approve_min: f64,
    approve_max: f64,
    started: Instant,
    issued: AtomicU64,
    polls: AtomicU64,
    userinfos: AtomicU64,
    rng: Mutex<Rng>,
    codes: Mutex<HashMap<String, Code>>,
    /// user_code -> device_code
    by_user: Mutex<HashMap<String, String>>,
}

type P = Arc<Provider>;

async fn discovery(State(p): State<(P, String)>) -> Json<Value> {
    let b = &p.1;
    Json(json!({
        "issuer": b,
        "device_authorization_endpoint": format!("{b}/device"),
        "token_endpoint": format!("{b}/token"),
        "userinfo_endpoint": format!("{b}/userinfo"),
        "grant_types_supported": ["urn:ietf:params:oauth:grant-type:device_code"],
    }))
}

async fn device(State((p, _)): State<(P, String)>) -> Json<Value> {
    let n = p.issued.fetch_add(1, Ordering::SeqCst) + 1;
    let device_code = format!("dc-{n}-{}", uuid::Uuid::new_v4().simple());
    let user_code = format!("U{:04}-{:04}", n / 10_000, n % 10_000);
    let delay = {
        let mut rng = p.rng.lock().unwrap();
        p.approve_min + (p.approve_max - p.approve_min) * rng.next_f64()
    };
    let now = Instant::now();
    p.codes.lock().unwrap().insert(
        device_code.clone(),
        Code {
            user_code: user_code.clone(),
            issued: now,
            approve_at: now + Duration::from_secs_f64(delay),
            served: None,
        },
    );
    p.by_user
        .lock()
        .unwrap()
        .insert(user_code.clone(), device_code.clone());
    let mut body = json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": "http://127.0.0.1/device",
        "verification_uri_complete": format!("http://127.0.0.1/device?user_code={user_code}"),
        "expires_in": 600,
        "interval": p.interval,
    });
    if p.no_complete_uri {
        body.as_object_mut()
            .map(|o| o.remove("verification_uri_complete"));
    }
    Json(body)
}

async fn token(
    State((p, _)): State<(P, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> impl IntoResponse {
    p.polls.fetch_add(1, Ordering::Relaxed);
    let pending = || {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "authorization_pending"})),
        )
    };
    let Some(dc) = form.get("device_code") else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request"})),
        );
    };
    let now = Instant::now();
    let mut codes = p.codes.lock().unwrap();
    let Some(code) = codes.get_mut(dc) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        );
    };
    if now < code.approve_at {
        return pending();
    }
    if code.served.is_some() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        );
    }
    code.served = Some(now);
    (
        StatusCode::OK,
        Json(json!({
            "access_token": format!("at-{}", code.user_code),
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "openid profile email",
        })),
    )
}

async fn userinfo(State((p, _)): State<(P, String)>, headers: HeaderMap) -> impl IntoResponse {
    p.userinfos.fetch_add(1, Ordering::Relaxed);
    let sub = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer at-"))
        .unwrap_or("unknown")
        .to_owned();
    Json(json!({"sub": format!("user-{sub}"), "name": format!("TV user {sub}")}))
}

async fn start_provider(args: &Args) -> (P, String) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind provider");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let p = Arc::new(Provider {
        no_complete_uri: args.no_complete_uri,
        interval: args.interval,
        approve_min: args.approve_min,
        approve_max: args.approve_max.max(args.approve_min),
        started: Instant::now(),
        issued: AtomicU64::new(0),
        polls: AtomicU64::new(0),
        userinfos: AtomicU64::new(0),
        rng: Mutex::new(Rng::new()),
        codes: Mutex::new(HashMap::new()),
        by_user: Mutex::new(HashMap::new()),
    });
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/device", post(device))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo))
        .with_state((p.clone(), base.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (p, base)
}

/// A figure (in KB) from `/proc/<pid>/status`, e.g. `VmRSS:` or `VmHWM:`.
fn proc_status_kb(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn proc_rss_kb(pid: u32) -> Option<u64> {
    proc_status_kb(pid, "VmRSS:")
}

fn proc_fd_count(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|d| d.count())
}

fn proc_cpu_ticks(pid: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the ")" of the command name: state is field 3, utime 14, stime 15.
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn open_file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// What this run started outside its own process. It is stopped on every way out: the normal
/// end, a failed start, ctrl-c and the hard time limit.
#[derive(Default)]
struct Spawned {
    children: Vec<Child>,
    temp_dir: Option<PathBuf>,
}

type SpawnedRef = Arc<Mutex<Spawned>>;

/// Kills every child, reaps them (waiting at most 2 s, blocking: only used on the way out)
/// and removes the temporary directory.
fn stop_now(spawned: &SpawnedRef) {
    let mut s = spawned.lock().unwrap_or_else(PoisonError::into_inner);
    // Last started first: the servers go before the redis-server they use.
    for child in s.children.iter_mut().rev() {
        let _ = child.start_kill();
    }
    for _ in 0..20 {
        let running = s
            .children
            .iter_mut()
            .map(|c| matches!(c.try_wait(), Ok(None)))
            .filter(|&running| running)
            .count();
        if running == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(dir) = s.temp_dir.take() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Kills every child and waits (bounded) until each is gone, then removes the temporary
/// directory.
async fn stop_all(spawned: &SpawnedRef) {
    let (children, dir) = {
        let mut s = spawned.lock().unwrap_or_else(PoisonError::into_inner);
        (std::mem::take(&mut s.children), s.temp_dir.take())
    };
    // Last started first: the servers go before the redis-server they use.
    for mut child in children.into_iter().rev() {
        let _ = child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(3), child.wait()).await;
    }
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Keeps `child` to be stopped on the way out; returns its pid.
fn track(spawned: &SpawnedRef, child: Child) -> u32 {
    let pid = child.id().unwrap_or(0);
    spawned
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .children
        .push(child);
    pid
}

/// Stops everything started so far and exits with an error.
fn die(spawned: &SpawnedRef, message: &str) -> ! {
    eprintln!("{message}");
    stop_now(spawned);
    std::process::exit(1);
}

/// The child processes this run watches: the servers first, then redis-server if any.
#[derive(Clone)]
struct Watched {
    pid: u32,
    /// `http://127.0.0.1:<port>` for a server, `127.0.0.1:<port>` for redis-server.
    addr: String,
}

/// 32 random bytes, standard base64: the `STORE_KEY` every replica of the run shares.
fn store_key() -> String {
    use base64::Engine as _;
    use ring::rand::SecureRandom as _;
    let mut key = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut key)
        .expect("random bytes");
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// Whether `bytes` holds a whole RESP reply: `None` if more is needed, `Some(None)` for an
/// error (or unexpected) reply, else the reply as text (simple string, integer or bulk).
fn parse_redis_reply(bytes: &[u8]) -> Option<Option<String>> {
    let line_end = bytes.windows(2).position(|w| w == b"\r\n")?;
    if line_end == 0 {
        return Some(None);
    }
    let line = String::from_utf8_lossy(&bytes[1..line_end]).into_owned();
    match bytes[0] {
        b'+' | b':' => Some(Some(line)),
        b'$' => {
            let Ok(len) = line.parse::<i64>() else {
                return Some(None);
            };
            let Ok(len) = usize::try_from(len) else {
                return Some(None);
            };
            let start = line_end + 2;
            (bytes.len() >= start.saturating_add(len).saturating_add(2))
                .then(|| Some(String::from_utf8_lossy(&bytes[start..start + len]).into_owned()))
        }
        _ => Some(None),
    }
}

/// Sends one command to the redis-server on `port` and returns its reply as text, or `None`
/// (error reply, closed connection, more than 1 MB, or no answer within one second).
async fn redis_command(port: u16, parts: &[&str]) -> Option<String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        let mut request = format!("*{}\r\n", parts.len());
        for part in parts {
            request.push_str(&format!("${}\r\n{part}\r\n", part.len()));
        }
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut reply = Vec::new();
        let mut buf = [0u8; 8192];
        while reply.len() < (1 << 20) {
            if let Some(done) = parse_redis_reply(&reply) {
                return done;
            }
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            reply.extend_from_slice(&buf[..n]);
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(1), exchange)
        .await
        .ok()
        .flatten()
}

/// Redis's own view of its data: `used_memory` (KB) and the number of keys.
#[derive(Clone, Copy, Default)]
struct RedisFigures {
    used_kb: u64,
    keys: u64,
}

async fn redis_figures(port: u16) -> Option<RedisFigures> {
    let info = redis_command(port, &["INFO", "memory"]).await?;
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))?
        .trim()
        .parse()
        .ok()?;
    let keys = redis_command(port, &["DBSIZE"])
        .await?
        .trim()
        .parse()
        .ok()?;
    Some(RedisFigures {
        used_kb: used / 1024,
        keys,
    })
}

/// Starts redis-server on a free loopback port, without persistence, and waits (at most
/// 10 s) until it answers PING.
async fn start_redis(args: &Args, spawned: &SpawnedRef) -> Watched {
    let dir = std::env::temp_dir().join(format!(
        "tvsignin-loadgen-{}",
        uuid::Uuid::new_v4().simple()
    ));
    if let Err(e) = std::fs::create_dir(&dir) {
        die(spawned, &format!("cannot create {}: {e}", dir.display()));
    }
    spawned
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .temp_dir = Some(dir.clone());
    let port = free_port();
    let port_s = port.to_string();
    // Its log goes to a file in that directory (shown if it does not come up).
    let log_path = dir.join("redis.log");
    let log = match std::fs::File::create(&log_path) {
        Ok(f) => f,
        Err(e) => die(
            spawned,
            &format!("cannot create {}: {e}", log_path.display()),
        ),
    };
    let child = Command::new(&args.redis_bin)
        .args(["--port", &port_s, "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
        .arg("--dir")
        .arg(&dir)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .kill_on_drop(true)
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => die(
            spawned,
            &format!(
                "{} not found: run `scripts/setup.sh test` (or `apt install redis-server`)",
                args.redis_bin
            ),
        ),
        Err(e) => die(spawned, &format!("cannot start {}: {e}", args.redis_bin)),
    };
    let pid = track(spawned, child);
    let by = Instant::now() + Duration::from_secs(10);
    while redis_command(port, &["PING"]).await.as_deref() != Some("PONG") {
        if Instant::now() > by {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(10).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            die(
                spawned,
                &format!(
                    "redis-server did not answer PING within 10 s; its log ends:\n{}",
                    tail.join("\n")
                ),
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Watched {
        pid,
        addr: format!("127.0.0.1:{port}"),
    }
}

/// Settings every server of the run gets besides its own listening port.
struct ServerEnv {
    issuer: String,
    public_url: String,
    /// `(REDIS_URL, STORE_KEY)` in Redis mode.
    redis: Option<(String, String)>,
}

fn start_server(args: &Args, env: &ServerEnv, port: u16, spawned: &SpawnedRef) -> Watched {
    let mut command = Command::new(&args.server_bin);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ISSUER", &env.issuer)
        .env("CLIENT_ID", "loadgen")
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("PUBLIC_URL", &env.public_url)
        .env("PAIRING_RATE_LIMIT", "1000000")
        .env("MAX_PAIRINGS", "1000000")
        .env("MAX_PUSH_STREAMS_PER_ADDRESS", "1000000")
        .env("TVSIGNIN_CONFIG", "/nonexistent")
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some((url, key)) = &env.redis {
        command.env("REDIS_URL", url).env("STORE_KEY", key);
    }
    let child = match command.spawn() {
        Ok(c) => c,
        Err(e) => die(spawned, &format!("cannot start {}: {e}", args.server_bin)),
    };
    let pid = track(spawned, child);
    Watched {
        pid,
        addr: format!("http://127.0.0.1:{port}"),
    }
}

/// Waits until the server at `base` answers `/healthz` and then `/readyz` (discovery loaded),
/// or `by` passes.
async fn wait_ready(probe: &reqwest::Client, base: &str, by: Instant) -> bool {
    for path in ["/healthz", "/readyz"] {
        loop {
            let answered = probe
                .get(format!("{base}{path}"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if answered {
                break;
            }
            if Instant::now() > by {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    true
}

struct Stats {
    errors: AtomicU64,
    live: AtomicI64,
    peak_live: AtomicI64,
    signed_in: AtomicU64,
    waiting_seen: AtomicU64,
    /// Bytes of the first `waiting` event's JSON, summed over TVs.
    waiting_bytes: AtomicU64,
    /// TVs whose stream delivered its first event.
    connected: AtomicU64,
    /// Per replica: push streams it opened.
    streams: Vec<AtomicU64>,
    /// Per replica: `start` calls it accepted.
    starts: Vec<AtomicU64>,
    /// Per replica: `signed-in` events its push streams delivered.
    signed_in_on: Vec<AtomicU64>,
    /// (user_code, instant the TV's stream said signed-in)
    done: Mutex<Vec<(String, Instant)>>,
    error_kinds: Mutex<HashMap<String, u64>>,
}

impl Stats {
    fn new(replicas: usize) -> Self {
        let counters = || (0..replicas).map(|_| AtomicU64::new(0)).collect();
        Self {
            errors: AtomicU64::new(0),
            live: AtomicI64::new(0),
            peak_live: AtomicI64::new(0),
            signed_in: AtomicU64::new(0),
            waiting_seen: AtomicU64::new(0),
            waiting_bytes: AtomicU64::new(0),
            connected: AtomicU64::new(0),
            streams: counters(),
            starts: counters(),
            signed_in_on: counters(),
            done: Mutex::new(Vec::new()),
            error_kinds: Mutex::new(HashMap::new()),
        }
    }

    fn error(&self, kind: impl Into<String>) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        *self
            .error_kinds
            .lock()
            .unwrap()
            .entry(kind.into())
            .or_default() += 1;
    }
}

/// Opens a TV's push stream with `cookie`; an error kind if it cannot.
async fn open_events(
    http: &reqwest::Client,
    base: &str,
    cookie: &str,
) -> Result<reqwest::Response, String> {
    match http
        .get(format!("{base}/events"))
        .header("cookie", cookie)
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => Ok(r),
        Ok(r) => Err(format!("events status {}", r.status())),
        Err(e) => Err(format!("events: {}", short(&e))),
    }
}

fn session_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';')
                .next()
                .filter(|kv| kv.starts_with("tvsignin_session="))
                .map(str::to_owned)
        })
}

/// Where one TV sends its requests: `bases[stream]` hands out its cookie and holds its push
/// stream, `bases[calls]` receives its server-function calls (with the same cookie).
struct Route {
    bases: Arc<Vec<String>>,
    stream: usize,
    calls: usize,
}

impl Route {
    /// With several replicas, error kinds name the replica involved.
    fn tag(&self, kind: String, replica: usize) -> String {
        if self.bases.len() > 1 {
            format!("{kind} [replica {replica}]")
        } else {
            kind
        }
    }
}

/// One TV: cookie, push stream, start, then read the stream until signed-in (or the end).
async fn tv(
    idle_only: bool,
    http: reqwest::Client,
    route: Route,
    stats: Arc<Stats>,
    stop: CancellationToken,
) {
    let base = &route.bases[route.stream];
    let on_stream = |kind: String| route.tag(kind, route.stream);
    let healthz = match http.get(format!("{base}/healthz")).send().await {
        Ok(r) => r,
        Err(e) => return stats.error(on_stream(format!("healthz: {}", short(&e)))),
    };
    let Some(cookie) = session_cookie(healthz.headers()) else {
        return stats.error(on_stream("no session cookie".into()));
    };
    drop(healthz);
    let mut events = match open_events(&http, base, &cookie).await {
        Ok(r) => r,
        Err(kind) => return stats.error(on_stream(kind)),
    };
    stats.streams[route.stream].fetch_add(1, Ordering::Relaxed);
    if idle_only {
        // Wait for the first status event, then hold the stream until the end.
        let mut counted = false;
        loop {
            let chunk = tokio::select! {
                _ = stop.cancelled() => break,
                c = events.chunk() => c,
            };
            match chunk {
                Ok(Some(_)) if !counted => {
                    counted = true;
                    stats.connected.fetch_add(1, Ordering::SeqCst);
                    let now = stats.live.fetch_add(1, Ordering::SeqCst) + 1;
                    stats.peak_live.fetch_max(now, Ordering::SeqCst);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    stats.error(on_stream("push stream ended early".into()));
                    break;
                }
            }
        }
        if counted {
            stats.live.fetch_sub(1, Ordering::SeqCst);
        }
        return;
    }
    // The call goes to `calls`, as the TV's page would if a load balancer sent it there: its
    // Origin and Fetch Metadata are those of the replica being called.
    let call_base = &route.bases[route.calls];
    let on_calls = |kind: String| route.tag(kind, route.calls);
    let started = http
        .post(format!("{call_base}/api/start"))
        .header("cookie", &cookie)
        .header("origin", call_base.as_str())
        .header("sec-fetch-site", "same-origin")
        .send()
        .await;
    let moved = match started {
        Ok(r) if r.status().is_success() => {
            let moved = session_cookie(r.headers());
            match r.json::<Value>().await {
                Ok(v) if v["state"] == "starting" || v["state"] == "waiting" => {
                    stats.starts[route.calls].fetch_add(1, Ordering::Relaxed);
                }
                Ok(v) => return stats.error(on_calls(format!("start answered {}", v["state"]))),
                Err(e) => return stats.error(on_calls(format!("start body: {}", short(&e)))),
            }
            moved
        }
        Ok(r) => return stats.error(on_calls(format!("start status {}", r.status()))),
        Err(e) => return stats.error(on_calls(format!("start: {}", short(&e)))),
    };
    // The start moved the session to a new id (its cookie came with the answer), and the
    // stream under the old one ends: as the page does, open it again under the new cookie.
    let Some(cookie) = moved else {
        return stats.error(on_calls("start set no new session cookie".into()));
    };
    drop(events);
    let mut events = match open_events(&http, base, &cookie).await {
        Ok(r) => r,
        Err(kind) => return stats.error(on_stream(kind)),
    };
    let mut buffer = String::new();
    let mut user_code: Option<String> = None;
    let mut counted_live = false;
    let mut finished = false;
    loop {
        let chunk = tokio::select! {
            _ = stop.cancelled() => break,
            c = events.chunk() => c,
        };
        let chunk = match chunk {
            Ok(Some(c)) => c,
            Ok(None) => {
                if !finished {
                    stats.error(on_stream("push stream ended early".into()));
                }
                break;
            }
            Err(e) => {
                if !finished {
                    stats.error(on_stream(format!("push stream: {}", short(&e))));
                }
                break;
            }
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")) else {
                continue;
            };
            let Ok(status) = serde_json::from_str::<Value>(data.trim()) else {
                stats.error(on_stream("bad push data".into()));
                continue;
            };
            match status["state"].as_str().unwrap_or("") {
                "waiting" => {
                    if user_code.is_none() {
                        user_code = status["pairing"]["user_code"].as_str().map(str::to_owned);
                        stats.waiting_seen.fetch_add(1, Ordering::Relaxed);
                        stats
                            .waiting_bytes
                            .fetch_add(data.trim().len() as u64, Ordering::Relaxed);
                    }
                    if !counted_live {
                        counted_live = true;
                        let now = stats.live.fetch_add(1, Ordering::SeqCst) + 1;
                        stats.peak_live.fetch_max(now, Ordering::SeqCst);
                    }
                }
                "signed-in" if !finished => {
                    let at = Instant::now();
                    finished = true;
                    if counted_live {
                        stats.live.fetch_sub(1, Ordering::SeqCst);
                        counted_live = false;
                    }
                    stats.signed_in.fetch_add(1, Ordering::Relaxed);
                    stats.signed_in_on[route.stream].fetch_add(1, Ordering::Relaxed);
                    match &user_code {
                        Some(code) => stats.done.lock().unwrap().push((code.clone(), at)),
                        None => stats.error(on_stream("signed in without a code seen".into())),
                    }
                }
                "idle" | "starting" | "signed-in" => {}
                other => {
                    if !finished {
                        stats.error(on_stream(format!("state {other}")));
                        finished = true;
                        if counted_live {
                            stats.live.fetch_sub(1, Ordering::SeqCst);
                            counted_live = false;
                        }
                    }
                }
            }
        }
    }
    if counted_live {
        stats.live.fetch_sub(1, Ordering::SeqCst);
    }
    if !finished && stop.is_cancelled() {
        let kind = "not signed in before the end".to_owned();
        stats.error(if route.bases.len() > 1 {
            format!(
                "{kind} [stream on replica {}, calls to replica {}]",
                route.stream, route.calls
            )
        } else {
            kind
        });
    }
}

fn short(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s = format!("{s}: {inner}");
        source = inner.source();
    }
    s.chars().take(120).collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// What the sampler saw of the watched processes, each vector in the order of `Watched`.
struct Sampled {
    peak_rss: Vec<u64>,
    max_fds: Vec<usize>,
    /// RSS of every watched process at the sample with the most live pairings (ties: the
    /// largest servers' total), and that number of pairings.
    rss_at_peak_live: (Vec<u64>, i64),
    /// Redis's own figures from the last second before that sample.
    redis_at_peak_live: Option<RedisFigures>,
    /// (polls in that second, live pairings, seconds since the load started)
    per_sec: Vec<(u64, i64, f64)>,
}

/// Per-process figures for the report.
struct ProcReport {
    idle_kb: u64,
    at_peak_kb: u64,
    max_kb: u64,
    end_kb: u64,
    hwm_kb: u64,
    max_fds: usize,
    cpu_secs: f64,
}

fn print_proc(label: &str, w: &Watched, r: &ProcReport, load_secs: f64) {
    println!("  {label} at {} (pid {})", w.addr, w.pid);
    println!(
        "    RSS idle / at peak pairings    {} KB / {} KB",
        r.idle_kb, r.at_peak_kb
    );
    println!(
        "    RSS max / at end / VmHWM       {} KB / {} KB / {} KB",
        r.max_kb, r.end_kb, r.hwm_kb
    );
    println!(
        "    CPU                            {:.2} s over {:.1} s = {:.1} % of one core",
        r.cpu_secs,
        load_secs,
        100.0 * r.cpu_secs / load_secs
    );
    println!("    open fds, max                  {}", r.max_fds);
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let replicas = args.replica_count();
    let redis_mode = args.redis_mode();
    let run_started = Instant::now();
    let deadline = run_started + Duration::from_secs(args.timeout_secs);
    // Each TV holds one socket here (its push stream) and one in a server; the servers
    // inherit this limit.
    let needed = args.tvs as u64 + 512;
    if let Some(limit) = open_file_limit() {
        if limit < needed {
            eprintln!(
                "warning: open file limit {limit} < ~{needed} needed for {} TVs (run `ulimit -n 65535` first)",
                args.tvs
            );
        }
    }
    let ticks = clock_ticks();

    // Children are stopped on every way out; ctrl-c and a hard limit past the timeout (for
    // anything that hangs) stop them too.
    let spawned: SpawnedRef = Arc::default();
    {
        let spawned = spawned.clone();
        let hard_limit = Duration::from_secs(args.timeout_secs + 120 + 10 * replicas as u64);
        tokio::spawn(async move {
            let code = tokio::select! {
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("interrupted: stopping the servers");
                    130
                }
                _ = tokio::time::sleep(hard_limit) => {
                    eprintln!("hard time limit reached: stopping the servers");
                    2
                }
            };
            stop_now(&spawned);
            std::process::exit(code);
        });
    }

    let (provider, issuer) = start_provider(&args).await;
    let redis = if redis_mode {
        let r = start_redis(&args, &spawned).await;
        eprintln!("redis-server pid {} at {}", r.pid, r.addr);
        Some(r)
    } else {
        None
    };
    let ports: Vec<u16> = (0..replicas).map(|_| free_port()).collect();
    let env = ServerEnv {
        issuer: issuer.clone(),
        // Behind a load balancer all replicas share one public URL; the first replica's
        // address stands in for it.
        public_url: format!("http://127.0.0.1:{}/", ports[0]),
        redis: redis
            .as_ref()
            .map(|r| (format!("redis://{}/", r.addr), store_key())),
    };
    let servers: Vec<Watched> = ports
        .iter()
        .map(|&port| start_server(&args, &env, port, &spawned))
        .collect();
    for (i, s) in servers.iter().enumerate() {
        eprintln!("server {i} pid {} at {}", s.pid, s.addr);
    }
    eprintln!("provider at {issuer}");

    // Wait (bounded) until every server is ready (answers /healthz, discovery loaded).
    let probe = reqwest::Client::new();
    let ready_secs = 20 + 5 * replicas as u64;
    let ready_by = Instant::now() + Duration::from_secs(ready_secs);
    for (i, s) in servers.iter().enumerate() {
        if !wait_ready(&probe, &s.addr, ready_by).await {
            die(
                &spawned,
                &format!("server {i} at {} not ready after {ready_secs} s", s.addr),
            );
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Everything watched: the servers, then redis-server.
    let watched: Vec<Watched> = servers.iter().chain(redis.as_ref()).cloned().collect();
    let pids: Vec<u32> = watched.iter().map(|w| w.pid).collect();
    let redis_port: Option<u16> = redis
        .as_ref()
        .and_then(|r| r.addr.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok());
    let rss_idle: Vec<u64> = pids.iter().map(|&p| proc_rss_kb(p).unwrap_or(0)).collect();
    let redis_idle = match redis_port {
        Some(port) => redis_figures(port).await,
        None => None,
    };
    let cpu_start: Vec<u64> = pids
        .iter()
        .map(|p| proc_cpu_ticks(&p.to_string()).unwrap_or(0))
        .collect();
    let self_cpu_start = proc_cpu_ticks("self").unwrap_or(0);
    let load_started = Instant::now();

    let stats = Arc::new(Stats::new(replicas));
    let stop = CancellationToken::new();
    let clients: Vec<reqwest::Client> = (0..args.workers.max(1))
        .map(|_| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .pool_idle_timeout(Duration::from_secs(30))
                .build()
                .expect("client")
        })
        .collect();
    let bases: Arc<Vec<String>> = Arc::new(servers.iter().map(|s| s.addr.clone()).collect());

    // Sampler: RSS of every watched process and live pairings every 250 ms; open fds, polls
    // and Redis's own figures every second.
    let sampler = {
        let stats = stats.clone();
        let provider = provider.clone();
        let stop = stop.clone();
        let pids = pids.clone();
        tokio::spawn(async move {
            let mut out = Sampled {
                peak_rss: vec![0; pids.len()],
                max_fds: vec![0; pids.len()],
                rss_at_peak_live: (vec![0; pids.len()], 0),
                redis_at_peak_live: None,
                per_sec: Vec::new(),
            };
            let mut best_servers_sum = 0u64;
            let mut redis_latest = None;
            let began = Instant::now();
            let mut last_polls = provider.polls.load(Ordering::Relaxed);
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            let mut n = 0u64;
            while !stop.is_cancelled() {
                tick.tick().await;
                n += 1;
                let live = stats.live.load(Ordering::SeqCst);
                if n.is_multiple_of(4) {
                    if let Some(port) = redis_port {
                        redis_latest = redis_figures(port).await.or(redis_latest);
                    }
                }
                let rss: Vec<Option<u64>> = pids.iter().map(|&p| proc_rss_kb(p)).collect();
                for (i, r) in rss.iter().enumerate() {
                    if let Some(r) = r {
                        out.peak_rss[i] = out.peak_rss[i].max(*r);
                    }
                    if n.is_multiple_of(4) {
                        if let Some(fds) = proc_fd_count(pids[i]) {
                            out.max_fds[i] = out.max_fds[i].max(fds);
                        }
                    }
                }
                if rss.iter().all(Option::is_some) {
                    let rss: Vec<u64> = rss.into_iter().flatten().collect();
                    let servers_sum: u64 = rss[..replicas].iter().sum();
                    let best_live = out.rss_at_peak_live.1;
                    if live > best_live || (live == best_live && servers_sum > best_servers_sum) {
                        best_servers_sum = servers_sum;
                        out.rss_at_peak_live = (rss, live);
                        out.redis_at_peak_live = redis_latest;
                    }
                }
                if n.is_multiple_of(4) {
                    let polls = provider.polls.load(Ordering::Relaxed);
                    out.per_sec
                        .push((polls - last_polls, live, began.elapsed().as_secs_f64()));
                    last_polls = polls;
                }
            }
            out
        })
    };

    // Ramp up the TVs at a bounded rate. TV i streams from replica i % N and calls replica
    // (i + 1) % N (the same one when N = 1).
    let mut tasks = Vec::with_capacity(args.tvs);
    let gap = Duration::from_secs_f64(1.0 / args.ramp.max(1) as f64);
    let mut next = Instant::now();
    for i in 0..args.tvs {
        if Instant::now() > deadline {
            break;
        }
        tokio::time::sleep_until(next.into()).await;
        next += gap;
        let route = Route {
            bases: bases.clone(),
            stream: i % replicas,
            calls: (i + 1) % replicas,
        };
        tasks.push(tokio::spawn(tv(
            args.idle_only,
            clients[i % clients.len()].clone(),
            route,
            stats.clone(),
            stop.clone(),
        )));
    }
    let ramp_secs = load_started.elapsed().as_secs_f64();

    // Wait until every TV is signed in or failed, or the deadline.
    loop {
        let done = stats.signed_in.load(Ordering::Relaxed)
            + stats.errors.load(Ordering::Relaxed)
            + stats.connected.load(Ordering::Relaxed);
        if done >= args.tvs as u64 || Instant::now() > deadline {
            if args.idle_only {
                // Let the sampler see the plateau.
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let load_secs = load_started.elapsed().as_secs_f64();
    let cpu_end: Vec<u64> = pids
        .iter()
        .zip(&cpu_start)
        .map(|(p, &start)| proc_cpu_ticks(&p.to_string()).unwrap_or(start))
        .collect();
    let self_cpu_end = proc_cpu_ticks("self").unwrap_or(self_cpu_start);
    let rss_end: Vec<u64> = pids.iter().map(|&p| proc_rss_kb(p).unwrap_or(0)).collect();
    let hwm_end: Vec<u64> = pids
        .iter()
        .map(|&p| proc_status_kb(p, "VmHWM:").unwrap_or(0))
        .collect();
    let redis_end = match redis_port {
        Some(port) => redis_figures(port).await,
        None => None,
    };
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), futures::future::join_all(tasks)).await;
    let sampled = match tokio::time::timeout(Duration::from_secs(5), sampler).await {
        Ok(Ok(s)) => s,
        _ => Sampled {
            peak_rss: vec![0; pids.len()],
            max_fds: vec![0; pids.len()],
            rss_at_peak_live: (vec![0; pids.len()], 0),
            redis_at_peak_live: None,
            per_sec: Vec::new(),
        },
    };
    stop_all(&spawned).await;

    // Push latency: signed-in on the TV's stream minus (a) the provider's approval instant
    // and (b) the instant the provider handed a server the tokens.
    let codes = provider.codes.lock().unwrap();
    let by_user = provider.by_user.lock().unwrap();
    let mut from_approval = Vec::new();
    let mut from_tokens = Vec::new();
    let mut polls_expected = 0.0;
    for code in codes.values() {
        let end = code.served.unwrap_or(code.approve_at.max(code.issued));
        polls_expected +=
            end.saturating_duration_since(code.issued).as_secs_f64() / args.interval as f64;
    }
    for (user_code, at) in stats.done.lock().unwrap().iter() {
        let Some(code) = by_user.get(user_code).and_then(|dc| codes.get(dc)) else {
            continue;
        };
        from_approval.push(at.saturating_duration_since(code.approve_at).as_secs_f64() * 1000.0);
        if let Some(served) = code.served {
            from_tokens.push(at.saturating_duration_since(served).as_secs_f64() * 1000.0);
        }
    }
    from_approval.sort_by(f64::total_cmp);
    from_tokens.sort_by(f64::total_cmp);
    let peak = stats.peak_live.load(Ordering::SeqCst);
    // Seconds when (nearly) every pairing was waiting and had started polling.
    let settle = ramp_secs + args.interval as f64 + 1.0;
    let per_sec = &sampled.per_sec;
    let plateau: Vec<u64> = per_sec
        .iter()
        .filter(|(_, live, t)| *live as f64 >= 0.95 * peak as f64 && peak > 0 && *t >= settle)
        .map(|(p, _, _)| *p)
        .collect();
    // Polls come in waves one interval apart: a mean over less than one interval means nothing.
    let plateau_rate = if (plateau.len() as u64) < args.interval.max(1) {
        f64::NAN
    } else {
        plateau.iter().sum::<u64>() as f64 / plateau.len() as f64
    };
    let max_rate = per_sec.iter().map(|(p, _, _)| *p).max().unwrap_or(0);
    let waiting_secs: f64 = codes
        .values()
        .filter(|c| c.issued.elapsed().as_secs_f64() >= args.interval as f64)
        .map(|c| {
            let end = c.served.unwrap_or(c.approve_at);
            end.saturating_duration_since(c.issued).as_secs_f64()
        })
        .sum();
    let reports: Vec<ProcReport> = (0..pids.len())
        .map(|i| ProcReport {
            idle_kb: rss_idle[i],
            at_peak_kb: sampled.rss_at_peak_live.0[i],
            max_kb: sampled.peak_rss[i],
            end_kb: rss_end[i],
            hwm_kb: hwm_end[i],
            max_fds: sampled.max_fds[i],
            cpu_secs: cpu_end[i].saturating_sub(cpu_start[i]) as f64 / ticks,
        })
        .collect();
    let (server_reports, redis_report) = reports.split_at(replicas);
    let redis_report = redis_report.first();
    let peak_live_sampled = sampled.rss_at_peak_live.1;
    let per_live = |kb: u64| {
        if peak_live_sampled > 0 {
            kb as f64 / peak_live_sampled as f64
        } else {
            f64::NAN
        }
    };
    let servers_idle: u64 = server_reports.iter().map(|r| r.idle_kb).sum();
    let servers_at_peak: u64 = server_reports.iter().map(|r| r.at_peak_kb).sum();
    let servers_growth = servers_at_peak.saturating_sub(servers_idle);
    let per_pairing_kb = per_live(servers_growth);
    let self_cpu = (self_cpu_end - self_cpu_start) as f64 / ticks;
    let total_polls = provider.polls.load(Ordering::Relaxed);
    let _ = provider.started;
    let waiting_seen = stats.waiting_seen.load(Ordering::Relaxed);
    let event_bytes = if waiting_seen > 0 {
        stats.waiting_bytes.load(Ordering::Relaxed) as f64 / waiting_seen as f64
    } else {
        f64::NAN
    };

    if redis_mode {
        println!(
            "tvsignin load run (Redis mode: {replicas} replica{} sharing one redis-server)",
            if replicas == 1 { "" } else { "s" }
        );
    } else {
        println!("tvsignin load run (in-memory mode)");
    }
    println!(
        "  TVs (N)                          {}{}",
        args.tvs,
        if args.idle_only {
            " (idle-only: push streams, no pairing)"
        } else {
            ""
        }
    );
    println!(
        "  ramp                             {} TVs/s, took {:.1} s",
        args.ramp, ramp_secs
    );
    println!(
        "  approval delay                   {}-{} s after issue, interval {} s",
        args.approve_min, args.approve_max, args.interval
    );
    println!(
        "  codes issued by provider         {}",
        provider.issued.load(Ordering::Relaxed)
    );
    println!(
        "  signed in (seen on push stream)  {}",
        stats.signed_in.load(Ordering::Relaxed)
    );
    println!("  pairings held concurrently, peak {}", peak);
    println!(
        "  errors                           {}",
        stats.errors.load(Ordering::Relaxed)
    );
    let mut kinds: Vec<(String, u64)> = stats
        .error_kinds
        .lock()
        .unwrap()
        .iter()
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    kinds.sort();
    for (kind, n) in kinds {
        println!("    {n:>6} x {kind}");
    }
    if let (false, [server]) = (redis_mode, server_reports) {
        println!("  server RSS idle                  {} KB", server.idle_kb);
        println!(
            "  server RSS at peak pairings      {} KB ({} live pairings sampled)",
            server.at_peak_kb, peak_live_sampled
        );
        println!("  server open fds, max             {}", server.max_fds);
        println!(
            "  server RSS max / at end          {} KB / {} KB",
            server.max_kb, server.end_kb
        );
        println!("  server VmHWM at end              {} KB", server.hwm_kb);
        println!(
            "  server RSS per live pairing      {:.1} KB",
            per_pairing_kb
        );
        println!(
            "  server CPU                       {:.2} s over {:.1} s = {:.1} % of one core",
            server.cpu_secs,
            load_secs,
            100.0 * server.cpu_secs / load_secs
        );
    } else {
        println!(
            "  routing                          TV i: cookie and push stream on replica i % {replicas}, start on replica (i + 1) % {replicas}"
        );
        for (i, (w, r)) in servers.iter().zip(server_reports).enumerate() {
            print_proc(&format!("replica {i}"), w, r, load_secs);
            println!(
                "    push streams / starts accepted / signed-in delivered  {} / {} / {}",
                stats.streams[i].load(Ordering::Relaxed),
                stats.starts[i].load(Ordering::Relaxed),
                stats.signed_in_on[i].load(Ordering::Relaxed)
            );
        }
        if let (Some(w), Some(r)) = (&redis, redis_report) {
            print_proc("redis-server", w, r, load_secs);
            let show = |f: Option<RedisFigures>| {
                f.map_or("?".to_owned(), |f| {
                    format!("{} KB, {} keys", f.used_kb, f.keys)
                })
            };
            println!(
                "    used_memory idle / at peak pairings / at end  {} / {} / {}",
                show(redis_idle),
                show(sampled.redis_at_peak_live),
                show(redis_end)
            );
        }
        let servers_max: u64 = server_reports.iter().map(|r| r.max_kb).sum();
        let servers_end: u64 = server_reports.iter().map(|r| r.end_kb).sum();
        let servers_cpu: f64 = server_reports.iter().map(|r| r.cpu_secs).sum();
        println!("  servers RSS idle, total          {servers_idle} KB");
        println!(
            "  servers RSS at peak pairings     {servers_at_peak} KB ({peak_live_sampled} live pairings sampled)"
        );
        println!("  servers RSS max / at end, total  {servers_max} KB / {servers_end} KB (max per server, summed)");
        println!(
            "  servers RSS per live pairing     {:.1} KB (growth of the servers' total RSS)",
            per_pairing_kb
        );
        if let Some(r) = redis_report {
            let with_redis = servers_growth + r.at_peak_kb.saturating_sub(r.idle_kb);
            println!(
                "  servers + redis RSS per pairing  {:.1} KB",
                per_live(with_redis)
            );
            if let (Some(idle), Some(at_peak)) = (redis_idle, sampled.redis_at_peak_live) {
                println!(
                    "  redis used_memory per pairing    {:.1} KB (Redis's own count, sampled once a second)",
                    per_live(at_peak.used_kb.saturating_sub(idle.used_kb))
                );
            }
        }
        println!(
            "  servers CPU, total               {:.2} s over {:.1} s = {:.1} % of one core",
            servers_cpu,
            load_secs,
            100.0 * servers_cpu / load_secs
        );
        if let Some(r) = redis_report {
            let all = servers_cpu + r.cpu_secs;
            println!(
                "  servers + redis CPU              {:.2} s = {:.1} % of one core",
                all,
                100.0 * all / load_secs
            );
        }
    }
    println!(
        "  loadgen CPU (same machine)       {:.2} s = {:.1} % of one core",
        self_cpu,
        100.0 * self_cpu / load_secs
    );
    println!(
        "  provider polls/s at plateau      {:.1} measured vs {:.1} expected (peak/interval) over {} s; max 1 s: {}{}",
        plateau_rate,
        peak as f64 / args.interval as f64,
        plateau.len(),
        max_rate,
        if replicas > 1 { " (all replicas)" } else { "" }
    );
    if waiting_secs > 0.0 {
        println!(
            "  provider polls per waiting pairing-second {:.4} vs {:.4} expected (1/interval)",
            total_polls as f64 / waiting_secs,
            1.0 / args.interval as f64
        );
    }
    println!(
        "  waiting event size (JSON)        {:.0} bytes on average (carries the QR SVG)",
        event_bytes
    );
    println!(
        "  provider polls total             {} vs ~{:.0} expected (sum of waiting time / interval)",
        total_polls, polls_expected
    );
    println!(
        "  userinfo calls                   {}",
        provider.userinfos.load(Ordering::Relaxed)
    );
    println!(
        "  push latency, tokens -> signed-in p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  (n={})",
        percentile(&from_tokens, 50.0),
        percentile(&from_tokens, 99.0),
        from_tokens.last().copied().unwrap_or(f64::NAN),
        from_tokens.len()
    );
    println!("  push latency, approval -> signed-in p50 {:.1} ms  p99 {:.1} ms  (includes waiting for the next poll, <= interval)", percentile(&from_approval, 50.0), percentile(&from_approval, 99.0));
    println!(
        "  wall time                        {:.1} s (load phase {:.1} s)",
        run_started.elapsed().as_secs_f64(),
        load_secs
    );
}
