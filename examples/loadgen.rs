//! Load generator (issue 6, in-memory mode): simulates N TVs against one tvsignin server.
//!
//! It starts a fast scripted OpenID provider inside this process, starts the release
//! `tvsignin` binary as a separate process pointed at it, then ramps up N TVs. Each TV gets
//! its own session cookie, keeps its push stream (`GET /events`) open, starts a pairing and
//! waits for `signed-in`. The provider approves each code at a random instant and records
//! when it did and when it handed out the tokens, so push latency can be measured.
//!
//! Run with `scripts/load.sh [N]`, or:
//! `cargo run --release --features ssr --example loadgen -- --tvs 1000`
//! All traffic stays on 127.0.0.1. Everything is bounded by `--timeout-secs`.

// A command-line report: printing to stdout is the point.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

#[derive(Parser, Debug, Clone)]
#[command(about = "Simulates N TVs against one tvsignin server and prints figures")]
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
    /// The server binary.
    #[arg(long, default_value = "target/release/tvsignin")]
    server_bin: String,
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

/// Server process figures from /proc.
fn proc_rss_kb(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
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

#[derive(Default)]
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
    /// (user_code, instant the TV's stream said signed-in)
    done: Mutex<Vec<(String, Instant)>>,
    error_kinds: Mutex<HashMap<String, u64>>,
}

