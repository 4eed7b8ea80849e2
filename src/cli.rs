//! The command line: `tvsignin` (or `tvsignin serve`) runs the server; `password-login` and
//! `check-config` are tools that share its settings and provider client; `precompress` writes
//! the browser files' compressed copies for a read-only install.

pub mod check_config;
pub mod password_login;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::settings::{RawSettings, Settings, SettingsError};

#[derive(Debug, Parser)]
#[command(
    name = "tvsignin",
    version,
    about = "Sign people in on a TV with the OAuth 2.0 device flow"
)]
pub struct Cli {
    /// The settings file (same keys as the environment).
    #[arg(
        long,
        global = true,
        default_value = "Leptos.toml",
        env = "TVSIGNIN_CONFIG"
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default).
    Serve,
    /// Sign in with a username and password (OAuth 2.0 password grant) and print the profile.
    PasswordLogin(password_login::Args),
    /// Check the settings and the provider, and print a report.
    CheckConfig,
    /// Write the compressed copies (`.br`, `.gz`) of the browser files in DIR, as the server
    /// does at start, for an install where the server cannot write there.
    Precompress {
        /// The directory of the browser files (the site's `pkg`).
        dir: PathBuf,
    },
}

/// Exit code for bad settings or usage.
pub const EXIT_USAGE: u8 = 2;

/// Loads the settings from the config file, `.env` and the environment.
pub fn load_settings(config: &std::path::Path) -> Result<Settings, SettingsError> {
    let raw = RawSettings::load(config, std::path::Path::new(".env"))?;
    Settings::from_raw(&raw)
}

/// Logs go to stderr, filtered by `RUST_LOG` (else `default`).
fn init_tracing(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            init_tracing("info,tower_http=warn");
            let settings = match load_settings(&cli.config) {
                Ok(s) => s,
                Err(error) => {
                    // One line naming the key; nothing starts.
                    tracing::error!("{error}");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            match crate::server::start::run(settings).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!("{error}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::PasswordLogin(args) => {
            // The tools print their own report; logs only when asked for with RUST_LOG.
            init_tracing("off");
            password_login::run(&cli.config, args).await
        }
        Command::CheckConfig => {
            init_tracing("off");
            check_config::run(&cli.config).await
        }
        Command::Precompress { dir } => precompress(&dir),
    }
}

fn precompress(dir: &std::path::Path) -> ExitCode {
    if !dir.is_dir() {
        eprintln!("{}: not a directory", dir.display());
        return ExitCode::from(EXIT_USAGE);
    }
    match crate::server::assets::precompress(dir) {
        Ok(written) => {
            let _ = writeln!(
                std::io::stdout().lock(),
                "{}: compressed {written} of the browser files",
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{}: {error}", dir.display());
            ExitCode::FAILURE
        }
    }
}
