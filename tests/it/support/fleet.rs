//! Fleet-mode test fixtures: a real `redis-server` of the test's own, replicas of the real
//! `tvsignin` binary sharing it, a reader for the TV's push stream, and searches of what
//! Redis holds. Every child process is killed when its handle is dropped.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;
use tokio::process::{Child, Command};

use super::tv::Tv;

const BIN: &str = env!("CARGO_BIN_EXE_tvsignin");

/// A loopback port that nothing listens on (right now).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A fresh `STORE_KEY`: 32 random bytes, standard base64.
pub fn store_key() -> String {
    let mut bytes = [0u8; 32];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").expect("open /dev/urandom"),
        &mut bytes,
    )
    .expect("read /dev/urandom");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The last `lines` lines of a file (for failure reports).
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A file that a child's stdout and stderr both append to.
fn log_file(path: &Path) -> (Stdio, Stdio) {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    let second = file.try_clone().expect("clone the log file handle");
    (Stdio::from(file), Stdio::from(second))
}

fn installed(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

// ---------------------------------------------------------------------------------------------
// Redis.

/// A `redis-server` of the test's own on a free loopback port, nothing saved to disk.
pub struct Redis {
    /// `redis://127.0.0.1:<port>/` (`rediss://` over TLS), for `REDIS_URL`.
    pub url: String,
    /// Over TLS: the CA file that signed the server's certificate, for `REDIS_CA_FILE`.
    pub ca_file: Option<PathBuf>,
    /// What redis-cli needs to reach this server: port, and TLS options.
    cli_args: Vec<String>,
    child: Child,
    log: PathBuf,
}

/// A test CA and a certificate it signed for 127.0.0.1 and localhost, as PEM files.
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Makes a new CA (named `name`) and server certificate, written into `dir`.
    pub fn generate(dir: &Path, name: &str) -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
            .expect("CA certificate");
        let key = KeyPair::generate().expect("server key");
        let cert = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("server params")
            .signed_by(&key, &ca)
            .expect("server certificate");
        let files = Self {
            ca: dir.join(format!("{name}-ca.pem")),
            cert: dir.join(format!("{name}-cert.pem")),
            key: dir.join(format!("{name}-key.pem")),
        };
        std::fs::write(&files.ca, ca.as_ref().pem()).expect("write the CA");
        std::fs::write(&files.cert, cert.pem()).expect("write the certificate");
        std::fs::write(&files.key, key.serialize_pem()).expect("write the key");
        files
    }
}

/// One key as Redis holds it.
#[derive(Clone, Debug)]
pub struct StoredKey {
    pub name: String,
    /// `string`, `hash`, `list`, `set`, `zset`, `stream`, ...
    pub kind: String,
    /// Milliseconds to live; -1 when the key never expires.
    pub pttl: i64,
    /// Everything it holds (fields and values, members, scores), as redis-cli prints it.
    pub contents: Vec<u8>,
}

impl Redis {
    /// Starts `redis-server` in `dir` and waits until it answers PING (10 s at most).
    pub async fn start(dir: &Path) -> Self {
        Self::start_with(dir, None).await
    }

    /// Starts `redis-server` in `dir` that speaks only TLS, with `tls`'s certificate.
    pub async fn start_tls(dir: &Path, tls: &TlsFiles) -> Self {
        Self::start_with(dir, Some(tls)).await
    }

