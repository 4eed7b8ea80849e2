//! ID token verification (OpenID Connect Core §3.1.3.7) with the `jsonwebtoken` crate:
//! signature against the provider's JWKS, `iss`, `aud`, `exp` and `iat` with a clock-skew
//! allowance. A device-flow ID token carries no nonce, so none is checked.

use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::secret::IdToken;

/// What a verified ID token tells.
#[derive(Clone, Debug, PartialEq)]
pub struct IdClaims {
    pub sub: String,
    pub claims: serde_json::Map<String, Value>,
}

/// What the token must match.
#[derive(Clone, Debug)]
pub struct Expectations<'a> {
    /// The issuer from discovery. Entra's multi-tenant documents use a `{tenantid}`
    /// placeholder, filled from the token's `tid`.
    pub issuer: Option<&'a str>,
    pub client_id: &'a str,
    pub allowed_algs: &'a [String],
    pub skew: Duration,
    /// Seconds since the Unix epoch.
    pub now: u64,
}

/// Why verification failed.
#[derive(Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// The key id is not in the JWKS: refetch the JWKS once and try again.
    UnknownKey(Option<String>),
    Invalid(String),
}

/// Verifies `token` against `keys`.
pub fn verify(
    token: &IdToken,
    keys: &JwkSet,
    expect: &Expectations<'_>,
) -> Result<IdClaims, VerifyError> {
    let invalid = |m: String| VerifyError::Invalid(m);
    let header = decode_header(token.expose()).map_err(|e| invalid(format!("bad header: {e}")))?;
    let alg_name = format!("{:?}", header.alg);
    if matches!(
        header.alg,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ) {
        return Err(invalid(format!(
            "{alg_name} (a shared-secret algorithm) is not accepted"
        )));
    }
    if !expect.allowed_algs.iter().any(|a| a == &alg_name) {
        return Err(invalid(format!(
            "algorithm {alg_name} is not among the provider's {:?}",
            expect.allowed_algs
        )));
    }
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        // Without a kid, a single key is unambiguous.
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
    .ok_or_else(|| VerifyError::UnknownKey(header.kid.clone()))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| invalid(format!("unusable key: {e}")))?;

    let mut validation = Validation::new(header.alg);
    validation.leeway = expect.skew.as_secs();
    validation.set_audience(&[expect.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let templated = expect.issuer.is_some_and(|i| i.contains("{tenantid}"));
    match expect.issuer {
        Some(issuer) if !templated => validation.set_issuer(&[issuer]),
        _ => {}
    }
    let data = decode::<serde_json::Map<String, Value>>(token.expose(), &key, &validation)
        .map_err(|e| invalid(format!("{e}")))?;
    let claims = data.claims;

    if templated {
        let tid = claims
            .get("tid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let expected = expect.issuer.unwrap_or_default().replace("{tenantid}", tid);
        if claims.get("iss").and_then(Value::as_str) != Some(expected.as_str()) || tid.is_empty() {
            return Err(invalid(
                "iss does not match the tenant-specific issuer".into(),
            ));
        }
    }
    if let Some(iat) = claims.get("iat").and_then(Value::as_u64) {
        if iat > expect.now + expect.skew.as_secs() {
            return Err(invalid("iat is in the future".into()));
        }
    }
    // With several audiences, azp must name this client (Core §3.1.3.7 items 4-5).
    if let Some(Value::Array(auds)) = claims.get("aud") {
        if auds.len() > 1 && claims.get("azp").and_then(Value::as_str) != Some(expect.client_id) {
            return Err(invalid(
                "several audiences and azp is not this client".into(),
            ));
        }
    }
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("no sub".into()))?
        .to_owned();
    Ok(IdClaims { sub, claims })
}
