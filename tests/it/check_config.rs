//! `tvsignin check-config` (issue 7), run as the built binary: against the real local OpenID
//! provider (end2end/idp), against scripted discovery documents that lack what the app needs,
//! against a closed port, with a bad setting and in demo mode. Every run gets a clean
//! environment and an empty working directory.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::process::Command;

use crate::support::{work_dir, LocalIdp, BASIC_CLIENT, PUBLIC_CLIENT};

const BIN: &str = env!("CARGO_BIN_EXE_tvsignin");
/// No run may take longer than this (everything is on loopback).
const RUN_LIMIT: Duration = Duration::from_secs(30);
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Run {
    fn show(&self) -> String {
        format!(
            "exit {:?} after {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.took, self.stdout, self.stderr
        )
    }

    /// The report line of `check`, if any: (verdict, detail).
    fn check(&self, check: &str) -> Option<(String, String)> {
        self.stdout.lines().find_map(|line| {
            let (verdict, rest) = line.split_once(' ')?;
            let detail = rest.trim_start().strip_prefix(check)?.strip_prefix(": ")?;
            Some((verdict.to_owned(), detail.to_owned()))
        })
    }

    fn verdict(&self, check: &str) -> String {
        self.check(check)
            .unwrap_or_else(|| panic!("no {check} line\n{}", self.show()))
            .0
    }

    /// Every line is "OK", "WARN" or "FAIL", a check name, then the detail; the last says
    /// how it went.
    fn assert_well_formed(&self) {
        let mut lines: Vec<&str> = self.stdout.lines().filter(|l| !l.is_empty()).collect();
        let summary = lines.pop().unwrap_or_default();
        assert!(
            summary.contains("required check"),
            "no summary line\n{}",
            self.show()
        );
        for line in lines {
            let verdict = line.split(' ').next().unwrap_or_default();
            assert!(
                matches!(verdict, "OK" | "WARN" | "FAIL") && line.contains(": "),
                "odd line {line:?}\n{}",
                self.show()
            );
        }
    }
}

/// Runs `tvsignin --config /nonexistent check-config` with exactly `env` plus PATH.
async fn run(test: &str, env: &[(&str, &str)]) -> Run {
    let dir = work_dir(test);
    let mut command = Command::new(BIN);
    command
        .arg("--config")
        .arg("/nonexistent/Leptos.toml")
        .arg("check-config")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let started = Instant::now();
    let output = tokio::time::timeout(RUN_LIMIT, command.output())
        .await
        .expect("tvsignin check-config did not finish within 30 s")
        .expect("run tvsignin");
    let run = Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        took: started.elapsed(),
    };
    run.assert_well_formed();
    run
}

#[tokio::test]
async fn the_local_provider_passes_every_check() {
    let idp = LocalIdp::start(&[]).await;
    for (client, secret, method) in [PUBLIC_CLIENT, BASIC_CLIENT] {
        let mut env = vec![("ISSUER", idp.issuer.as_str()), ("CLIENT_ID", client)];
        if let Some(secret) = secret {
            env.push(("CLIENT_SECRET", secret));
        }
        let run = run(&format!("ok-{client}"), &env).await;
        assert_eq!(run.code, Some(0), "{}", run.show());
        for check in [
            "settings",
            "provider",
            "discovery",
            "issuer",
            "device grant",
            "device authorization endpoint",
            "token endpoint",
            "userinfo endpoint",
            "jwks_uri",
            "revocation endpoint",
            "client authentication",
            "device authorization request",
            "token endpoint poll",
        ] {
            assert_eq!(run.verdict(check), "OK", "{check}\n{}", run.show());
        }
        let (_, auth) = run.check("client authentication").unwrap();
        assert!(auth.starts_with(method), "{auth}");
        assert!(
            run.stdout
                .trim_end()
                .ends_with("all required checks passed"),
            "{}",
            run.show()
        );
    }
}

#[tokio::test]
async fn a_wrong_secret_fails_the_client_check() {
    let idp = LocalIdp::start(&[]).await;
    let (client, _, _) = BASIC_CLIENT;
    let env = [
        ("ISSUER", idp.issuer.as_str()),
        ("CLIENT_ID", client),
        ("CLIENT_SECRET", "not-the-secret"),
    ];
    let run = run("wrong-secret", &env).await;
    assert_eq!(run.code, Some(1), "{}", run.show());
    let (verdict, detail) = run.check("device authorization request").unwrap();
    assert_eq!(verdict, "FAIL", "{}", run.show());
    assert!(detail.contains("invalid_client"), "{detail}");
    assert!(
        !run.stdout.contains("not-the-secret"),
        "the secret is never printed"
    );
}

