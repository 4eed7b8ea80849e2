//! `tvsignin password-login`: the OAuth 2.0 password grant from the command line.
//!
//! A diagnostic and automation tool for the person setting up a TV: it signs in with the same
//! settings and provider client as the app, then prints who signed in and their claims. The
//! password grant is deprecated (RFC 9700 §2.4); the app itself only uses the device flow.
//!
//! The password is read without echo, sent only to the token endpoint, and only over TLS or
//! to this machine; it is never printed, logged or put in an error message (provider messages
//! are scrubbed of it, just in case). The tokens are revoked once the claims are printed,
//! unless `--show-tokens` hands them to the person running the command.

use std::future::Future;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use comfy_table::{modifiers, presets, ContentArrangement, Table};
use serde_json::Value;
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::oidc::client::SignedInUser;
use crate::oidc::error::{ErrorCode, ProviderError};
use crate::oidc::secret::Password;
use crate::oidc::token::TokenSet;
use crate::oidc::{ProviderClient, ProviderConfig, ProviderSource};
use crate::settings::{is_this_machine, ProviderChoice};

/// The provider rejected the user's credentials.
pub const EXIT_REJECTED: u8 = 1;
/// Bad settings or usage, including a client the provider refuses.
pub const EXIT_USAGE: u8 = super::EXIT_USAGE;
/// The provider failed or could not be reached.
pub const EXIT_PROVIDER: u8 = 3;
/// Interrupted with Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

const DEPRECATION_NOTE: &str = "Note: the password grant is deprecated by the OAuth 2.0 Security \
     BCP (RFC 9700); the device flow (`tvsignin serve`) is the recommended way to sign in.";

const NO_TERMINAL: &str = "no terminal to prompt on: pass --username and --password-stdin, \
     or set TEST_USERNAME and TEST_PASSWORD";

const AFTER_HELP: &str = "\
Settings are the app's own (Leptos.toml, .env, environment): TENANT_URL or ISSUER, CLIENT_ID,
CLIENT_SECRET, CLIENT_AUTH_METHOD, SCOPE and the endpoint overrides.

Without --username / --password-stdin the command prompts on the terminal; the environment
variables TEST_USERNAME and TEST_PASSWORD skip the prompts for automation.

The password goes only to an https:// token endpoint, or to one on this machine. After the
claims are printed the tokens are revoked, unless --show-tokens prints them for you to use.

Exit codes:
  0    signed in
  1    the provider refused the credentials (e.g. invalid_grant, or HTTP 400, 401 or 403
       with no reason given)
  2    bad settings or usage, or the provider refused the client or scope
       (invalid_client, unauthorized_client, invalid_scope, unsupported_grant_type), or a
       plain http:// token endpoint on another machine
  3    the provider failed (HTTP 5xx, 408, 429) or could not be reached
  130  interrupted (Ctrl-C)";

/// Options of `password-login`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Sign in as this user instead of prompting (or set TEST_USERNAME).
    #[arg(long, value_name = "USERNAME")]
    pub username: Option<String>,
    /// Read the password from the first line of standard input instead of prompting (or set
    /// TEST_PASSWORD).
    #[arg(long)]
    pub password_stdin: bool,
    /// Print the claims as one JSON object (as the provider sent them) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also print the access, refresh and ID tokens, and leave them valid (without this flag
    /// they are revoked once the claims are printed). They are secrets: anyone holding them
    /// can act as the user.
    #[arg(long)]
    pub show_tokens: bool,
}

/// Why the command stopped: an exit code and the one line to print on stderr.
#[derive(Debug)]
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    fn interrupted() -> Self {
        Self {
            code: EXIT_INTERRUPTED,
            message: "interrupted".into(),
        }
    }
}

