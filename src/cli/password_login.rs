//! `tvsignin password-login`: the OAuth 2.0 password grant from the command line.

use std::path::Path;
use std::process::ExitCode;

/// Options of `password-login`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_config: &Path, _args: Args) -> ExitCode {
    ExitCode::from(super::EXIT_USAGE)
}
