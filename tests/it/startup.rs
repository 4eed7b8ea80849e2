//! Start-up of the real binary: bad settings stop it with one line naming the key; an
//! unreachable provider does not stop it, and readiness says so.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::support::process::Run;
use crate::support::{free_port, work_dir};

/// The binary with a clean environment, in an empty working directory of `test`'s own.
fn binary(test: &str) -> Command {
    crate::support::process::binary(&work_dir(module_path!(), test))
}

/// Runs `command` until it stops by itself (20 s at most): its exit code, and all it wrote.
async fn run_to_end(command: Command) -> (i32, String) {
    let run = Run::to_end(command, None, Duration::from_secs(20)).await;
    (
        run.code.unwrap_or(-1),
        format!("{}{}", run.stdout, run.stderr),
    )
}

#[tokio::test]
async fn a_malformed_setting_stops_start_up_naming_the_key() {
    let cases = [
        ("TENANT_URL", "acme.verify", "TENANT_URL"),
        ("ISSUER", "https://idp.example/?x=1", "ISSUER"),
        ("LISTEN_ADDR", "everywhere", "LISTEN_ADDR"),
        ("IDLE_SIGN_OUT_SECS", "soon", "IDLE_SIGN_OUT_SECS"),
        ("SITE_DIR", "/nonexistent/site", "SITE_DIR"),
    ];
    for (key, value, named) in cases {
        let mut command = binary("malformed");
        command.env(key, value).env("CLIENT_ID", "tv");
        if key != "TENANT_URL" && key != "ISSUER" {
            command.env("ISSUER", "https://idp.example");
        }
        let (code, text) = run_to_end(command).await;
        assert_eq!(code, 2, "{key}={value}: {text}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "one line, got: {text}");
        assert!(
            lines[0].contains(&format!("bad setting {named}: ")),
            "{text}"
        );
    }
}

#[tokio::test]
async fn version_says_what_is_installed() {
    let mut command = binary("version");
    command.arg("--version");
    let (code, text) = run_to_end(command).await;
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        text.trim(),
        format!("tvsignin {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn precompress_writes_the_copies_a_read_only_install_serves() {
    let dir = work_dir(module_path!(), "precompress");
    let pkg = dir.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let script = "console.log('tvsignin');\n".repeat(200);
    std::fs::write(pkg.join("app.js"), &script).unwrap();
    std::fs::write(pkg.join("note.txt"), "not compressed").unwrap();
    let mut command = binary("precompress-run");
    command.arg("precompress").arg(&pkg);
    let (code, text) = run_to_end(command).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("compressed 1 of the browser files"), "{text}");
    let mut unpacked = Vec::new();
    brotli::BrotliDecompress(
        &mut std::fs::read(pkg.join("app.js.br")).unwrap().as_slice(),
        &mut unpacked,
    )
    .unwrap();
    assert_eq!(unpacked, script.as_bytes());
    let mut unzipped = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(pkg.join("app.js.gz")).unwrap()),
        &mut unzipped,
    )
    .unwrap();
    assert_eq!(unzipped, script);
    assert!(!pkg.join("note.txt.br").exists());

    // A missing directory is a usage error, not an empty success.
    let mut command = binary("precompress-run");
    command.arg("precompress").arg(dir.join("missing"));
    let (code, text) = run_to_end(command).await;
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("not a directory"), "{text}");
}

#[tokio::test]
async fn the_packaged_settings_file_refuses_to_start_without_a_provider() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/deb/tvsignin.toml");
    let mut command = binary("packaged-settings");
    command.env("TVSIGNIN_CONFIG", file);
    let (code, text) = run_to_end(command).await;
    assert_eq!(code, 2, "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("bad setting ISSUER: no provider is configured and DEMO=false"),
        "{text}"
    );
}

#[tokio::test]
async fn an_unknown_key_in_the_settings_file_is_named() {
    let dir = work_dir(module_path!(), "settings-file");
    let file = dir.join("Leptos.toml");
    std::fs::write(&file, "[provider]\nISUER = \"https://idp.example\"\n").unwrap();
    let mut command = crate::support::process::binary(&dir);
    command.env("TVSIGNIN_CONFIG", &file);
    let (code, text) = run_to_end(command).await;
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("unknown key ISUER"), "{text}");
}

