//! `tvsignin password-login` (issue 5), run as the built binary against the real local OpenID
//! provider (end2end/idp), and against a scripted provider for what other providers do
//! (issue 13: refusals without a body, plain http). Every run gets a clean environment and an
//! empty working directory, so no Leptos.toml, .env or developer setting leaks in.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::local_idp::{
    provider_hook, userinfo, LocalIdp, ALICE, BASIC_CLIENT, POST_CLIENT, PUBLIC_CLIENT,
};
use crate::support::process::{binary, Run, BIN};
use crate::support::scripted::{Reply, Scripted, DISCOVERY, TOKEN, USERINFO};
use crate::support::work_dir;

/// No single run may take longer than this (the provider answers in milliseconds).
const RUN_LIMIT: Duration = Duration::from_secs(30);
const BAD_CREDENTIALS: &str = "invalid_grant: The user name or password is invalid.";

/// Settings for one of the local provider's clients.
fn client_env(issuer: &str, client: (&str, Option<&str>, &str)) -> Vec<(String, String)> {
    let (id, secret, method) = client;
    let mut env = vec![
        ("ISSUER".to_owned(), issuer.to_owned()),
        ("CLIENT_ID".to_owned(), id.to_owned()),
        ("CLIENT_AUTH_METHOD".to_owned(), method.to_owned()),
    ];
    if let Some(secret) = secret {
        env.push(("CLIENT_SECRET".to_owned(), secret.to_owned()));
    }
    env
}

fn with(mut env: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    env
}

/// Runs `tvsignin password-login ARGS` with `env` and nothing inherited (see `binary`) in an
/// empty directory. `stdin`: `None` = no input at all; `Some(text)` = that text, then end of input.
async fn run(test: &str, env: &[(String, String)], args: &[&str], stdin: Option<&str>) -> Run {
    let dir = work_dir(module_path!(), test);
    let mut command = binary(&dir);
    command
        .arg("--config")
        .arg(dir.join("absent-Leptos.toml"))
        .arg("password-login")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    Run::to_end(command, stdin, RUN_LIMIT).await
}

/// The table row whose first cell is `claim`, as its cells.
fn row(stdout: &str, claim: &str) -> Option<Vec<String>> {
    stdout.lines().find_map(|line| {
        let cells: Vec<String> = line
            .split(['│', '┆', '|'])
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect();
        (cells.first().map(String::as_str) == Some(claim)).then_some(cells)
    })
}

/// Checks a successful text-mode sign-in as Alice.
fn assert_alice_table(run: &Run) {
    assert_eq!(run.code, Some(0), "{}", run.show());
    let first = run.stdout.lines().next().unwrap_or_default();
    assert_eq!(first, "Signed in as Alice Liddell", "{}", run.show());
    assert_eq!(
        row(&run.stdout, "ext.tenantId"),
        Some(vec!["ext.tenantId".into(), "wonderland-tenant".into()]),
        "{}",
        run.show()
    );
    assert_eq!(
        row(&run.stdout, "email"),
        Some(vec!["email".into(), "alice@example.test".into()]),
        "{}",
        run.show()
    );
    assert_eq!(
        row(&run.stdout, "sub"),
        Some(vec!["sub".into(), "alice".into()]),
        "{}",
        run.show()
    );
    // Aligned: every line of the table is equally wide, and the column rule is in one place.
    let table: Vec<&str> = run
        .stdout
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(table.len() >= 10, "{}", run.show());
    let widths: Vec<usize> = table.iter().map(|l| l.chars().count()).collect();
    assert!(
        widths.iter().all(|w| *w == widths[0]),
        "ragged table: {widths:?}\n{}",
        run.show()
    );
    let rule: Vec<Option<usize>> = table
        .iter()
        .map(|l| l.chars().position(|c| matches!(c, '┆' | '┬' | '┴' | '╪')))
        .collect();
    assert!(
        rule.iter().all(|p| p.is_some() && *p == rule[0]),
        "columns not aligned: {rule:?}\n{}",
        run.show()
    );
    // No token unless asked.
    assert!(
        !run.all().contains("eyJ"),
        "an ID token was printed:\n{}",
        run.show()
    );
    assert!(!run.stdout.contains("Tokens"), "{}", run.show());
}

