//! The `tvsignin` binary: the server (default), `password-login` and `check-config`.

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    tvsignin::cli::run().await
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The browser build has no binary; its entry point is `hydrate()` in lib.rs.
}