    async fn start_with(dir: &Path, tls: Option<&TlsFiles>) -> Self {
        assert!(
            installed("redis-server") && installed("redis-cli"),
            "redis-server and redis-cli are needed: `scripts/setup.sh test` installs them"
        );
        let log = dir.join("redis.log");
        for _attempt in 0..3 {
            let port = free_port();
            let (stdout, stderr) = log_file(&log);
            let mut command = Command::new("redis-server");
            command.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
            let mut cli_args = vec!["-p".to_owned(), port.to_string()];
            match tls {
                None => {
                    command.args(["--port", &port.to_string()]);
                }
                Some(tls) => {
                    command
                        .args(["--port", "0", "--tls-port", &port.to_string()])
                        .args(["--tls-auth-clients", "no"])
                        .arg("--tls-cert-file")
                        .arg(&tls.cert)
                        .arg("--tls-key-file")
                        .arg(&tls.key)
                        .arg("--tls-ca-cert-file")
                        .arg(&tls.ca);
                    cli_args.extend(["--tls".to_owned(), "--cacert".to_owned()]);
                    cli_args.push(tls.ca.to_string_lossy().into_owned());
                }
            }
            let mut child = command
                .arg("--dir")
                .arg(dir)
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(stderr)
                .kill_on_drop(true)
                .spawn()
                .expect("start redis-server");
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut exited = false;
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    // Most likely the port was taken in the meantime: try another.
                    exited = true;
                    break;
                }
                let pong = cli_output(&cli_args, &["PING"]).await;
                if pong.as_deref().map(<[u8]>::trim_ascii) == Some(b"PONG".as_slice()) {
                    let scheme = if tls.is_some() { "rediss" } else { "redis" };
                    return Self {
                        url: format!("{scheme}://127.0.0.1:{port}/"),
                        ca_file: tls.map(|t| t.ca.clone()),
                        cli_args,
                        child,
                        log,
                    };
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(
                exited,
                "redis-server did not answer PING within 10 s:\n{}",
                tail(&log, 20)
            );
        }
        panic!("redis-server would not start:\n{}", tail(&log, 20));
    }

    /// Runs one redis-cli command and returns its raw output (panics if redis-cli fails).
    pub async fn cli(&self, args: &[&str]) -> Vec<u8> {
        cli_output(&self.cli_args, args)
            .await
            .unwrap_or_else(|| panic!("redis-cli {args:?} failed"))
    }

    /// One redis-cli command's output as trimmed text.
    pub async fn cli_text(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(self.cli(args).await.trim_ascii()).into_owned()
    }

