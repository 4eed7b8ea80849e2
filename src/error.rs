//! Errors at the boundary between the server and the browser. The cause is logged on the
//! server; the browser gets a plain sentence and never a provider's raw answer.
//!
//! Policy: every server function returns `Result<_, AppError>`; nothing else crosses to the
//! browser. Provider errors are logged with their detail and shown as one of the sentences
//! below. Where the TV page shows the sentence itself (its first load failed, so it has no
//! messages yet), the server sends it already in the request's language ([`AppError::Told`]).

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
    /// One of the above as the server told it, in the language of the request.
    Told(String),
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSession => {
                f.write_str("This screen needs cookies to sign in. Reload the page.")
            }
            Self::BadRequest(m) | Self::Told(m) => f.write_str(m),
            Self::Internal => f.write_str("Something went wrong. Try again in a moment."),
        }
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// This error with its sentence in the language of `texts` (`locales/*/main.ftl`).
    pub fn told_in(self, texts: &crate::i18n::catalog::Bundle) -> Self {
        let id = match self {
            Self::NoSession => "error-no-session",
            Self::Internal => "error-internal",
            Self::BadRequest(_) | Self::Told(_) => return self,
        };
        Self::Told(texts.format(id, &[]))
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

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::i18n::catalog::{Catalog, LANGUAGES, SCREENS};

    #[test]
    fn the_first_load_sentences_are_told_in_the_page_language() {
        let catalog = Catalog::new(SCREENS, &[]);
        let german = catalog.get("de");
        assert_eq!(
            AppError::NoSession.told_in(german).to_string(),
            "Dieser Bildschirm braucht Cookies für die Anmeldung. Laden Sie die Seite neu."
        );
        assert_eq!(
            AppError::Internal.told_in(german).to_string(),
            "Etwas ist schiefgelaufen. Versuchen Sie es gleich noch einmal."
        );
        // English says what the untold errors say; a request's own words stay as they are.
        let english = catalog.get("en");
        for error in [AppError::NoSession, AppError::Internal] {
            assert_eq!(
                error.clone().told_in(english).to_string(),
                error.to_string()
            );
        }
        let bad = AppError::BadRequest("x".into());
        assert_eq!(bad.clone().told_in(german), bad);
        // Every language has its own sentence, and it crosses to the browser as it is.
        for lang in &LANGUAGES[1..] {
            let told = AppError::Internal.told_in(catalog.get(lang));
            assert_ne!(told.to_string(), AppError::Internal.to_string(), "{lang}");
            let json = serde_json::to_string(&told).unwrap();
            assert_eq!(json.parse::<AppError>(), Ok(told));
        }
    }
}
