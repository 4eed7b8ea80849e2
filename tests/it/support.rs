//! What the integration tests share: a bound on every test, working directories, free ports,
//! and the fixtures in the modules below (the app in-process, the real binary as a child,
//! the local and a scripted provider, Redis, a TV, a phone).

pub mod app;
#[cfg(feature = "demo")]
pub mod demo_phone;
pub mod events;
pub mod fleet;
pub mod local_idp;
pub mod polling;
pub mod process;
pub mod redis;
pub mod scripted;
pub mod tv;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

/// Runs a test under a bound, so a hang fails it instead of stalling the suite.
pub async fn within<T>(secs: u64, test: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), test)
        .await
        .unwrap_or_else(|_| panic!("test took longer than {secs} s"))
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An empty working directory, `name` under the calling module's own folder (pass
/// `module_path!()`), so tests of different modules never share one.
pub fn work_dir(module: &str, name: &str) -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    dir.extend(module.split("::"));
    dir.push(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test's working directory");
    dir
}

/// The value of one Prometheus series (`name{labels}` exactly as rendered), if present.
/// (Its users run the app in demo mode.)
#[cfg(feature = "demo")]
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// A loopback port that nothing listens on (right now).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}
