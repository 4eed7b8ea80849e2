//! A `redis-server` of the test's own on a free loopback port (over TLS too, with test
//! certificates), with redis-cli to read what it holds and to record what it is sent. Every
//! child process is killed when its handle is dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use super::free_port;
use super::process::{installed, log_file, tail};

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