pub async fn run(config: &Path, args: Args) -> ExitCode {
    match sign_in(config, &args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let _ = writeln!(io::stderr().lock(), "error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

async fn sign_in(config: &Path, args: &Args) -> Result<(), Failure> {
    let settings = super::load_settings(config).map_err(|e| Failure::usage(e.to_string()))?;
    let provider = match settings.provider {
        ProviderChoice::External(provider) => provider,
        // Demo mode: no provider configured, so use the demo provider of the tvsignin server
        // these settings describe (start it with `scripts/run.sh`), over loopback.
        ProviderChoice::Demo { .. } => {
            let port = settings.listen_addr().port();
            let issuer = url::Url::parse(&format!("http://127.0.0.1:{port}/demo-idp"))
                .map_err(|e| Failure::usage(format!("demo issuer: {e}")))?;
            note(&format!(
                "No provider configured: using the demo provider of the tvsignin server on port {port} (not for production)."
            ));
            crate::oidc::ProviderConfig::new(
                crate::oidc::ProviderSource::Issuer(issuer),
                crate::server::start::DEMO_CLIENT_ID,
            )
        }
    };

    note(&format!("Provider:  {}", describe_source(&provider)));
    note(&format!("Client ID: {}", provider.client_id));
    note(&format!("Scope:     {}", provider.scope));
    note(DEPRECATION_NOTE);

    // Decide how the credentials arrive before touching the network: a usage error should not
    // depend on the provider being up.
    let plan = CredentialPlan::decide(args, io::stdin().is_terminal())?;

    let client = ProviderClient::new(provider).map_err(|e| explain(&e, None))?;
    // Discovery first, so an unreachable provider fails before anyone types a password.
    let endpoints = client.endpoints().await.map_err(|e| explain(&e, None))?;
    note(&format!(
        "Token endpoint: {} (client authentication: {})",
        endpoints.token,
        endpoints.auth_method.as_str()
    ));
    // Before anyone types a password: never send it where others on the network can read it.
    refuse_plain_http(&endpoints.token)?;
    if let Some(grants) = &endpoints.grant_types_supported {
        if !grants.iter().any(|g| g == "password") {
            note("Warning: the provider does not list the password grant in grant_types_supported; trying anyway.");
        }
    }

    let (username, password, mut interrupt) = plan.gather()?;
    let confidential = client.config().client_secret.is_some();
    let tokens = interruptible(&mut interrupt, client.password_grant(&username, &password))
        .await?
        .map_err(|e| explain_grant(&e, &password, confidential))?;
    let shown = show(&client, &tokens, args, &password, &mut interrupt).await;
    // Tokens nobody asked for must not outlive the command, whether the claims could be
    // printed or not (with --show-tokens and a failure they were never printed either).
    if !(args.show_tokens && shown.is_ok()) {
        if let Err(failure) = revoke(&client, &tokens, &password, &mut interrupt).await {
            return Err(shown.err().unwrap_or(failure));
        }
    }
    shown
}

/// Fetches who signed in and prints them (and the tokens, with `--show-tokens`).
async fn show(
    client: &ProviderClient,
    tokens: &TokenSet,
    args: &Args,
    password: &Password,
    interrupt: &mut Option<Signal>,
) -> Result<(), Failure> {
    let user = interruptible(interrupt, client.complete_sign_in(tokens))
        .await?
        .map_err(|e| explain(&e, Some(password)))?;

    if args.json {
        note(&format!("Signed in as {}", clean(&user.display_name)));
        let mut output = Value::Object(user.raw.clone());
        if args.show_tokens {
            output = serde_json::json!({ "claims": output, "tokens": tokens_json(tokens) });
        }
        let text = serde_json::to_string_pretty(&output).unwrap_or_default();
        out(&text)?;
    } else {
        let mut text = format!(
            "Signed in as {}\n{}\n",
            clean(&user.display_name),
            claims_table(&user)
        );
        if args.show_tokens {
            text.push_str(&tokens_text(tokens));
        }
        out(text.trim_end())?;
    }
    Ok(())
}

/// Revokes the tokens at the provider and says so on stderr. Only a Ctrl-C is a failure: the
/// sign-in itself worked, so a provider that cannot revoke gets a warning.
async fn revoke(
    client: &ProviderClient,
    tokens: &TokenSet,
    password: &Password,
    interrupt: &mut Option<Signal>,
) -> Result<(), Failure> {
    match interruptible(interrupt, client.revoke(tokens)).await? {
        Ok(true) => note("Tokens revoked (--show-tokens prints them and leaves them valid)."),
        Ok(false) => note(
            "The provider has no revocation endpoint: the tokens stay valid until they expire.",
        ),
        Err(e) => note(&scrub(
            format!(
                "Warning: the tokens could not be revoked ({}); they stay valid until they expire.",
                clean(&e.to_string())
            ),
            Some(password),
        )),
    }
    Ok(())
}

/// Refuses a token endpoint that would carry the password unencrypted across a network.
fn refuse_plain_http(token_endpoint: &url::Url) -> Result<(), Failure> {
    if token_endpoint.scheme() == "https" || is_this_machine(token_endpoint) {
        return Ok(());
    }
    Err(Failure::usage(format!(
        "configuration problem: the token endpoint {token_endpoint} is not https://, so the \
         password would cross the network unencrypted; use the provider's https:// address \
         (plain http:// is accepted only on this machine)"
    )))
}

/// A line on stderr (progress and notes; stdout carries only the result).
fn note(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// The result on stdout. A closed pipe is not worth a panic, but it is a failure.
fn out(text: &str) -> Result<(), Failure> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure {
            code: EXIT_PROVIDER,
            message: format!("cannot write the result: {e}"),
        })
}

fn describe_source(config: &ProviderConfig) -> String {
    match &config.source {
        ProviderSource::Issuer(_) => format!("{} (ISSUER)", config.source.display()),
        ProviderSource::Tenant(_) => format!("{} (TENANT_URL)", config.source.display()),
        ProviderSource::Manual => match &config.overrides.token {
            Some(token) => format!("{token} (TOKEN_ENDPOINT, no discovery)"),
            None => config.source.display(),
        },
    }
}

/// Where the username and password come from.
#[derive(Debug)]
struct CredentialPlan {
    username: Option<String>,
    password: PasswordSource,
    /// Prompts read standard input, which is a terminal.
    interactive: bool,
}

#[derive(Debug)]
enum PasswordSource {
    Given(Password),
    Stdin,
    Prompt,
}

fn env_value(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

impl CredentialPlan {
    /// Flags win over the environment; prompting needs a terminal on standard input.
    fn decide(args: &Args, stdin_is_terminal: bool) -> Result<Self, Failure> {
        let username = args.username.clone().or_else(|| env_value("TEST_USERNAME"));
        let password = if args.password_stdin {
            PasswordSource::Stdin
        } else if let Some(password) = env_value("TEST_PASSWORD") {
            PasswordSource::Given(Password::new(password))
        } else {
            PasswordSource::Prompt
        };
        if args.password_stdin && username.is_none() {
            return Err(Failure::usage(
                "--password-stdin needs --username (or TEST_USERNAME)",
            ));
        }
        let needs_prompt = username.is_none() || matches!(password, PasswordSource::Prompt);
        if needs_prompt && !stdin_is_terminal {
            return Err(Failure::usage(NO_TERMINAL));
        }
        Ok(Self {
            username,
            password,
            interactive: stdin_is_terminal,
        })
    }

    /// Prompts or reads as planned. Returns the Ctrl-C listener installed for the password
    /// prompt, if there was one.
    fn gather(self) -> Result<(String, Password, Option<Signal>), Failure> {
        let username = match self.username {
            Some(username) => username,
            None => prompt_username()?,
        };
        let username = username.trim().to_owned();
        if username.is_empty() {
            return Err(Failure::usage("no username given"));
        }
        let mut interrupt = None;
        let password = match self.password {
            PasswordSource::Given(password) => password,
            PasswordSource::Stdin if !self.interactive => read_password_line()?,
            PasswordSource::Stdin | PasswordSource::Prompt => {
                // rpassword turns echo off and reads Ctrl-C itself, then raises SIGINT. Without a
                // handler that would kill the process before the terminal is restored, so listen
                // for it from here on (and stop waiting for the provider on Ctrl-C too).
                interrupt = signal(SignalKind::interrupt()).ok();
                match rpassword::prompt_password("Password: ") {
                    Ok(password) => Password::new(password),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                        return Err(Failure::interrupted())
                    }
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        return Err(Failure::usage("no password given"))
                    }
                    Err(e) => {
                        return Err(Failure::usage(format!(
                            "cannot read the password from the terminal: {e}"
                        )))
                    }
                }
            }
        };
        if password.expose().is_empty() {
            return Err(Failure::usage("no password given"));
        }
        Ok((username, password, interrupt))
    }
}

fn prompt_username() -> Result<String, Failure> {
    {
        let mut stderr = io::stderr().lock();
        let _ = write!(stderr, "Username: ");
        let _ = stderr.flush();
    }
    let mut line = String::new();
    io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::usage(format!("cannot read the username: {e}")))?;
    if line.is_empty() {
        // End of input (Ctrl-D): end the prompt's line.
        note("");
    }
    Ok(line)
}

