//! The integration tests, built as one binary so the whole app is linked once: a module per
//! area, and `support` for the fixtures they share (the app in-process, the real binary as a
//! child process, providers, Redis, a TV and a phone).
//!
//! All tests run as threads of this one process, so none may change what the process shares:
//! no environment variables, no current directory, no process-wide tracing subscriber or
//! resource limit. A test that needs a process of its own (other settings, a limit, its
//! logs) runs the real binary as a child.

#![cfg(feature = "ssr")]

mod support;

mod architecture;
mod check_config;
#[cfg(feature = "demo")]
mod demo_idp;
#[cfg(feature = "demo")]
mod demo_phone_language;
mod faults;
mod fleet;
#[cfg(feature = "demo")]
mod forward_auth;
mod local_provider;
#[cfg(feature = "demo")]
mod metrics;
mod no_secrets_in_logs;
mod password_login;
mod provider_quirks;
#[cfg(feature = "demo")]
mod resources;
#[cfg(feature = "demo")]
mod sessions;
mod startup;
mod tv_leaves;
