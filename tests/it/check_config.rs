//! `tvsignin check-config` (issue 7), run as the built binary: against the real local OpenID
//! provider (end2end/idp), against scripted discovery documents that lack what the app needs,
//! against a closed port, with a bad setting and in demo mode. Every run gets a clean
//! environment and an empty working directory.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::local_idp::{LocalIdp, BASIC_CLIENT, PUBLIC_CLIENT};
use crate::support::process::{binary, Run};
use crate::support::scripted::{Reply, Scripted};
use crate::support::{free_port, work_dir};

/// No run may take longer than this (everything is on loopback).
const RUN_LIMIT: Duration = Duration::from_secs(30);
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// How a run of check-config reads: a report line per check.
trait Report {
    /// The report line of `check`, if any: (verdict, detail).
    fn check(&self, check: &str) -> Option<(String, String)>;

    fn verdict(&self, check: &str) -> String;

    /// Every line is "OK", "WARN" or "FAIL", a check name, then the detail; the last says
    /// how it went.
    fn assert_well_formed(&self);
}

impl Report for Run {
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
    let mut command = binary(&work_dir(module_path!(), test));
    command
        .arg("--config")
        .arg("/nonexistent/Leptos.toml")
        .arg("check-config")
        .envs(env.iter().copied());
    let run = Run::to_end(command, None, RUN_LIMIT).await;
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

/// A discovery document shaped by `variant`; under `<variant>/oauth2/` it is served as an IBM
/// Security Verify tenant would serve it.
fn discovery(base: &str, variant: &str) -> Value {
    let issuer = match variant {
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
    match variant {
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
    doc
}

/// A provider that serves only discovery documents: one per variant, at `<variant>/` and at
/// `<variant>/oauth2/`. Its other endpoints answer 404.
async fn scripted_provider(variants: &[&str]) -> Scripted {
    let provider = Scripted::start().await;
    for variant in variants {
        let doc = discovery(&provider.base, variant);
        for under in ["", "/oauth2"] {
            provider.script(
                &format!("/{variant}{under}/.well-known/openid-configuration"),
                vec![Reply::json(200, doc.clone())],
            );
        }
    }
    provider
}

#[tokio::test]
async fn missing_device_support_fails() {
    let cases = [
        ("no-device-endpoint", "device authorization endpoint"),
        ("no-device-grant", "device grant"),
        ("no-jwks", "jwks_uri"),
    ];
    let provider = scripted_provider(&cases.map(|(variant, _)| variant)).await;
    let base = &provider.base;
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
}

/// OpenID Connect Discovery §4.3: discovery's issuer must be ISSUER (for IBM Security Verify,
/// `<TENANT_URL>/oauth2`); otherwise nothing else is tried.
#[tokio::test]
async fn an_issuer_other_than_the_settings_fails() {
    let cases = [
        ("ISSUER", "wrong-issuer", false),
        ("TENANT_URL", "tenant-ok", true),
        // Its discovery names the tenant itself, not <tenant>/oauth2.
        ("TENANT_URL", "tenant-bare", false),
    ];
    let provider = scripted_provider(&cases.map(|(_, variant, _)| variant)).await;
    let base = &provider.base;
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
}

/// Every provider URL is https, or plain http to this machine: in the settings (one line
/// naming the key) and in discovery (naming the field). ALLOW_HTTP_PROVIDER lets a lab
/// through with a warning.
#[tokio::test]
async fn plain_http_to_another_machine_fails() {
    let provider = scripted_provider(&["http-jwks", "fine"]).await;
    let base = &provider.base;
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
}

#[tokio::test]
async fn a_closed_port_fails_discovery() {
    let port = free_port();
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

#[cfg(feature = "demo")]
#[tokio::test]
async fn demo_mode_needs_no_network() {
    let run = run("demo", &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.show());
    let (verdict, detail) = run.check("provider").unwrap();
    assert_eq!(verdict, "OK");
    assert!(detail.contains("demo provider"), "{detail}");
    assert!(run.check("discovery").is_none(), "{}", run.show());
}
