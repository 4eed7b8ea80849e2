//! The real `tvsignin` binary as a child process, with a clean environment in a working
//! directory of its own, so no developer setting, settings file or `.env` leaks in; and what
//! the tests need around child processes (log files, their tails, whether a tool is there).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_tvsignin");

/// The binary in `dir` with a clean environment (PATH only), no settings file and no browser
/// bundle; killed when its handle is dropped.
pub fn binary(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TVSIGNIN_CONFIG", "/nonexistent/Leptos.toml")
        .env("LEPTOS_SITE_ROOT", dir.join("no-site"))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// What a finished run of a command printed.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Run {
    /// Runs `command` to its end, `limit` at most. `stdin`: `None` = no input at all;
    /// `Some(text)` = that text, then end of input.
    pub async fn to_end(mut command: Command, stdin: Option<&str>, limit: Duration) -> Self {
        command
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = command.spawn().expect("start the command");
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().expect("stdin pipe");
            pipe.write_all(text.as_bytes()).await.expect("write stdin");
            drop(pipe);
        }
        let output = tokio::time::timeout(limit, child.wait_with_output())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{:?} did not finish within {limit:?}",
                    command.as_std().get_args().collect::<Vec<_>>()
                )
            })
            .expect("wait for the command");
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            took: started.elapsed(),
        }
    }

    /// Standard output, then standard error.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Everything about the run, for a failure message.
    pub fn show(&self) -> String {
        format!(
            "exit {:?} after {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.took, self.stdout, self.stderr
        )
    }
}

/// The last `lines` lines of a file (for failure reports).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A file that a child's stdout and stderr both append to.
pub fn log_file(path: &Path) -> (Stdio, Stdio) {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    let second = file.try_clone().expect("clone the log file handle");
    (Stdio::from(file), Stdio::from(second))
}

/// Whether `program --version` runs and succeeds.
pub fn installed(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