#[tokio::test]
async fn an_unreachable_provider_does_not_stop_the_server() {
    // A port nothing listens on.
    let dead = format!("127.0.0.1:{}", free_port());
    let app_addr = format!("127.0.0.1:{}", free_port());

    let mut command = binary("unreachable-provider");
    command
        .env("ISSUER", format!("http://{dead}"))
        .env("CLIENT_ID", "tv")
        .env("LISTEN_ADDR", &app_addr)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start the server");
    let mut log = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let client = reqwest::Client::new();
    let base = format!("http://{app_addr}");
    let mut healthy = false;
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            healthy = r.status().is_success();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy, "the server should answer /healthz");

    // The cause, in full, is in the server's log...
    let failed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = log.next_line().await.expect("read the log") {
            if line.contains("provider discovery failed") {
                return line;
            }
        }
        panic!("the server stopped without logging the discovery failure");
    })
    .await
    .expect("no discovery failure logged within 10 s");
    assert!(
        failed.contains("cannot reach") && failed.contains("Connection refused"),
        "{failed}"
    );

    // ...while anyone asking /readyz gets a fixed reason, not the error's text (internal
    // addresses, what the network or the provider said).
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["ready"], false);
    assert_eq!(body["reason"], "discovery_not_loaded", "{body}");
    let text = body.to_string();
    for raw in [
        "cannot reach",
        "Connection refused",
        "error sending",
        "well-known",
    ] {
        assert!(!text.contains(raw), "/readyz shows {raw:?}: {text}");
    }
    child.kill().await.ok();
}

/// With no provider configured, an https PUBLIC_URL or TRUST_PROXY marks a production server
/// (its `.env` may have gone missing): the demo provider is refused, with one line naming the
/// missing key and DEMO=true as the way to want it anyway.
#[cfg(feature = "demo")]
#[tokio::test]
async fn demo_mode_is_refused_on_a_production_server() {
    for (key, value) in [
        ("PUBLIC_URL", "https://kiosk.example"),
        ("TRUST_PROXY", "true"),
    ] {
        let mut command = binary("demo-refused");
        command
            .env(key, value)
            .env("LISTEN_ADDR", format!("127.0.0.1:{}", free_port()));
        let (code, text) = run_to_end(command).await;
        assert_eq!(code, 2, "{key}={value}: {text}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "one line, got: {text}");
        assert!(lines[0].contains("bad setting ISSUER: "), "{text}");
        assert!(
            lines[0].contains(key) && lines[0].contains("DEMO=true"),
            "{text}"
        );
    }
}

/// Demo mode says so loudly: a framed block of warnings before anything else.
#[cfg(feature = "demo")]
#[tokio::test]
async fn demo_mode_starts_with_a_loud_banner() {
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}/");
    let mut command = binary("demo-banner");
    command
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("PUBLIC_URL", &public)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start the server");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut log = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = lines.next_line().await.expect("read stderr") {
            let done = line.contains("on the TV");
            log.push(line);
            if done {
                break;
            }
        }
    })
    .await;
    child.kill().await.ok();
    let text = log.join("\n");
    assert!(read.is_ok(), "no start-up line within 10 s:\n{text}");
    let banner: Vec<&String> = log
        .iter()
        .filter(|l| l.contains(" WARN ") && l.trim_end().ends_with('*'))
        .collect();
    assert!(banner.len() >= 8, "a framed block of warnings:\n{text}");
    for needle in ["DEMO MODE - NOT FOR PRODUCTION", public.as_str(), "ISSUER"] {
        assert!(
            banner.iter().any(|l| l.contains(needle)),
            "{needle} in the banner:\n{text}"
        );
    }
}

/// The soft and hard open-file limits of process `pid`, from `/proc/<pid>/limits`.
fn open_file_limits(pid: &str) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("read limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_else(|| panic!("no open-file limit in {limits}"));
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

/// Every TV holds a connection: the server raises its soft open-file limit (often 1,024) to
/// the hard limit at start. Started here under `prlimit` with a soft limit of 256.
#[tokio::test]
async fn the_open_file_limit_is_raised_to_the_hard_limit_at_start() {
    let (_, hard) = open_file_limits("self");
    assert!(hard > 256, "the hard open-file limit here is only {hard}");
    let app_addr = format!("127.0.0.1:{}", free_port());
    let server = binary("open-files");
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--nofile=256:{hard}"))
        .arg(server.as_std().get_program())
        .current_dir(
            server
                .as_std()
                .get_current_dir()
                .expect("a working directory"),
        )
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TVSIGNIN_CONFIG", "/nonexistent/Leptos.toml")
        .env("ISSUER", "http://127.0.0.1:9")
        .env("CLIENT_ID", "tv")
        .env("LISTEN_ADDR", &app_addr)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("run prlimit");
    // prlimit sets the limits, then runs the server in its own place: the same process.
    let pid = child.id().expect("running").to_string();
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if let Ok(r) = client
            .get(format!("http://{app_addr}/healthz"))
            .send()
            .await
        {
            up = r.status().is_success();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the server should answer /healthz");
    assert_eq!(
        open_file_limits(&pid),
        (hard, hard),
        "the soft limit is raised to the hard one"
    );
    child.kill().await.ok();
}
