//! Errors at the boundary between the server and the browser. The cause is logged on the
//! server; the browser gets a plain sentence and never a provider's raw answer.
//!
//! Policy: every server function returns `Result<_, AppError>`; nothing else crosses to the
//! browser. Provider errors are logged with their detail and shown as one of the sentences
//! below.

use std::fmt;
use std::str::FromStr;

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What the browser can be told.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppError {
    /// The request lacks the session cookie (cookies disabled, or a cross-site request).
    NoSession,
    /// The request was malformed or not allowed.
    BadRequest(String),
    /// Something failed on the server; details are in the server log.
    Internal,
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSession => {
                f.write_str("This screen needs cookies to sign in. Reload the page.")
            }
            Self::BadRequest(m) => f.write_str(m),
            Self::Internal => f.write_str("Something went wrong. Try again in a moment."),
        }
    }
}

impl std::error::Error for AppError {}

impl FromStr for AppError {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        serde_json::from_str(s).map_err(|_| ())
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::Deserialization(m) => {
                AppError::BadRequest(format!("The request was not understood ({m})."))
            }
            _ => AppError::Internal,
        }
    }
}
