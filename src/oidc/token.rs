//! Token responses (RFC 6749 §5.1): the token set a grant yields.

use std::time::Duration;

use super::error::ProviderError;
use super::http::{string_field, u64_field, ProviderResponse};
use super::secret::{AccessToken, IdToken, RefreshToken};

/// Tokens from a successful grant or refresh.
#[derive(Clone, Debug)]
pub struct TokenSet {
    pub access_token: AccessToken,
    pub refresh_token: Option<RefreshToken>,
    pub id_token: Option<IdToken>,
    pub expires_in: Option<Duration>,
    pub scope: Option<String>,
}

impl TokenSet {
    /// Parses a token response. `token_type` must be Bearer in any letter case.
    pub fn parse(response: &ProviderResponse) -> Result<Self, ProviderError> {
        let map = response.success_object()?;
        let access_token = string_field(&map, "access_token")
            .ok_or_else(|| response.malformed("no access_token in the token response".into()))?;
        match string_field(&map, "token_type") {
            Some(t) if t.eq_ignore_ascii_case("bearer") => {}
            // Some servers leave token_type out; Bearer is the only type this client can use.
            None => {}
            Some(other) => {
                return Err(ProviderError::Unsupported(format!(
                    "the provider issued a {other:?} token; only Bearer tokens are supported"
                )))
            }
        }
        Ok(Self {
            access_token: AccessToken::new(access_token),
            refresh_token: string_field(&map, "refresh_token").map(RefreshToken::new),
            id_token: string_field(&map, "id_token").map(IdToken::new),
            expires_in: u64_field(&map, "expires_in").map(Duration::from_secs),
            scope: string_field(&map, "scope"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<TokenSet, ProviderError> {
        TokenSet::parse(&ProviderResponse {
            endpoint: "token".into(),
            status: 200,
            content_type: Some("application/json".into()),
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn token_type_in_any_case() {
        for t in ["Bearer", "bearer", "BEARER"] {
            let s = parse(&format!(
                r#"{{"access_token":"a","token_type":"{t}","expires_in":3600}}"#
            ))
            .unwrap();
            assert_eq!(s.expires_in, Some(Duration::from_secs(3600)));
        }
        assert!(parse(r#"{"access_token":"a","token_type":"mac"}"#).is_err());
        assert!(parse(r#"{"token_type":"Bearer"}"#).is_err());
    }

    #[test]
    fn optional_tokens() {
        let s = parse(
            r#"{"access_token":"a","token_type":"Bearer","refresh_token":"r","id_token":"i"}"#,
        )
        .unwrap();
        assert_eq!(s.refresh_token.unwrap().expose(), "r");
        assert_eq!(s.id_token.unwrap().expose(), "i");
    }
}