    /// Every key's name (SCAN, so no server is blocked).
    pub async fn keys(&self) -> Vec<String> {
        let out = self.cli(&["--scan"]).await;
        let mut keys: Vec<String> = String::from_utf8_lossy(&out)
            .lines()
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Every key with its type, time to live and contents.
    pub async fn dump(&self) -> Vec<StoredKey> {
        let mut stored = Vec::new();
        for name in self.keys().await {
            let kind = self.cli_text(&["TYPE", &name]).await;
            let read: Vec<&str> = match kind.as_str() {
                "none" => continue, // gone since the scan
                "string" => vec!["GET", &name],
                "hash" => vec!["HGETALL", &name],
                "list" => vec!["LRANGE", &name, "0", "-1"],
                "set" => vec!["SMEMBERS", &name],
                "zset" => vec!["ZRANGE", &name, "0", "-1", "WITHSCORES"],
                "stream" => vec!["XRANGE", &name, "-", "+"],
                _ => vec!["DUMP", &name],
            };
            let contents = self.cli(&read).await;
            let pttl_text = self.cli_text(&["PTTL", &name]).await;
            let pttl = pttl_text
                .parse::<i64>()
                .unwrap_or_else(|_| panic!("PTTL {name}: {pttl_text:?}"));
            if pttl == -2 {
                continue; // expired since the scan
            }
            stored.push(StoredKey {
                name,
                kind,
                pttl,
                contents,
            });
        }
        stored
    }

    /// Starts recording every command Redis receives (MONITOR), into `path`.
    pub async fn monitor(&self, path: &Path) -> Monitor {
        let (stdout, stderr) = log_file(path);
        let child = Command::new("redis-cli")
            .args(&self.cli_args)
            .arg("MONITOR")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .expect("start redis-cli MONITOR");
        // MONITOR answers OK first: wait for it, so nothing is missed.
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read(path).unwrap_or_default().is_empty() {
            assert!(Instant::now() < deadline, "redis-cli MONITOR did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Monitor {
            child,
            path: path.to_owned(),
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- redis-server log (tail)\n{}", tail(&self.log, 10));
        }
        let _ = self.child.start_kill();
    }
}

/// A running `redis-cli MONITOR`.
pub struct Monitor {
    child: Child,
    path: PathBuf,
}

impl Monitor {
    /// Stops recording; returns every command seen, one per line.
    pub async fn stop(mut self) -> Vec<u8> {
        // Let the last replies arrive.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        std::fs::read(&self.path).expect("read the MONITOR record")
    }
}

/// `redis-cli <how to reach the server> <args>`: its stdout, or None if it could not run or
/// failed.
async fn cli_output(cli_args: &[String], args: &[&str]) -> Option<Vec<u8>> {
    let output = tokio::time::timeout(
        Duration::from_secs(10),
        Command::new("redis-cli")
            .args(cli_args)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .ok()?
    .ok()?;
    output.status.success().then_some(output.stdout)
}

// ---------------------------------------------------------------------------------------------
// Secrets.

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn is_base64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'=')
}

/// Whether `secret` is in `haystack` in clear text: as it is, or inside a run of base64
/// (standard or URL-safe; base64 is an encoding, not a protection).
pub fn holds_in_clear(haystack: &[u8], secret: &str) -> bool {
    let needle = secret.as_bytes();
    if contains(haystack, needle) {
        return true;
    }
    haystack
        .split(|b| !is_base64_byte(*b))
        .filter(|run| run.len() >= 16)
        .any(|run| {
            let mut text: Vec<u8> = run
                .iter()
                .filter(|b| **b != b'=')
                .map(|b| match b {
                    b'-' => b'+',
                    b'_' => b'/',
                    other => *other,
                })
                .collect();
            text.truncate(text.len() - text.len() % 4);
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(&text)
                .is_ok_and(|decoded| contains(&decoded, needle))
        })
}

/// One count from the local provider's `/__test/stats`.
pub async fn provider_stat(issuer: &str, name: &str) -> u64 {
    let body: Value = reqwest::get(format!("{issuer}/__test/stats"))
        .await
        .expect("/__test/stats")
        .json()
        .await
        .expect("/__test/stats JSON");
    body[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

/// How many `slow_down` answers the local provider gave (it runs with `IDP_SLOW_DOWN=1`):
/// each is a device code polled sooner than the interval after its previous poll.
pub async fn slow_downs(issuer: &str) -> u64 {
    provider_stat(issuer, "slow_downs").await
}

/// How many polls reached the local provider while another poll of the same device code was
/// still being answered there.
pub async fn overlapping_polls(issuer: &str) -> u64 {
    provider_stat(issuer, "overlapping_polls").await
}

// ---------------------------------------------------------------------------------------------
// Replicas.

/// What every replica of one fleet shares.
#[derive(Clone, Debug)]
pub struct FleetSettings {
    pub issuer: String,
    pub redis_url: String,
    /// `REDIS_CA_FILE`, when Redis speaks TLS.
    pub redis_ca_file: Option<PathBuf>,
    pub store_key: String,
    /// `STORE_KEY_PREVIOUS`, when a key is being rotated.
    pub store_key_previous: Option<String>,
    /// Where the replicas run and write their logs.
    pub dir: PathBuf,
    /// `HTTP_TIMEOUT_SECS`: the provider request timeout, which the lease outlasts.
    pub http_timeout_secs: u64,
}

impl FleetSettings {
    /// How long a replica's lease lasts with these settings: the request timeout plus 5 s
    /// (a 2 s margin past the timeout, and 3 s of renewals).
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.http_timeout_secs + 5)
    }
}

impl FleetSettings {
    pub fn new(issuer: &str, redis: &Redis, dir: &Path) -> Self {
        Self {
            issuer: issuer.to_owned(),
            redis_url: redis.url.clone(),
            redis_ca_file: redis.ca_file.clone(),
            store_key: store_key(),
            store_key_previous: None,
            dir: dir.to_owned(),
            // Short, so a lease (and a take-over after a crash) is short too.
            http_timeout_secs: 3,
        }
    }
}

/// The `tvsignin` binary with a clean environment (PATH only) and no settings file.
pub fn binary(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TVSIGNIN_CONFIG", "/nonexistent/Leptos.toml")
        .env("LEPTOS_SITE_ROOT", dir.join("no-site"))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// One replica of the app: the real binary as a child process on its own loopback port.
pub struct Replica {
    pub name: String,
    pub base: String,
    child: Child,
    log: PathBuf,
    http: reqwest::Client,
}

impl Replica {
    /// Starts replica `name` of `fleet` and waits until it answers `/healthz` and its
    /// provider is ready (`/readyz`), 30 s at most. Its output goes to `<dir>/<name>.log`.
    pub async fn start(name: &str, fleet: &FleetSettings) -> Self {
        let log = fleet.dir.join(format!("{name}.log"));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        for _attempt in 0..3 {
            let port = free_port();
            let base = format!("http://127.0.0.1:{port}");
            let (stdout, stderr) = log_file(&log);
            let mut command = binary(&fleet.dir);
            if let Some(ca) = &fleet.redis_ca_file {
                command.env("REDIS_CA_FILE", ca);
            }
            if let Some(previous) = &fleet.store_key_previous {
                command.env("STORE_KEY_PREVIOUS", previous);
            }
            let child = command
                .env("ISSUER", &fleet.issuer)
                .env("CLIENT_ID", "tv-public")
                .env("PUBLIC_URL", &base)
                .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
                .env("REDIS_URL", &fleet.redis_url)
                .env("STORE_KEY", &fleet.store_key)
                .env("HTTP_TIMEOUT_SECS", fleet.http_timeout_secs.to_string())
                .env("RUST_LOG", "info")
                .stdout(stdout)
                .stderr(stderr)
                .spawn()
                .expect("start tvsignin");
            let mut replica = Self {
                name: name.to_owned(),
                base,
                child,
                log: log.clone(),
                http: http.clone(),
            };
            if replica.wait_ready().await {
                return replica;
            }
            // It stopped: most likely its port was taken in the meantime. Try another.
            eprintln!("replica {name} stopped while starting; retrying on another port");
        }
        panic!("replica {name} would not start:\n{}", tail(&log, 30));
    }

    /// Waits for `/healthz`, then for `/readyz`; false if the process stopped first.
    async fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        for path in ["healthz", "readyz"] {
            loop {
                if self.child.try_wait().ok().flatten().is_some() {
                    return false;
                }
                let answer = self.http.get(format!("{}/{path}", self.base)).send().await;
                if answer.is_ok_and(|r| r.status().is_success()) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "replica {} did not answer /{path} within 30 s:\n{}",
                    self.name,
                    self.log()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        true
    }

    /// A TV (new session) talking to this replica.
    pub fn tv(&self) -> Tv {
        Tv::new(&self.base)
    }

    /// Everything the replica wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET /metrics`.
    pub async fn metrics(&self) -> String {
        let response = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /metrics on replica {}: {e}", self.name));
        assert!(
            response.status().is_success(),
            "GET /metrics on replica {}: {}",
            self.name,
            response.status()
        );
        response.text().await.expect("metrics text")
    }

    /// Token-endpoint polls this replica made (`tvsignin_token_polls_total`, all labels).
    pub async fn polls(&self) -> u64 {
        metric_sum(&self.metrics().await, "tvsignin_token_polls_total") as u64
    }

    /// Waits until this replica has made at least `at_least` polls; panics after `limit`.
    pub async fn wait_for_polls(&self, at_least: u64, limit: Duration) -> u64 {
        let deadline = Instant::now() + limit;
        loop {
            let polls = self.polls().await;
            if polls >= at_least {
                return polls;
            }
            assert!(
                Instant::now() < deadline,
                "replica {} made {polls} polls, not {at_least}, within {limit:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: the replica dies at once, with no chance to clean up.
    pub async fn kill(&mut self) {
        self.child.start_kill().expect("SIGKILL the replica");
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("a killed replica is gone within 10 s")
            .expect("wait for the replica");
    }

    /// SIGTERM, then waits for the replica to stop by itself (15 s at most).
    pub async fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().expect("the replica is running");
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid}");
        tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "replica {} did not stop within 15 s of SIGTERM:\n{}",
                    self.name,
                    tail(&self.log, 30)
                )
            })
            .expect("wait for the replica")
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- replica {} at {} (log tail)\n{}",
                self.name,
                self.base,
                tail(&self.log, 40)
            );
        }
        let _ = self.child.start_kill();
    }
}