#[tokio::test]
async fn public_basic_and_post_clients_sign_in_and_print_the_claims() {
    let idp = LocalIdp::start(&[]).await;
    let (user, password) = ALICE;
    for client in [PUBLIC_CLIENT, BASIC_CLIENT, POST_CLIENT] {
        let env = with(
            client_env(&idp.issuer, client),
            &[("TEST_USERNAME", user), ("TEST_PASSWORD", password)],
        );
        let run = run("clients", &env, &[], None).await;
        assert_alice_table(&run);
        // Which provider and client, how it authenticates, and the deprecation note.
        assert!(
            run.stderr
                .contains(&format!("Provider:  {} (ISSUER)", idp.issuer)),
            "{}",
            run.show()
        );
        assert!(
            run.stderr.contains(&format!("Client ID: {}", client.0)),
            "{}",
            run.show()
        );
        assert!(
            run.stderr
                .contains(&format!("client authentication: {})", client.2)),
            "{}",
            run.show()
        );
        let notes: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.contains("RFC 9700"))
            .collect();
        assert_eq!(notes.len(), 1, "{}", run.show());
        assert!(
            notes[0].contains("deprecated") && notes[0].contains("device flow"),
            "{}",
            run.show()
        );
        assert!(!run.stderr.contains("error"), "{}", run.show());
    }
}

