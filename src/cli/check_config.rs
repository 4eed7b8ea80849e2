//! `tvsignin check-config`: validates the settings and the provider, and prints a report.

use std::path::Path;
use std::process::ExitCode;

pub async fn run(_config: &Path) -> ExitCode {
    ExitCode::from(super::EXIT_USAGE)
}