/// The sum of every sample of metric `name` (any labels) in Prometheus text.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            if !(rest.starts_with('{') || rest.starts_with(' ')) {
                return None;
            }
            line.rsplit(' ').next()?.parse::<f64>().ok()
        })
        .sum()
}

// ---------------------------------------------------------------------------------------------
// The push stream.

/// A TV's open push stream (`GET /events`), read event by event. Like the TV page, it opens
/// the stream again under the TV's new cookie when the stream ends with `rotated` (the
/// session moved to a new id: Sign in, New code, Sign out).
pub struct Events {
    /// Which server it is open on (for messages).
    pub base: String,
    /// The same TV (its cookie in common), to open the stream again.
    tv: Tv,
    limit: Duration,
    /// The cookie the stream was opened with.
    opened_with: Option<String>,
    response: reqwest::Response,
    buffer: Vec<u8>,
    ended: bool,
    /// Every status received so far, in order.
    pub seen: Vec<Value>,
    /// How many times the stream ended with `rotated` and was opened again.
    pub reopened: usize,
}

/// One event off the stream.
enum Pushed {
    Status(Value),
    Rotated,
}

impl Events {
    /// Opens the TV's push stream on its server; it stays open for at most `limit`.
    pub async fn open(tv: &Tv, limit: Duration) -> Self {
        let tv = tv.on(tv.base());
        let opened_with = tv.cookie();
        let response = Self::request(&tv, limit).await;
        Self {
            base: tv.base().to_owned(),
            tv,
            limit,
            opened_with,
            response,
            buffer: Vec::new(),
            ended: false,
            seen: Vec::new(),
            reopened: 0,
        }
    }