#[tokio::test]
async fn username_flag_and_password_on_stdin() {
    let idp = LocalIdp::start(&[]).await;
    let env = client_env(&idp.issuer, BASIC_CLIENT);
    // A CRLF line ending is not part of the password; later lines are not read.
    let run = run(
        "stdin",
        &env,
        &["--username", "bob", "--password-stdin"],
        Some("builder\r\nignored\n"),
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert!(
        run.stdout.starts_with("Signed in as Bob Builder\n"),
        "{}",
        run.show()
    );
    assert_eq!(
        row(&run.stdout, "ext.tenantId"),
        Some(vec!["ext.tenantId".into(), "builder-tenant".into()])
    );
    // The flags win over TEST_USERNAME / TEST_PASSWORD.
    let env = with(
        env,
        &[("TEST_USERNAME", "alice"), ("TEST_PASSWORD", "wrong")],
    );
    let run2 = self::run(
        "stdin-wins",
        &env,
        &["--username", "bob", "--password-stdin"],
        Some("builder\n"),
    )
    .await;
    assert!(
        run2.stdout.starts_with("Signed in as Bob Builder\n"),
        "{}",
        run2.show()
    );
}

#[tokio::test]
async fn json_prints_the_claims_as_one_object() {
    let idp = LocalIdp::start(&[]).await;
    let env = client_env(&idp.issuer, POST_CLIENT);
    let run = run(
        "json",
        &env,
        &["--username", "alice", "--password-stdin", "--json"],
        Some("wonderland\n"),
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let claims: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", run.show()));
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(
        claims["ext"]["tenantId"], "wonderland-tenant",
        "nested claims stay nested"
    );
    assert_eq!(claims["email_verified"], true, "types are kept");
    assert!(
        claims.get("tokens").is_none() && !run.all().contains("eyJ"),
        "{}",
        run.show()
    );
    assert!(
        run.stderr.contains("Signed in as Alice Liddell"),
        "{}",
        run.show()
    );
}

#[tokio::test]
async fn show_tokens_prints_working_tokens_clearly_labelled() {
    let idp = LocalIdp::start(&[]).await;
    let env = with(
        client_env(&idp.issuer, PUBLIC_CLIENT),
        &[("TEST_USERNAME", "alice"), ("TEST_PASSWORD", "wonderland")],
    );

    let run = run("tokens-text", &env, &["--show-tokens"], None).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert!(run.stdout.contains("Tokens (secrets"), "{}", run.show());
    let label = |name: &str| {
        run.stdout
            .lines()
            .find_map(|l| {
                l.trim_start()
                    .strip_prefix(name)
                    .map(|rest| rest.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("no {name} line:\n{}", run.show()))
    };
    let access = label("access_token (Bearer):");
    assert!(label("id_token:").starts_with("eyJ"), "{}", run.show());
    assert!(!label("refresh_token:").is_empty());
    let (status, info) = userinfo(&idp.issuer, &access).await;
    assert_eq!(
        (status, info["sub"].as_str()),
        (200, Some("alice")),
        "the printed access token does not work"
    );

    let run = self::run("tokens-json", &env, &["--show-tokens", "--json"], None).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let out: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.show()));
    assert_eq!(out["claims"]["ext"]["tenantId"], "wonderland-tenant");
    assert_eq!(out["tokens"]["token_type"], "Bearer");
    let access = out["tokens"]["access_token"]
        .as_str()
        .expect("access_token");
    let (status, _) = userinfo(&idp.issuer, access).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn without_show_tokens_the_tokens_are_revoked_after_the_claims_are_printed() {
    let idp = LocalIdp::start(&[]).await;
    for client in [PUBLIC_CLIENT, BASIC_CLIENT] {
        let env = with(
            client_env(&idp.issuer, client),
            &[("TEST_USERNAME", "alice"), ("TEST_PASSWORD", "wonderland")],
        );
        let run = run("revoked", &env, &[], None).await;
        assert_alice_table(&run);
        assert!(run.stderr.contains("Tokens revoked"), "{}", run.show());
        // The tokens the provider issued for this run no longer work.
        let access = provider_hook(
            &idp.issuer,
            "/__test/last-access-token?sub=alice",
            "access_token",
        )
        .await;
        let (status, _) = userinfo(&idp.issuer, &access).await;
        assert_eq!(status, 401, "{}: the access token still works", client.0);
        let refresh = provider_hook(
            &idp.issuer,
            "/__test/last-refresh-token?sub=alice",
            "refresh_token",
        )
        .await;
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", client.0),
        ];
        if let Some(secret) = client.1 {
            form.push(("client_secret", secret));
        }
        let refreshed = reqwest::Client::new()
            .post(format!("{}/token", idp.issuer))
            .form(&form)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("refresh request");
        let status = refreshed.status().as_u16();
        let body = refreshed.text().await.unwrap_or_default();
        assert!(
            body.contains("invalid_grant"),
            "{}: the refresh token still works ({status} {body})",
            client.0
        );
    }
}

#[tokio::test]
async fn scope_setting_is_honoured() {
    let idp = LocalIdp::start(&[]).await;
    let env = with(
        client_env(&idp.issuer, BASIC_CLIENT),
        &[
            ("SCOPE", "openid"),
            ("TEST_USERNAME", "alice"),
            ("TEST_PASSWORD", "wonderland"),
        ],
    );
    let run = run("scope", &env, &["--json", "--show-tokens"], None).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert!(run.stderr.contains("Scope:     openid\n"), "{}", run.show());
    let out: Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(out["tokens"]["scope"], "openid", "{}", run.show());
    // Without `profile` the provider releases no name and no ext claims.
    assert_eq!(
        out["claims"],
        serde_json::json!({"sub": "alice"}),
        "{}",
        run.show()
    );
}

#[tokio::test]
async fn wrong_password_exits_1_with_the_providers_message_and_no_password() {
    let idp = LocalIdp::start(&[]).await;
    let wrong = "Not-Alices-Passw0rd-7319";
    let env = client_env(&idp.issuer, BASIC_CLIENT);

    let by_env = with(
        env.clone(),
        &[("TEST_USERNAME", "alice"), ("TEST_PASSWORD", wrong)],
    );
    let by_stdin = env;
    let runs = [
        run("wrong-env", &by_env, &[], None).await,
        run(
            "wrong-stdin",
            &by_stdin,
            &["--username", "alice", "--password-stdin"],
            Some(&format!("{wrong}\n")),
        )
        .await,
        run("wrong-json", &by_env, &["--json", "--show-tokens"], None).await,
    ];
    for run in runs {
        assert_eq!(run.code, Some(1), "{}", run.show());
        let errors: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect();
        assert_eq!(errors.len(), 1, "{}", run.show());
        assert!(errors[0].contains(BAD_CREDENTIALS), "{}", run.show());
        assert!(run.stdout.is_empty(), "{}", run.show());
        assert!(
            !run.all().contains(wrong),
            "the password was printed:\n{}",
            run.show()
        );
        assert!(
            !run.all().contains("Passw0rd"),
            "part of the password was printed:\n{}",
            run.show()
        );
    }
    // An unknown user gets the same answer.
    let env = with(
        client_env(&idp.issuer, PUBLIC_CLIENT),
        &[("TEST_USERNAME", "mallory"), ("TEST_PASSWORD", wrong)],
    );
    let run = run("unknown-user", &env, &[], None).await;
    assert_eq!(run.code, Some(1), "{}", run.show());
    assert!(run.stderr.contains(BAD_CREDENTIALS), "{}", run.show());
}

#[tokio::test]
async fn unknown_scope_is_a_configuration_error() {
    let idp = LocalIdp::start(&[]).await;
    let env = with(
        client_env(&idp.issuer, PUBLIC_CLIENT),
        &[
            ("SCOPE", "openid no-such-scope"),
            ("TEST_USERNAME", "alice"),
            ("TEST_PASSWORD", "wonderland"),
        ],
    );
    let run = run("bad-scope", &env, &[], None).await;
    assert_eq!(run.code, Some(2), "{}", run.show());
    let error = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(
        error.contains("invalid_scope") && error.contains("no-such-scope"),
        "{}",
        run.show()
    );
    assert!(
        error.contains("configuration problem") && error.contains("SCOPE"),
        "{}",
        run.show()
    );
    assert!(run.stdout.is_empty(), "{}", run.show());
}

#[tokio::test]
async fn bad_client_secret_is_a_configuration_error() {
    let idp = LocalIdp::start(&[]).await;
    for (id, _, method) in [BASIC_CLIENT, POST_CLIENT] {
        let env = with(
            client_env(&idp.issuer, (id, Some("not-the-secret"), method)),
            &[("TEST_USERNAME", "alice"), ("TEST_PASSWORD", "wonderland")],
        );
        let run = run("bad-secret", &env, &[], None).await;
        assert_eq!(run.code, Some(2), "{}", run.show());
        let error = run
            .stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_default();
        assert!(error.contains("invalid_client"), "{}", run.show());
        assert!(
            error.contains("configuration problem") && error.contains("CLIENT_SECRET"),
            "{}",
            run.show()
        );
        assert!(!run.all().contains("not-the-secret"), "{}", run.show());
        assert!(run.stdout.is_empty(), "{}", run.show());
    }
}

#[tokio::test]
async fn closed_port_is_a_provider_failure() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let issuer = format!("http://127.0.0.1:{port}");
    let env = with(
        client_env(&issuer, PUBLIC_CLIENT),
        &[("TEST_USERNAME", "alice"), ("TEST_PASSWORD", "wonderland")],
    );
    let run = run("closed-port", &env, &[], None).await;
    assert_eq!(run.code, Some(3), "{}", run.show());
    let error = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(
        error.contains("cannot reach") && error.contains(&issuer),
        "{}",
        run.show()
    );
    assert!(run.took < Duration::from_secs(10), "{}", run.show());
}

#[tokio::test]
async fn provider_that_stopped_is_a_provider_failure() {
    let mut idp = LocalIdp::start(&[]).await;
    let issuer = idp.issuer.clone();
    idp.stop().await;
    let env = with(
        client_env(&issuer, PUBLIC_CLIENT),
        &[("TEST_USERNAME", "alice"), ("TEST_PASSWORD", "wonderland")],
    );
    let run = run("stopped", &env, &[], None).await;
    assert_eq!(run.code, Some(3), "{}", run.show());
}

#[tokio::test]
async fn without_a_terminal_or_credentials_it_fails_fast() {
    let idp = LocalIdp::start(&[]).await;
    let env = client_env(&idp.issuer, PUBLIC_CLIENT);
    /// (name, environment, arguments, expected message)
    type Case<'a> = (&'a str, Vec<(String, String)>, &'a [&'a str], &'a str);
    let cases: [Case; 4] = [
        ("no-creds", env.clone(), &[], "no terminal"),
        (
            "no-password",
            env.clone(),
            &["--username", "alice"],
            "no terminal",
        ),
        (
            "no-username",
            with(env.clone(), &[("TEST_PASSWORD", "wonderland")]),
            &[],
            "no terminal",
        ),
        (
            "stdin-needs-username",
            env.clone(),
            &["--password-stdin"],
            "--password-stdin needs --username",
        ),
    ];
    for (name, env, args, expected) in cases {
        // Standard input is a pipe that stays open and silent: reading it would hang.
        let dir = work_dir(module_path!(), name);
        let mut child = binary(&dir)
            .arg("--config")
            .arg(dir.join("absent.toml"))
            .arg("password-login")
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tvsignin");
        let _open_stdin = child.stdin.take();
        let started = Instant::now();
        let output = tokio::time::timeout(Duration::from_secs(5), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("{name}: still waiting for input after 5 s"))
            .expect("wait");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

#[tokio::test]
async fn bad_settings_exit_2() {
    let base = [("TEST_USERNAME", "alice"), ("TEST_PASSWORD", "wonderland")];
    let env = with(
        vec![],
        &[
            ("ISSUER", "http://127.0.0.1:9"),
            ("CLIENT_ID", "tv"),
            ("CLIENT_AUTH_METHOD", "magic"),
        ],
    );
    let run2 = run("bad-setting", &with(env, &base), &[], None).await;
    assert_eq!(run2.code, Some(2), "{}", run2.show());
    assert!(
        run2.stderr.contains("bad setting CLIENT_AUTH_METHOD:"),
        "{}",
        run2.show()
    );
    assert!(
        run2.took < Duration::from_secs(5) && run2.stdout.is_empty(),
        "{}",
        run2.show()
    );
}

/// With no provider configured, the command signs in at the demo provider of the tvsignin
/// server the settings describe (here one started in this test, in demo mode).
#[cfg(feature = "demo")]
#[tokio::test]
async fn without_a_provider_it_uses_the_demo_provider_of_the_server() {
    let app = crate::support::app::start_with(&[], None).await;
    let bound = app.addr;

    let env = with(
        vec![],
        &[
            ("LISTEN_ADDR", bound.to_string().as_str()),
            ("TEST_USERNAME", "alice"),
            ("TEST_PASSWORD", "alice-demo"),
        ],
    );
    let signed_in = run("demo", &env, &[], None).await;
    assert_eq!(signed_in.code, Some(0), "{}", signed_in.show());
    assert!(
        signed_in.stdout.contains("Signed in as Alice Demo"),
        "{}",
        signed_in.show()
    );
    assert!(
        signed_in.stderr.contains("demo provider"),
        "{}",
        signed_in.show()
    );

    let wrong = with(
        vec![],
        &[
            ("LISTEN_ADDR", bound.to_string().as_str()),
            ("TEST_USERNAME", "alice"),
            ("TEST_PASSWORD", "not-her-password"),
        ],
    );
    let refused = run("demo-wrong", &wrong, &[], None).await;
    assert_eq!(refused.code, Some(1), "{}", refused.show());
}

// ---- A real terminal: tmux on a private socket -------------------------------------------

/// A tmux server of this test's own, on a private socket; killed (and its socket removed)
/// when dropped.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn new(name: &str) -> Self {
        let found = std::process::Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "tmux is needed for the terminal tests (scripts/setup.sh installs it)"
        );
        // A short path: Unix socket paths are limited to about 100 bytes.
        let socket =
            std::env::temp_dir().join(format!("tvsignin-pl-{}-{name}.tmux", std::process::id()));
        let _ = std::fs::remove_file(&socket);
        Self { socket }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let output = std::process::Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["-f", "/dev/null"])
            .args(args)
            .output()
            .expect("run tmux");
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Starts `command` (a shell line) in a 200x50 terminal.
    fn start(&self, command: &str) {
        self.tmux(&["new-session", "-d", "-x", "200", "-y", "50", command]);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J"])
    }

    /// Waits (15 s at most) until the screen shows `text`; returns the screen.
    async fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited 15 s for {text:?}; the screen:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-l", text]);
    }

    fn key(&self, key: &str) {
        self.tmux(&["send-keys", key]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
        let _ = std::fs::remove_file(&self.socket);
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A shell line that runs password-login with a clean environment in `dir`, then prints its
/// exit code and whether the terminal echoes, and stays open for the screen to be read.
fn terminal_command(dir: &std::path::Path, env: &[(String, String)], args: &[&str]) -> String {
    let mut line = format!(
        "cd {} && env -i TERM=xterm",
        quote(&dir.display().to_string())
    );
    for (key, value) in env {
        line.push_str(&format!(" {}", quote(&format!("{key}={value}"))));
    }
    line.push_str(&format!(
        " {} --config {} password-login",
        quote(BIN),
        quote(&dir.join("absent.toml").display().to_string())
    ));
    for arg in args {
        line.push_str(&format!(" {}", quote(arg)));
    }
    line.push_str("; echo \"[exit $?]\"; echo \"[tty $(stty -a | tr ' ;' '\\n\\n' | grep -x -e echo -e -echo)]\"; sleep 120");
    line
}

#[tokio::test]
async fn interactive_prompts_never_show_the_password() {
    let idp = LocalIdp::start(&[]).await;
    let dir = work_dir(module_path!(), "terminal");
    let (user, password) = ALICE;
    let tmux = Tmux::new("signin");
    tmux.start(&terminal_command(
        &dir,
        &client_env(&idp.issuer, PUBLIC_CLIENT),
        &[],
    ));

    let screen = tmux.wait_for("Username: ").await;
    assert!(
        screen.contains("Client ID: tv-public") && screen.contains("RFC 9700"),
        "{screen}"
    );
    tmux.type_text(user);
    tmux.key("Enter");
    tmux.wait_for("Password: ").await;
    tmux.type_text(password);
    // Typed but not yet entered: nothing of it is on the screen.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let typed = tmux.screen();
    assert!(
        !typed.contains(password),
        "the password is echoed:\n{typed}"
    );
    assert!(
        !typed.contains('*'),
        "the password's length is shown:\n{typed}"
    );
    tmux.key("Enter");

    let screen = tmux.wait_for("[tty ").await;
    assert!(screen.contains("Signed in as Alice Liddell"), "{screen}");
    assert!(screen.contains("[exit 0]"), "{screen}");
    assert!(screen.contains("Username: alice\n"), "{screen}");
    let prompt = screen
        .lines()
        .find(|l| l.starts_with("Password:"))
        .unwrap_or_default();
    assert_eq!(prompt.trim_end(), "Password:", "{screen}");
    // Alice's password is also part of her tenant claim: it may appear only there.
    assert_eq!(
        screen.matches(password).count(),
        screen.matches("wonderland-tenant").count(),
        "{screen}"
    );
    assert_eq!(
        row(&screen, "ext.tenantId"),
        Some(vec!["ext.tenantId".into(), "wonderland-tenant".into()]),
        "{screen}"
    );
    assert!(
        screen.contains("[tty echo]"),
        "the terminal was left without echo:\n{screen}"
    );
}

#[tokio::test]
async fn interactive_wrong_password_and_ctrl_c_leave_the_terminal_usable() {
    let idp = LocalIdp::start(&[]).await;
    let env = client_env(&idp.issuer, BASIC_CLIENT);
    let wrong = "Typed-Wrong-9921";

    let dir = work_dir(module_path!(), "terminal-wrong");
    let tmux = Tmux::new("wrong");
    tmux.start(&terminal_command(&dir, &env, &["--username", "alice"]));
    tmux.wait_for("Password: ").await;
    tmux.type_text(wrong);
    tmux.key("Enter");
    let screen = tmux.wait_for("[tty ").await;
    assert!(
        screen.contains(BAD_CREDENTIALS) && screen.contains("[exit 1]"),
        "{screen}"
    );
    assert!(!screen.contains(wrong), "{screen}");
    assert!(screen.contains("[tty echo]"), "{screen}");
    drop(tmux);

    // Ctrl-C halfway through the password: exit 130, and the terminal echoes again.
    let dir = work_dir(module_path!(), "terminal-ctrl-c");
    let tmux = Tmux::new("ctrlc");
    tmux.start(&terminal_command(&dir, &env, &["--username", "alice"]));
    tmux.wait_for("Password: ").await;
    tmux.type_text("wonder");
    tmux.key("C-c");
    let screen = tmux.wait_for("[tty ").await;
    assert!(screen.contains("[exit 130]"), "{screen}");
    assert!(
        screen.contains("[tty echo]"),
        "Ctrl-C left the terminal without echo:\n{screen}"
    );
    assert!(!screen.contains("wonder"), "{screen}");
}

// ---- Other providers, scripted ----------------------------------------------------------

/// Settings for the scripted provider (a public client) and Alice's sign-in.
fn scripted_env(provider: &Scripted, password: &str) -> Vec<(String, String)> {
    with(
        vec![],
        &[
            ("ISSUER", provider.base.as_str()),
            ("CLIENT_ID", "tv"),
            ("CLIENT_AUTH_METHOD", "none"),
            ("TEST_USERNAME", "alice"),
            ("TEST_PASSWORD", password),
        ],
    )
}

/// The one `error:` line of a run.
fn error_line(run: &Run) -> String {
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.show());
    errors[0].to_owned()
}

/// Some providers answer a wrong password with a bare 403 or 401 (no body at all) instead of
/// RFC 6749's 400 `invalid_grant`. That is the person's credentials refused, not a broken
/// provider: exit 1, in words, naming the status.
#[tokio::test]
async fn a_wrong_password_answered_with_a_bare_403_or_401_is_a_rejection() {
    let wrong = "Not-Her-Passw0rd-4471";
    for status in [403, 401] {
        let provider = Scripted::start().await;
        provider.script(TOKEN, vec![Reply::empty(status)]);
        let run = run("bare-refusal", &scripted_env(&provider, wrong), &[], None).await;
        assert_eq!(run.code, Some(1), "HTTP {status}: {}", run.show());
        let error = error_line(&run);
        assert!(
            error.contains("sign-in rejected") && error.contains(&format!("HTTP {status}")),
            "{error}"
        );
        assert!(
            error.contains("username and password") && error.contains("no reason"),
            "{error}"
        );
        assert!(!error.contains("provider or network failure"), "{error}");
        assert!(run.stdout.is_empty(), "{}", run.show());
        assert!(!run.all().contains(wrong), "{}", run.show());
        // It was the password grant that was refused, asked once.
        let seen = provider.seen(TOKEN);
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].field("grant_type"), ["password"]);
        assert_eq!(provider.hits(USERINFO), 0);
    }
}

