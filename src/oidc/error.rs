//! Errors from talking to the provider. Each carries enough to log the cause server-side;
//! [`ProviderError::user_message`] is the plain sentence a person may see.

use std::fmt;

/// An OAuth 2.0 `error` code. Unknown codes are kept, never rejected (RFC 6749 §5.2 lets
/// providers add their own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    AuthorizationPending,
    SlowDown,
    AccessDenied,
    ExpiredToken,
    InvalidGrant,
    InvalidClient,
    InvalidRequest,
    InvalidScope,
    UnauthorizedClient,
    UnsupportedGrantType,
    Other(String),
}

impl ErrorCode {
    pub fn parse(code: &str) -> Self {
        match code {
            "authorization_pending" => Self::AuthorizationPending,
            "slow_down" => Self::SlowDown,
            "access_denied" => Self::AccessDenied,
            "expired_token" => Self::ExpiredToken,
            "invalid_grant" => Self::InvalidGrant,
            "invalid_client" => Self::InvalidClient,
            "invalid_request" => Self::InvalidRequest,
            "invalid_scope" => Self::InvalidScope,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::AccessDenied => "access_denied",
            Self::ExpiredToken => "expired_token",
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidClient => "invalid_client",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidScope => "invalid_scope",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::Other(code) => code,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error response from the provider (RFC 6749 §5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Option<String>,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.description {
            Some(d) => write!(f, "{}: {}", self.code, d),
            None => write!(f, "{}", self.code),
        }
    }
}

/// Everything that can go wrong talking to the provider.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider answered with an OAuth error.
    #[error("{0}")]
    OAuth(OAuthError),
    /// Could not connect, or the connection broke.
    #[error("cannot reach {endpoint}: {detail}")]
    Unreachable { endpoint: String, detail: String },
    /// No answer in time.
    #[error("{endpoint} did not answer in time")]
    Timeout { endpoint: String },
    /// A 5xx, or another status with no OAuth error in the body.
    #[error("{endpoint} answered HTTP {status}")]
    Status { endpoint: String, status: u16 },
    /// The body is not what the protocol says it must be.
    #[error("{endpoint} sent a malformed response: {detail}")]
    Malformed { endpoint: String, detail: String },
    /// The body is larger than any sane response.
    #[error("{endpoint} sent more than {limit} bytes")]
    TooLarge { endpoint: String, limit: usize },
    /// The provider does not offer what the settings need.
    #[error("{0}")]
    Unsupported(String),
    /// The ID token failed verification.
    #[error("ID token rejected: {0}")]
    InvalidIdToken(String),
    /// Discovery names another issuer than the settings, or none (OpenID Connect Discovery
    /// §4.3: they must be identical). `found` is the provider's text, shown quoted.
    #[error("discovery names the issuer {found}, but the settings name {expected}; they must be identical")]
    IssuerMismatch { expected: String, found: String },
    /// A provider URL the client refuses to use (see [`super::url_policy`]).
    #[error("{name} {url} {reason}")]
    UntrustedUrl {
        name: String,
        url: String,
        reason: &'static str,
    },
}

impl ProviderError {
    /// Whether retrying later may help (network trouble, overload), as opposed to a definite
    /// answer.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Timeout { .. } | Self::Malformed { .. } => true,
            Self::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            Self::TooLarge { .. }
            | Self::OAuth(_)
            | Self::Unsupported(_)
            | Self::InvalidIdToken(_)
            | Self::IssuerMismatch { .. }
            | Self::UntrustedUrl { .. } => false,
        }
    }

    /// The OAuth error, when the provider sent one.
    pub fn oauth(&self) -> Option<&OAuthError> {
        match self {
            Self::OAuth(e) => Some(e),
            _ => None,
        }
    }

    /// A short stable label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::OAuth(_) => "oauth_error",
            Self::Unreachable { .. } => "unreachable",
            Self::Timeout { .. } => "timeout",
            Self::Status { .. } => "http_status",
            Self::Malformed { .. } => "malformed",
            Self::TooLarge { .. } => "too_large",
            Self::Unsupported(_) => "unsupported",
            Self::InvalidIdToken(_) => "invalid_id_token",
            Self::IssuerMismatch { .. } => "issuer_mismatch",
            Self::UntrustedUrl { .. } => "untrusted_url",
        }
    }

    /// A plain sentence for a person looking at the TV.
    pub fn user_message(&self) -> &'static str {
        if self.is_transient() {
            "Can't reach the sign-in service, retrying..."
        } else {
            "The sign-in service refused the request."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_are_kept() {
        assert_eq!(ErrorCode::parse("slow_down"), ErrorCode::SlowDown);
        let other = ErrorCode::parse("consent_required");
        assert_eq!(other, ErrorCode::Other("consent_required".into()));
        assert_eq!(other.as_str(), "consent_required");
    }
}
