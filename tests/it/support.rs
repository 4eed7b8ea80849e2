//! Shared by the integration tests: the real local OpenID provider (npm `oidc-provider`,
//! started from `end2end/idp/server.mjs` on a free loopback port) and its scripted phone; a
//! scripted provider for the quirks of others (`scripted`).

#![allow(dead_code)]

pub mod demo_app;
#[cfg(feature = "ssr")]
pub mod fleet;
#[cfg(feature = "ssr")]
pub mod scripted;
pub mod tv;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running local provider; stopped when dropped.
pub struct LocalIdp {
    pub issuer: String,
    child: Child,
}

impl LocalIdp {
    /// Starts the provider with extra environment (e.g. `IDP_DEVICE_CODE_TTL`, `IDP_INTERVAL`,
    /// `IDP_SLOW_DOWN`), and waits for its ready line (10 s at most).
    pub async fn start(env: &[(&str, &str)]) -> Self {
        let root = repo_root();
        assert!(
            root.join("end2end/node_modules/oidc-provider").exists(),
            "end2end/node_modules is missing: run `npm ci` in end2end/ (scripts/setup.sh test does)"
        );
        let mut command = Command::new("node");
        command
            .arg(root.join("end2end/idp/server.mjs"))
            .env("IDP_PORT", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .spawn()
            .expect("cannot start node end2end/idp/server.mjs");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("the local provider did not start within 10 s")
            .expect("reading the ready line")
            .expect("the local provider exited before it was ready");
        let ready: serde_json::Value = serde_json::from_str(&line).expect("ready line is JSON");
        let issuer = ready["issuer"]
            .as_str()
            .expect("issuer in ready line")
            .to_owned();
        assert!(
            issuer.starts_with("http://127.0.0.1:"),
            "provider must be on loopback: {issuer}"
        );
        Self { issuer, child }
    }

    /// Stops the provider now (e.g. to test an unreachable provider).
    pub async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// An empty working directory of its own for each test, under this test binary's name.
pub fn work_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(env!("CARGO_CRATE_NAME"))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test's working directory");
    dir
}

/// What the scripted phone should do on the consent page.
#[derive(Clone, Copy, Debug)]
pub enum PhoneAction {
    Allow,
    Deny,
}

/// Runs `end2end/idp/phone.mjs`: opens `uri` (complete or plain), enters `user_code` if
/// asked, signs in as `user` and allows or denies. Returns (exit code, output).
pub async fn phone(
    uri: &str,
    user_code: &str,
    user: &str,
    password: &str,
    action: PhoneAction,
) -> (i32, String) {
    let action = match action {
        PhoneAction::Allow => "allow",
        PhoneAction::Deny => "deny",
    };
    let output = tokio::time::timeout(
        Duration::from_secs(20),
        Command::new("node")
            .arg(repo_root().join("end2end/idp/phone.mjs"))
            .args([uri, user_code, user, password, action])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("phone.mjs took longer than 20 s")
    .expect("cannot run node end2end/idp/phone.mjs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

/// The well-known test users of the local provider.
pub const ALICE: (&str, &str) = ("alice", "wonderland");
pub const BOB: (&str, &str) = ("bob", "builder");

/// The local provider's clients: (client_id, secret, method).
pub const PUBLIC_CLIENT: (&str, Option<&str>, &str) = ("tv-public", None, "none");
pub const BASIC_CLIENT: (&str, Option<&str>, &str) =
    ("tv-basic", Some("basic-secret"), "client_secret_basic");
pub const POST_CLIENT: (&str, Option<&str>, &str) =
    ("tv-post", Some("post-secret"), "client_secret_post");

/// A test hook of the local provider: `GET <issuer><path>`, one string field of its JSON.
pub async fn provider_hook(issuer: &str, path: &str, field: &str) -> String {
    let body: serde_json::Value = reqwest::get(format!("{issuer}{path}"))
        .await
        .expect("test hook")
        .json()
        .await
        .expect("test hook JSON");
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{path}: no {field} in {body}"))
        .to_owned()
}