/// The network and the provider's own failures stay exit 3.
#[tokio::test]
async fn a_bare_5xx_from_the_token_endpoint_is_still_a_provider_failure() {
    let provider = Scripted::start().await;
    provider.script(TOKEN, vec![Reply::empty(503)]);
    let run = run(
        "bare-503",
        &scripted_env(&provider, "wonderland"),
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, Some(3), "{}", run.show());
    let error = error_line(&run);
    assert!(
        error.contains("provider or network failure") && error.contains("HTTP 503"),
        "{error}"
    );
}

/// A token endpoint on plain http:// elsewhere would carry the password across the network
/// unencrypted: refused before the password is asked for or sent. The run's HTTP proxy is
/// the scripted provider itself, so had the command tried, the request would have stayed on
/// this machine and been counted, instead of leaving for the documentation address.
#[tokio::test]
async fn a_plain_http_token_endpoint_elsewhere_never_gets_the_password() {
    let provider = Scripted::start().await;
    let base = provider.base.clone();
    provider.script(
        DISCOVERY,
        vec![Reply::json(
            200,
            serde_json::json!({
                "issuer": base,
                "token_endpoint": "http://192.0.2.1/token",
                "userinfo_endpoint": format!("{base}{USERINFO}"),
            }),
        )],
    );
    let password = "Sent-Nowhere-8812";
    // Without ALLOW_HTTP_PROVIDER the discovered endpoint is refused before this check (see
    // check_config.rs); a lab that allows plain http still never sends a password over it.
    let env = with(
        scripted_env(&provider, password),
        &[
            ("http_proxy", base.as_str()),
            ("NO_PROXY", "127.0.0.1"),
            ("ALLOW_HTTP_PROVIDER", "true"),
        ],
    );
    let run = run("plain-http", &env, &[], None).await;
    assert_eq!(run.code, Some(2), "{}", run.show());
    let error = error_line(&run);
    assert!(
        error.contains("http://192.0.2.1/token") && error.contains("https://"),
        "{error}"
    );
    assert_eq!(provider.hits(DISCOVERY), 1, "discovery is read directly");
    assert_eq!(provider.hits(TOKEN), 0, "the password was sent");
    assert!(!run.all().contains(password), "{}", run.show());

    // The same provider over loopback http is fine: this machine is not a network.
    let provider = Scripted::start().await;
    provider.script(TOKEN, vec![Reply::tokens()]);
    let run = self::run(
        "loopback-http",
        &scripted_env(&provider, password),
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(provider.seen(TOKEN)[0].field("password"), [password]);
}