/// `--password-stdin`: the first line of standard input, without its line ending.
fn read_password_line() -> Result<Password, Failure> {
    let mut line = String::new();
    io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|_| Failure::usage("cannot read the password from standard input"))?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(Failure::usage("no password on standard input"));
    }
    Ok(Password::new(password))
}

/// Runs `work`, unless Ctrl-C comes first.
async fn interruptible<T>(
    interrupt: &mut Option<Signal>,
    work: impl Future<Output = T>,
) -> Result<T, Failure> {
    match interrupt {
        Some(signal) => tokio::select! {
            value = work => Ok(value),
            _ = signal.recv() => Err(Failure::interrupted()),
        },
        None => Ok(work.await),
    }
}

/// What the token endpoint's answer to the password grant means. Providers that refuse the
/// credentials without an OAuth error body (a bare 401 or 403, sometimes 400, where RFC 6749
/// says 400 `invalid_grant`) refused the person, not failed: exit 1, in words.
fn explain_grant(error: &ProviderError, password: &Password, confidential: bool) -> Failure {
    // The token endpoint's own answer; a status from anywhere else (discovery reloaded on the
    // way) says nothing about the credentials.
    let status = match error {
        ProviderError::Status { endpoint, status } if endpoint == "token_endpoint" => *status,
        _ => return explain(error, Some(password)),
    };
    let (code, message) = match status {
        400 | 401 | 403 => {
            let client = if confidential {
                "CLIENT_SECRET, CLIENT_AUTH_METHOD and whether CLIENT_ID may use the password grant"
            } else {
                "whether CLIENT_ID may use the password grant"
            };
            (
                EXIT_REJECTED,
                format!(
                    "sign-in rejected: the provider refused it with HTTP {status} and gave no \
                     reason. Check the username and password; if they are right, check {client}."
                ),
            )
        }
        404 | 405 | 410 | 415 => (
            EXIT_USAGE,
            format!(
                "configuration problem: the token endpoint answered HTTP {status}: it is not \
                 where the settings point (check ISSUER, TENANT_URL or TOKEN_ENDPOINT)"
            ),
        ),
        // 5xx, 408, 429 and anything stranger: the provider's trouble, maybe passing.
        _ => return explain(error, Some(password)),
    };
    Failure { code, message }
}