impl Stats {
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

/// One TV: cookie, push stream, start, then read the stream until signed-in (or the end).
async fn tv(
    idle_only: bool,
    http: reqwest::Client,
    base: Arc<String>,
    stats: Arc<Stats>,
    stop: CancellationToken,
) {
    let healthz = match http.get(format!("{base}/healthz")).send().await {
        Ok(r) => r,
        Err(e) => return stats.error(format!("healthz: {}", short(&e))),
    };
    let Some(cookie) = session_cookie(healthz.headers()) else {
        return stats.error("no session cookie");
    };
    drop(healthz);
    let mut events = match http
        .get(format!("{base}/events"))
        .header("cookie", &cookie)
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => return stats.error(format!("events status {}", r.status())),
        Err(e) => return stats.error(format!("events: {}", short(&e))),
    };
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
                    stats.error("push stream ended early");
                    break;
                }
            }
        }
        if counted {
            stats.live.fetch_sub(1, Ordering::SeqCst);
        }
        return;
    }
    let started = http
        .post(format!("{base}/api/start"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await;
    match started {
        Ok(r) if r.status().is_success() => match r.json::<Value>().await {
            Ok(v) if v["state"] == "starting" || v["state"] == "waiting" => {}
            Ok(v) => return stats.error(format!("start answered {}", v["state"])),
            Err(e) => return stats.error(format!("start body: {}", short(&e))),
        },
        Ok(r) => return stats.error(format!("start status {}", r.status())),
        Err(e) => return stats.error(format!("start: {}", short(&e))),
    }
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
                    stats.error("push stream ended early");
                }
                break;
            }
            Err(e) => {
                if !finished {
                    stats.error(format!("push stream: {}", short(&e)));
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
                stats.error("bad push data");
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
                    match &user_code {
                        Some(code) => stats.done.lock().unwrap().push((code.clone(), at)),
                        None => stats.error("signed in without a code seen"),
                    }
                }
                "idle" | "starting" | "signed-in" => {}
                other => {
                    if !finished {
                        stats.error(format!("state {other}"));
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
        stats.error("not signed in before the end");
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

async fn start_server(args: &Args, issuer: &str) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(&args.server_bin)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ISSUER", issuer)
        .env("CLIENT_ID", "loadgen")
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("PUBLIC_URL", format!("{base}/"))
        .env("PAIRING_RATE_LIMIT", "1000000")
        .env("TVSIGNIN_CONFIG", "/nonexistent")
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", args.server_bin));
    (child, base)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let run_started = Instant::now();
    let deadline = run_started + Duration::from_secs(args.timeout_secs);
    // Each TV holds one socket here (its push stream) and one in the server; both processes
    // share this limit (the server inherits it).
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
    let (provider, issuer) = start_provider(&args).await;
    let (mut child, base) = start_server(&args, &issuer).await;
    let pid = child.id().expect("server pid");
    let pid_s = pid.to_string();
    eprintln!("server pid {pid} at {base}, provider at {issuer}");

    // Wait (bounded) until the server is ready (discovery loaded).
    let probe = reqwest::Client::new();
    let ready_by = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = probe.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        if Instant::now() > ready_by {
            eprintln!("server not ready after 20 s");
            let _ = child.kill().await;
            std::process::exit(1);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = proc_rss_kb(pid).unwrap_or(0);
    let cpu_start = proc_cpu_ticks(&pid_s).unwrap_or(0);
    let self_cpu_start = proc_cpu_ticks("self").unwrap_or(0);
    let load_started = Instant::now();

    let stats = Arc::new(Stats::default());
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
    let base = Arc::new(base);

    // Sampler: server RSS and live pairings every 250 ms; polls per second.
    let sampler = {
        let stats = stats.clone();
        let provider = provider.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak_rss = 0u64;
            let mut max_fds = 0usize;
            let mut rss_at_peak_live = (0u64, 0i64);
            let mut per_sec: Vec<(u64, i64, f64)> = Vec::new();
            let began = Instant::now();
            let mut last_polls = provider.polls.load(Ordering::Relaxed);
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            let mut n = 0u64;
            while !stop.is_cancelled() {
                tick.tick().await;
                n += 1;
                let live = stats.live.load(Ordering::SeqCst);
                if let Some(rss) = proc_rss_kb(pid) {
                    peak_rss = peak_rss.max(rss);
                    if n.is_multiple_of(4) {
                        if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
                            max_fds = max_fds.max(dir.count());
                        }
                    }
                    if live > rss_at_peak_live.1
                        || (live == rss_at_peak_live.1 && rss > rss_at_peak_live.0)
                    {
                        rss_at_peak_live = (rss, live);
                    }
                }
                if n.is_multiple_of(4) {
                    let polls = provider.polls.load(Ordering::Relaxed);
                    per_sec.push((polls - last_polls, live, began.elapsed().as_secs_f64()));
                    last_polls = polls;
                }
            }
            (peak_rss, rss_at_peak_live, per_sec, max_fds)
        })
    };

    // Ramp up the TVs at a bounded rate.
    let mut tasks = Vec::with_capacity(args.tvs);
    let gap = Duration::from_secs_f64(1.0 / args.ramp.max(1) as f64);
    let mut next = Instant::now();
    for i in 0..args.tvs {
        if Instant::now() > deadline {
            break;
        }
        tokio::time::sleep_until(next.into()).await;
        next += gap;
        tasks.push(tokio::spawn(tv(
            args.idle_only,
            clients[i % clients.len()].clone(),
            base.clone(),
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
    let cpu_end = proc_cpu_ticks(&pid_s).unwrap_or(cpu_start);
    let self_cpu_end = proc_cpu_ticks("self").unwrap_or(self_cpu_start);
    let rss_end = proc_rss_kb(pid).unwrap_or(0);
    stop.cancel();
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    let (peak_rss, (rss_at_peak, peak_live_sampled), per_sec, max_fds) =
        sampler.await.unwrap_or((0, (0, 0), Vec::new(), 0));
    let _ = child.kill().await;

    // Push latency: signed-in on the TV's stream minus (a) the provider's approval instant
    // and (b) the instant the provider handed the server the tokens.
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
    let cpu_secs = (cpu_end - cpu_start) as f64 / ticks;
    let self_cpu = (self_cpu_end - self_cpu_start) as f64 / ticks;
    let per_pairing_kb = if peak_live_sampled > 0 {
        (rss_at_peak.saturating_sub(rss_idle)) as f64 / peak_live_sampled as f64
    } else {
        f64::NAN
    };
    let total_polls = provider.polls.load(Ordering::Relaxed);
    let _ = provider.started;
    let waiting_seen = stats.waiting_seen.load(Ordering::Relaxed);
    let event_bytes = if waiting_seen > 0 {
        stats.waiting_bytes.load(Ordering::Relaxed) as f64 / waiting_seen as f64
    } else {
        f64::NAN
    };

    println!("tvsignin load run (in-memory mode)");
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
    for (kind, n) in stats.error_kinds.lock().unwrap().iter() {
        println!("    {n:>6} x {kind}");
    }
    println!("  server RSS idle                  {} KB", rss_idle);
    println!(
        "  server RSS at peak pairings      {} KB ({} live pairings sampled)",
        rss_at_peak, peak_live_sampled
    );
    println!("  server open fds, max             {max_fds}");
    println!(
        "  server RSS max / at end          {} KB / {} KB",
        peak_rss, rss_end
    );
    println!(
        "  server RSS per live pairing      {:.1} KB",
        per_pairing_kb
    );
    println!(
        "  server CPU                       {:.2} s over {:.1} s = {:.1} % of one core",
        cpu_secs,
        load_secs,
        100.0 * cpu_secs / load_secs
    );
    println!(
        "  loadgen CPU (same machine)       {:.2} s = {:.1} % of one core",
        self_cpu,
        100.0 * self_cpu / load_secs
    );
    println!(
        "  provider polls/s at plateau      {:.1} measured vs {:.1} expected (peak/interval) over {} s; max 1 s: {}",
        plateau_rate,
        peak as f64 / args.interval as f64,
        plateau.len(),
        max_rate
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
