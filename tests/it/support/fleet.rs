//! Fleet mode: replicas of the real `tvsignin` binary sharing one Redis (see `redis`), each
//! on its own loopback port, with the `STORE_KEY` they share, and searches for secrets in
//! clear in what Redis holds. Every replica is killed when its handle is dropped.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use base64::Engine;
use tokio::process::{Child, Command};

use super::free_port;
use super::process::{binary, log_file, tail};
use super::redis::Redis;
use super::tv::Tv;

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
    /// Further settings every replica gets.
    pub more: Vec<(&'static str, String)>,
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
            more: Vec::new(),
        }
    }
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
            for (key, value) in &fleet.more {
                command.env(key, value);
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