/// What a provider error means for the person running the command.
fn explain(error: &ProviderError, password: Option<&Password>) -> Failure {
    let (code, message) = match error.oauth() {
        Some(oauth) => {
            let text = clean(&oauth.to_string());
            match &oauth.code {
                ErrorCode::InvalidGrant | ErrorCode::AccessDenied => (EXIT_REJECTED, format!("sign-in rejected: {text}")),
                ErrorCode::Other(other)
                    if matches!(
                        other.as_str(),
                        "invalid_user" | "invalid_credentials" | "account_locked" | "user_locked" | "mfa_required"
                            | "interaction_required" | "login_required" | "consent_required"
                    ) =>
                {
                    (EXIT_REJECTED, format!("sign-in rejected: {text}"))
                }
                ErrorCode::InvalidClient => (
                    EXIT_USAGE,
                    format!(
                        "configuration problem: {text} (the provider does not accept this client: \
                         check CLIENT_ID, CLIENT_SECRET and CLIENT_AUTH_METHOD)"
                    ),
                ),
                ErrorCode::UnauthorizedClient | ErrorCode::UnsupportedGrantType => (
                    EXIT_USAGE,
                    format!(
                        "configuration problem: {text} (this client may not use the password grant: \
                         allow it for CLIENT_ID at the provider, or use the device flow)"
                    ),
                ),
                ErrorCode::InvalidScope => {
                    (EXIT_USAGE, format!("configuration problem: {text} (check SCOPE)"))
                }
                ErrorCode::InvalidRequest => {
                    (EXIT_USAGE, format!("configuration problem: {text} (check the settings)"))
                }
                _ => (EXIT_PROVIDER, format!("provider failure: {text}")),
            }
        }
        // The settings can fix these: a missing endpoint, a token type this client cannot use.
        None if matches!(error, ProviderError::Unsupported(_)) => (
            EXIT_USAGE,
            format!("configuration problem: {}", clean(&error.to_string())),
        ),
        None => (
            EXIT_PROVIDER,
            format!("provider or network failure: {}", clean(&error.to_string())),
        ),
    };
    Failure {
        code,
        message: scrub(message, password),
    }
}