    async fn request(tv: &Tv, limit: Duration) -> reqwest::Response {
        let response = tv.open_events(limit).await;
        assert_eq!(response.status(), 200, "GET /events on {}", tv.base());
        let kind = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(kind.starts_with("text/event-stream"), "/events is {kind:?}");
        response
    }

    /// After `rotated`: waits (5 s at most) for the action's answer to bring the TV its new
    /// cookie, as the page waits for its action to finish, then opens the stream again.
    async fn reopen(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.tv.cookie() == self.opened_with && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.opened_with = self.tv.cookie();
        self.response = Self::request(&self.tv, self.limit).await;
        self.buffer.clear();
        self.ended = false;
        self.reopened += 1;
    }

    /// The next `status` event, or None if none comes within `within` or the stream ends.
    pub async fn next(&mut self, within: Duration) -> Option<Value> {
        let deadline = Instant::now() + within;
        loop {
            match self.take_event() {
                Some(Pushed::Status(status)) => {
                    self.seen.push(status.clone());
                    return Some(status);
                }
                Some(Pushed::Rotated) => {
                    self.reopen().await;
                    continue;
                }
                None => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if self.ended || left.is_zero() {
                return None;
            }
            match tokio::time::timeout(left, self.response.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(bytes))) => self.buffer.extend_from_slice(&bytes),
                Ok(Ok(None) | Err(_)) => self.ended = true,
            }
        }
    }

    /// Reads statuses until one is `state`; panics after `limit`, naming what it saw.
    pub async fn wait_for(&mut self, state: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(status) if status["state"] == state => return status,
                Some(_) => {}
                None => panic!(
                    "no {state:?} on the push stream from {} within {limit:?} (stream {}); \
                     seen: {:?}",
                    self.base,
                    if self.ended { "ended" } else { "open" },
                    self.states()
                ),
            }
        }
    }

    /// The states seen so far, in order.
    pub fn states(&self) -> Vec<String> {
        self.seen
            .iter()
            .map(|s| s["state"].as_str().unwrap_or("?").to_owned())
            .collect()
    }

    /// Takes one complete `status` or `rotated` event off the buffer, skipping comments
    /// (keep-alives) and other events.
    fn take_event(&mut self) -> Option<Pushed> {
        loop {
            let end = self.buffer.windows(2).position(|w| w == b"\n\n")?;
            let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&block);
            let mut event = "message";
            let mut data = Vec::new();
            for line in text.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.strip_prefix(' ').unwrap_or(value));
                }
            }
            if event == "rotated" {
                return Some(Pushed::Rotated);
            }
            if event == "status" && !data.is_empty() {
                let json = data.join("\n");
                return Some(Pushed::Status(serde_json::from_str(&json).unwrap_or_else(
                    |e| panic!("status event is not JSON ({e}): {json}"),
                )));
            }
        }
    }
}
