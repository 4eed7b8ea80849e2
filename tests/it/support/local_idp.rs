//! The real local OpenID provider (npm `oidc-provider`, started from `end2end/idp/server.mjs`
//! on a free loopback port), its scripted phone (`end2end/idp/phone.mjs`), its users and
//! clients, and its test hooks.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::repo_root;

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

/// A user of the local provider.
pub const ALICE: (&str, &str) = ("alice", "wonderland");

/// The local provider's clients: (client_id, secret, method).
pub const PUBLIC_CLIENT: (&str, Option<&str>, &str) = ("tv-public", None, "none");
pub const BASIC_CLIENT: (&str, Option<&str>, &str) =
    ("tv-basic", Some("basic-secret"), "client_secret_basic");
pub const POST_CLIENT: (&str, Option<&str>, &str) =
    ("tv-post", Some("post-secret"), "client_secret_post");

/// A test hook of the local provider: the JSON that `GET <issuer><path>` answers.
async fn hook(issuer: &str, path: &str) -> Value {
    reqwest::get(format!("{issuer}{path}"))
        .await
        .unwrap_or_else(|e| panic!("test hook {path}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("test hook {path} JSON: {e}"))
}

/// One string field of a test hook's answer.
pub async fn provider_hook(issuer: &str, path: &str, field: &str) -> String {
    let body = hook(issuer, path).await;
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{path}: no {field} in {body}"))
        .to_owned()
}

/// One count from the local provider's `/__test/stats`.
pub async fn provider_stat(issuer: &str, name: &str) -> u64 {
    let body = hook(issuer, "/__test/stats").await;
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

/// The local provider's userinfo answer (`/me`) for an access token: 200 and the claims
/// while the token works, 401 once it is revoked.
pub async fn userinfo(issuer: &str, access_token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{issuer}/me"))
        .bearer_auth(access_token)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("userinfo request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