/// Removes the password from text that may have come from the provider.
fn scrub(text: String, password: Option<&Password>) -> String {
    match password.map(Password::expose) {
        Some(secret) if !secret.is_empty() && text.contains(secret) => {
            text.replace(secret, "[redacted]")
        }
        _ => text,
    }
}

/// Provider text is untrusted: control characters (terminal escapes, newlines) are shown
/// escaped rather than sent to the terminal.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn claims_table(user: &SignedInUser) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .apply_modifier(modifiers::UTF8_ROUND_CORNERS)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec!["Claim", "Value"]);
    for (name, value) in &user.claims {
        table.add_row(vec![clean(name), clean(value)]);
    }
    table
}

fn tokens_json(tokens: &TokenSet) -> Value {
    serde_json::json!({
        "token_type": "Bearer",
        "access_token": tokens.access_token.expose(),
        "expires_in": tokens.expires_in.map(|d| d.as_secs()),
        "refresh_token": tokens.refresh_token.as_ref().map(|t| t.expose()),
        "id_token": tokens.id_token.as_ref().map(|t| t.expose()),
        "scope": tokens.scope,
    })
}

fn tokens_text(tokens: &TokenSet) -> String {
    let mut lines = vec![
        String::new(),
        "Tokens (secrets: anyone holding them can act as this user):".to_owned(),
        format!(
            "  access_token (Bearer): {}",
            clean(tokens.access_token.expose())
        ),
    ];
    if let Some(expires_in) = tokens.expires_in {
        lines.push(format!(
            "  expires_in:            {} s",
            expires_in.as_secs()
        ));
    }
    if let Some(scope) = &tokens.scope {
        lines.push(format!("  scope:                 {}", clean(scope)));
    }
    let none = "(none)".to_owned();
    lines.push(format!(
        "  refresh_token:         {}",
        tokens
            .refresh_token
            .as_ref()
            .map_or(none.clone(), |t| clean(t.expose()))
    ));
    lines.push(format!(
        "  id_token:              {}",
        tokens.id_token.as_ref().map_or(none, |t| clean(t.expose()))
    ));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::error::OAuthError;

    fn oauth(code: &str, description: &str) -> ProviderError {
        ProviderError::OAuth(OAuthError {
            code: ErrorCode::parse(code),
            description: Some(description.into()),
        })
    }

    #[test]
    fn exit_codes_follow_whose_problem_it_is() {
        let cases = [
            ("invalid_grant", EXIT_REJECTED),
            ("access_denied", EXIT_REJECTED),
            ("invalid_client", EXIT_USAGE),
            ("unauthorized_client", EXIT_USAGE),
            ("unsupported_grant_type", EXIT_USAGE),
            ("invalid_scope", EXIT_USAGE),
            ("server_error", EXIT_PROVIDER),
            ("temporarily_unavailable", EXIT_PROVIDER),
        ];
        for (code, exit) in cases {
            let failure = explain(&oauth(code, "why"), None);
            assert_eq!(failure.code, exit, "{code}");
            assert!(
                failure.message.contains(&format!("{code}: why")),
                "{}",
                failure.message
            );
        }
        let down = ProviderError::Unreachable {
            endpoint: "token_endpoint".into(),
            detail: "refused".into(),
        };
        assert_eq!(explain(&down, None).code, EXIT_PROVIDER);
        let status = ProviderError::Status {
            endpoint: "token_endpoint".into(),
            status: 503,
        };
        assert_eq!(explain(&status, None).code, EXIT_PROVIDER);
        assert_eq!(
            explain(
                &ProviderError::Unsupported("set TOKEN_ENDPOINT".into()),
                None
            )
            .code,
            EXIT_USAGE
        );
    }

    #[test]
    fn a_bare_refusal_of_the_password_grant_is_a_rejection() {
        let password = Password::new("pw");
        let status = |endpoint: &str, status| ProviderError::Status {
            endpoint: endpoint.into(),
            status,
        };
        let cases = [
            (400, EXIT_REJECTED),
            (401, EXIT_REJECTED),
            (403, EXIT_REJECTED),
            (404, EXIT_USAGE),
            (405, EXIT_USAGE),
            (408, EXIT_PROVIDER),
            (429, EXIT_PROVIDER),
            (500, EXIT_PROVIDER),
            (503, EXIT_PROVIDER),
        ];
        for (code, exit) in cases {
            let failure = explain_grant(&status("token_endpoint", code), &password, false);
            assert_eq!(failure.code, exit, "{code}: {}", failure.message);
            assert!(
                failure.message.contains(&format!("HTTP {code}")),
                "{}",
                failure.message
            );
        }
        let refused = explain_grant(&status("token_endpoint", 401), &password, true);
        assert!(
            refused.message.contains("username and password")
                && refused.message.contains("CLIENT_SECRET"),
            "{}",
            refused.message
        );
        // A status from elsewhere says nothing about the credentials.
        let discovery = explain_grant(&status("discovery", 403), &password, false);
        assert_eq!(discovery.code, EXIT_PROVIDER, "{}", discovery.message);
        // OAuth errors keep their meaning.
        let client = explain_grant(&oauth("invalid_client", "no"), &password, true);
        assert_eq!(client.code, EXIT_USAGE);
    }

    #[test]
    fn the_password_goes_only_over_tls_or_to_this_machine() {
        let cases = [
            ("https://idp.example/token", true),
            ("http://127.0.0.1:8080/token", true),
            ("http://localhost/token", true),
            ("http://[::1]:9/token", true),
            ("http://idp.example/token", false),
            ("http://10.0.0.5/token", false),
        ];
        for (url, allowed) in cases {
            let result = refuse_plain_http(&url::Url::parse(url).unwrap());
            assert_eq!(result.is_ok(), allowed, "{url}: {result:?}");
            if let Err(failure) = result {
                assert_eq!(failure.code, EXIT_USAGE);
                assert!(failure.message.contains(url), "{}", failure.message);
            }
        }
    }

    #[test]
    fn provider_text_cannot_leak_the_password_or_drive_the_terminal() {
        let password = Password::new("s3cret-pw");
        let failure = explain(
            &oauth("invalid_grant", "bad password s3cret-pw\x1b[2J"),
            Some(&password),
        );
        assert!(
            !failure.message.contains("s3cret-pw"),
            "{}",
            failure.message
        );
        assert!(!failure.message.contains('\x1b'), "{}", failure.message);
        assert!(failure.message.contains("[redacted]"));
    }

    fn args(username: Option<&str>, password_stdin: bool) -> Args {
        Args {
            username: username.map(str::to_owned),
            password_stdin,
            json: false,
            show_tokens: false,
        }
    }

    #[test]
    fn without_a_terminal_the_credentials_must_be_given() {
        // TEST_USERNAME / TEST_PASSWORD are not set in unit tests (the integration tests cover
        // them through the binary).
        if env_value("TEST_USERNAME").is_some() || env_value("TEST_PASSWORD").is_some() {
            return;
        }
        let err = CredentialPlan::decide(&args(None, false), false).unwrap_err();
        assert_eq!(err.code, EXIT_USAGE);
        assert!(err.message.contains("no terminal"), "{}", err.message);
        let err = CredentialPlan::decide(&args(Some("alice"), false), false).unwrap_err();
        assert!(err.message.contains("no terminal"), "{}", err.message);
        let err = CredentialPlan::decide(&args(None, true), false).unwrap_err();
        assert!(
            err.message.contains("--password-stdin needs --username"),
            "{}",
            err.message
        );
        let plan = CredentialPlan::decide(&args(Some("alice"), true), false).unwrap();
        assert!(matches!(plan.password, PasswordSource::Stdin));
        let plan = CredentialPlan::decide(&args(None, false), true).unwrap();
        assert!(plan.username.is_none() && matches!(plan.password, PasswordSource::Prompt));
    }
}