/// A provider that serves only a discovery document, shaped by the first path segment; under
/// `<variant>/oauth2/` it answers as an IBM Security Verify tenant would.
async fn scripted_provider() -> (String, tokio::task::JoinHandle<()>) {
    async fn discovery(State(base): State<String>, Path(variant): Path<String>) -> Json<Value> {
        let issuer = match variant.as_str() {
            "wrong-issuer" => format!("{base}/another"),
            "tenant-ok" => format!("{base}/{variant}/oauth2"),
            _ => format!("{base}/{variant}"),
        };
        let mut doc = json!({
            "issuer": issuer,
            "device_authorization_endpoint": format!("{issuer}/device"),
            "token_endpoint": format!("{issuer}/token"),
            "userinfo_endpoint": format!("{issuer}/me"),
            "jwks_uri": format!("{issuer}/jwks"),
            "grant_types_supported": ["authorization_code", "refresh_token", DEVICE_GRANT],
        });
        let map = doc.as_object_mut().unwrap();
        match variant.as_str() {
            "no-device-endpoint" => {
                map.remove("device_authorization_endpoint");
            }
            "no-device-grant" => {
                map.insert(
                    "grant_types_supported".into(),
                    json!(["authorization_code", "refresh_token"]),
                );
            }
            "no-jwks" => {
                map.remove("jwks_uri");
            }
            // Never fetched by check-config, so no test sends anything off this machine.
            "http-jwks" => {
                map.insert("jwks_uri".into(), json!("http://192.0.2.1/jwks"));
            }
            _ => {}
        }
        Json(doc)
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let app = Router::new()
        .route(
            "/{variant}/.well-known/openid-configuration",
            get(discovery),
        )
        .route(
            "/{variant}/oauth2/.well-known/openid-configuration",
            get(discovery),
        )
        .with_state(base.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, task)
}

#[tokio::test]
async fn missing_device_support_fails() {
    let (base, server) = scripted_provider().await;
    let cases = [
        ("no-device-endpoint", "device authorization endpoint"),
        ("no-device-grant", "device grant"),
        ("no-jwks", "jwks_uri"),
    ];
    for (variant, failing) in cases {
        let issuer = format!("{base}/{variant}");
        let env = [("ISSUER", issuer.as_str()), ("CLIENT_ID", "tv")];
        let run = run(variant, &env).await;
        assert_eq!(run.code, Some(1), "{variant}\n{}", run.show());
        assert_eq!(run.verdict("discovery"), "OK", "{}", run.show());
        assert_eq!(run.verdict(failing), "FAIL", "{variant}\n{}", run.show());
        // Nothing answers at the scripted provider's endpoints but discovery.
        if variant != "no-jwks" {
            assert_eq!(
                run.verdict("client accepted"),
                "FAIL",
                "no probe without device support\n{}",
                run.show()
            );
        }
        // Without a revocation endpoint there is a warning, not a failure.
        assert_eq!(run.verdict("revocation endpoint"), "WARN", "{}", run.show());
    }
    server.abort();
}

/// OpenID Connect Discovery §4.3: discovery's issuer must be ISSUER (for IBM Security Verify,
/// `<TENANT_URL>/oauth2`); otherwise nothing else is tried.
#[tokio::test]
async fn an_issuer_other_than_the_settings_fails() {
    let (base, server) = scripted_provider().await;
    let cases = [
        ("ISSUER", "wrong-issuer", false),
        ("TENANT_URL", "tenant-ok", true),
        // Its discovery names the tenant itself, not <tenant>/oauth2.
        ("TENANT_URL", "tenant-bare", false),
    ];
    for (key, variant, matches) in cases {
        let url = format!("{base}/{variant}");
        let env = [(key, url.as_str()), ("CLIENT_ID", "tv")];
        let run = run(variant, &env).await;
        let (verdict, detail) = run
            .check("issuer")
            .unwrap_or_else(|| panic!("no issuer line\n{}", run.show()));
        if matches {
            assert_eq!(verdict, "OK", "{}", run.show());
            assert!(detail.starts_with(&format!("{url}/oauth2 ")), "{detail}");
        } else {
            assert_eq!(run.code, Some(1), "{}", run.show());
            assert_eq!(verdict, "FAIL", "{}", run.show());
            assert!(detail.contains("must be identical"), "{detail}");
            assert_eq!(run.verdict("discovery"), "OK", "{}", run.show());
            assert!(
                run.check("device authorization request").is_none(),
                "the provider is not used\n{}",
                run.show()
            );
        }
    }
    server.abort();
}

/// Every provider URL is https, or plain http to this machine: in the settings (one line
/// naming the key) and in discovery (naming the field). ALLOW_HTTP_PROVIDER lets a lab
/// through with a warning.
#[tokio::test]
async fn plain_http_to_another_machine_fails() {
    let (base, server) = scripted_provider().await;
    let issuer = format!("{base}/http-jwks");
    let run_1 = run(
        "http-jwks",
        &[("ISSUER", issuer.as_str()), ("CLIENT_ID", "tv")],
    )
    .await;
    assert_eq!(run_1.code, Some(1), "{}", run_1.show());
    let (verdict, detail) = run_1.check("discovery").unwrap();
    assert_eq!(verdict, "FAIL", "{}", run_1.show());
    assert!(
        detail.contains("jwks_uri http://192.0.2.1/jwks") && detail.contains("plain http"),
        "{detail}"
    );

    let healthy = format!("{base}/fine");
    let env = [
        ("ISSUER", healthy.as_str()),
        ("CLIENT_ID", "tv"),
        ("JWKS_URI", "http://192.0.2.1/jwks"),
    ];
    let run_2 = run("http-jwks-setting", &env).await;
    assert_eq!(run_2.code, Some(1), "{}", run_2.show());
    let (verdict, detail) = run_2.check("settings").unwrap();
    assert_eq!(verdict, "FAIL", "{}", run_2.show());
    assert!(detail.starts_with("bad setting JWKS_URI: "), "{detail}");
    assert!(detail.contains("ALLOW_HTTP_PROVIDER"), "{detail}");

    let lab = [
        ("ISSUER", healthy.as_str()),
        ("CLIENT_ID", "tv"),
        ("JWKS_URI", "http://192.0.2.1/jwks"),
        ("ALLOW_HTTP_PROVIDER", "true"),
    ];
    let run_3 = run("http-jwks-lab", &lab).await;
    assert_eq!(run_3.verdict("settings"), "OK", "{}", run_3.show());
    assert_eq!(run_3.verdict("discovery"), "OK", "{}", run_3.show());
    assert_eq!(run_3.verdict("jwks_uri"), "WARN", "{}", run_3.show());
    server.abort();
}

#[tokio::test]
async fn a_closed_port_fails_discovery() {
    // Bind and drop: the port is free and nothing listens.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let issuer = format!("http://127.0.0.1:{port}");
    let env = [("ISSUER", issuer.as_str()), ("CLIENT_ID", "tv")];
    let run = run("closed-port", &env).await;
    assert_eq!(run.code, Some(1), "{}", run.show());
    let (verdict, detail) = run.check("discovery").unwrap();
    assert_eq!(verdict, "FAIL", "{}", run.show());
    assert!(detail.contains("cannot reach"), "{detail}");
}

#[tokio::test]
async fn a_bad_setting_fails_naming_the_key() {
    for (env, key) in [
        (
            vec![
                ("ISSUER", "http://127.0.0.1:9"),
                ("CLIENT_ID", "tv"),
                ("HTTP_TIMEOUT_SECS", "soon"),
            ],
            "HTTP_TIMEOUT_SECS",
        ),
        (vec![("ISSUER", "not a url"), ("CLIENT_ID", "tv")], "ISSUER"),
        (vec![("CLIENT_ID", "tv")], "CLIENT_ID"),
    ] {
        let run = run(&format!("bad-{key}"), &env).await;
        assert_eq!(run.code, Some(1), "{}", run.show());
        let (verdict, detail) = run.check("settings").unwrap();
        assert_eq!(verdict, "FAIL", "{}", run.show());
        assert!(
            detail.starts_with(&format!("bad setting {key}: ")),
            "{detail}"
        );
        assert!(run.check("discovery").is_none(), "nothing else is tried");
    }
}

#[tokio::test]
async fn demo_mode_needs_no_network() {
    let run = run("demo", &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let (verdict, detail) = run.check("provider").unwrap();
    assert_eq!(verdict, "OK");
    assert!(detail.contains("demo provider"), "{detail}");
    assert!(run.check("discovery").is_none(), "{}", run.show());
}
