//! No secret reaches the logs (issue 7): the real binary, logging everything (`RUST_LOG=trace`),
//! signs a TV in against the real local provider with a confidential client, and its whole
//! output is searched for the user code, the device code, the access token and the client
//! secret (the user code since issue 13). The password-login tool is checked the same way for
//! the user's password.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::support::local_idp::{phone, provider_hook, LocalIdp, PhoneAction, ALICE, BASIC_CLIENT};
use crate::support::process::Run;
use crate::support::tv::{user_code, Tv};
use crate::support::{free_port, within, work_dir};

/// The binary, everything logged, in an empty working directory of the test's own (no
/// Leptos.toml or .env can leak in).
fn binary(dir: &Path) -> Command {
    let mut command = crate::support::process::binary(dir);
    command.env("RUST_LOG", "trace");
    command
}

/// Reads a pipe to its end into a shared buffer.
fn collect(
    mut pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    into: Arc<Mutex<Vec<u8>>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match pipe.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => into.lock().unwrap().extend_from_slice(&buffer[..n]),
            }
        }
    })
}

/// The running server with its output captured.
struct Server {
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Server {
    fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tvsignin");
        let output = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stdout.take().expect("stdout"), output.clone()),
            collect(child.stderr.take().expect("stderr"), output.clone()),
        ];
        Self {
            child,
            output,
            readers,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// SIGTERM (a graceful shutdown logs too), then everything it wrote.
    async fn stop(mut self) -> String {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
        self.text()
    }
}

/// Where `secret` shows up in `log`, as a few lines of context (empty: nowhere).
fn leaks(log: &str, secret: &str) -> Vec<String> {
    log.lines()
        .filter(|line| line.contains(secret))
        .take(3)
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_whole_sign_in_logged_at_trace_leaks_no_secret() {
    within(90, async {
        let idp = LocalIdp::start(&[("IDP_INTERVAL", "1")]).await;
        let (client_id, secret, method) = BASIC_CLIENT;
        let client_secret = secret.expect("a confidential client");
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");

        let dir = work_dir(module_path!(), "sign_in");
        let mut command = binary(&dir);
        command
            .env("ISSUER", &idp.issuer)
            .env("CLIENT_ID", client_id)
            .env("CLIENT_SECRET", client_secret)
            .env("CLIENT_AUTH_METHOD", method)
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"));
        let server = Server::spawn(command);

        let tv = Tv::new(&base);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !tv.is_up().await {
            assert!(
                Instant::now() < deadline,
                "the server did not start:\n{}",
                server.text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        tv.open_page().await;
        tv.call("start").await;
        let waiting = tv.wait_for("waiting", Duration::from_secs(20)).await;
        let user_code = user_code(&waiting);
        let uri = waiting["pairing"]["verification_uri_complete"]
            .as_str()
            .expect("verification_uri_complete")
            .to_owned();
        let (user, password) = ALICE;
        let (code, said) = phone(&uri, &user_code, user, password, PhoneAction::Allow).await;
        assert_eq!(code, 0, "phone: {said}");
        let signed_in = tv.wait_for("signed-in", Duration::from_secs(20)).await;
        assert_eq!(signed_in["profile"]["display_name"], "Alice Liddell");
        assert_eq!(tv.call("sign_out").await["state"], "idle");

        let device_code = provider_hook(
            &idp.issuer,
            &format!("/__test/device-code?user_code={user_code}"),
            "device_code",
        )
        .await;
        let access_token = provider_hook(
            &idp.issuer,
            "/__test/last-access-token?sub=alice",
            "access_token",
        )
        .await;
        // The refresh token and the ID token: the local provider has no hook that tells them.
        let log = server.stop().await;
        // Kept for reading when this fails (target/tmp/no_secrets_in_logs/sign_in/).
        let _ = std::fs::write(dir.join("server.log"), &log);

        // The log is real: trace and debug lines, and the sign-in it describes.
        assert!(
            log.lines().any(|l| l.contains(" TRACE ")),
            "no trace lines in the log:\n{log}"
        );
        assert!(
            log.lines().any(|l| l.contains(" DEBUG ")),
            "no debug lines in the log:\n{log}"
        );
        assert!(
            log.contains("pairing started") && log.contains("signed in"),
            "{log}"
        );
        // The user code is a secret while it is valid (whoever types it first signs the TV
        // in): the log names the pairing by a tag instead.
        let started = log
            .lines()
            .find(|l| l.contains("pairing started"))
            .unwrap_or_default();
        assert!(
            started.contains("code_tag="),
            "the pairing has no tag: {started}"
        );
        let found = leaks(&log, &user_code);
        assert!(
            found.is_empty(),
            "the user code is in the log:\n{}",
            found.join("\n")
        );
        eprintln!(
            "searched {} lines ({} bytes) of log output",
            log.lines().count(),
            log.len()
        );

        let basic = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{client_secret}"))
        };
        for (name, value) in [
            ("device code", device_code.as_str()),
            ("access token", access_token.as_str()),
            ("client secret", client_secret),
            ("Basic authorization", basic.as_str()),
        ] {
            assert!(
                value.len() >= 8,
                "{name} is too short to search for: {value:?}"
            );
            let found = leaks(&log, value);
            assert!(
                found.is_empty(),
                "the {name} is in the log:\n{}",
                found.join("\n")
            );
        }
    })
    .await;
}

#[tokio::test]
async fn password_login_logged_at_trace_never_shows_the_password() {
    within(60, async {
        let idp = LocalIdp::start(&[]).await;
        let (client_id, secret, method) = BASIC_CLIENT;
        let client_secret = secret.expect("a confidential client");
        let (user, password) = ALICE;
        let wrong = "Wr0ng-passw0rd-7c1e";

        for (name, attempt) in [("right", password), ("wrong", wrong)] {
            let mut command = binary(&work_dir(module_path!(), &format!("password_{name}")));
            command
                .arg("password-login")
                .env("ISSUER", &idp.issuer)
                .env("CLIENT_ID", client_id)
                .env("CLIENT_SECRET", client_secret)
                .env("CLIENT_AUTH_METHOD", method)
                .env("TEST_USERNAME", user)
                .env("TEST_PASSWORD", attempt);
            let run = Run::to_end(command, None, Duration::from_secs(30)).await;
            let (stdout, stderr) = (&run.stdout, &run.stderr);
            let all = run.all();
            let show = run.show();
            if name == "right" {
                assert_eq!(run.code, Some(0), "{show}");
                assert!(stdout.contains("Signed in as Alice Liddell"), "{show}");
                // Alice's tenant claim is `wonderland-tenant`: that is the only place her
                // password's letters may show.
                assert_eq!(
                    all.matches(attempt).count(),
                    all.matches("wonderland-tenant").count(),
                    "the password is in the output:\n{show}"
                );
            } else {
                assert_eq!(run.code, Some(1), "{show}");
                assert!(stderr.contains("invalid_grant"), "{show}");
                assert!(
                    !all.contains(attempt),
                    "the password is in the output:\n{show}"
                );
            }
            assert!(
                !all.contains(client_secret),
                "the client secret is in the output:\n{show}"
            );
        }
    })
    .await;
}
