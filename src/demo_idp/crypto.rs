//! The demo provider's keys and randomness, all from `ring`: the ES256 (P-256) key that signs
//! ID tokens (made at start, published in the JWKS with an RFC 7638 thumbprint as `kid`), an
//! HMAC key for the phone page's CSRF tokens and tickets, random opaque tokens and user codes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::error::Unspecified;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value};

use crate::assertion::AssertionKey;

/// The ID token signing algorithm, as discovery names it.
pub const ID_TOKEN_ALG: &str = crate::assertion::ALGORITHM;

/// RFC 8628 §6.1: 20 consonants, no vowels (no words) and no look-alikes.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Characters in a user code (without the dash).
pub const USER_CODE_LEN: usize = 8;

/// Everything secret the provider holds.
pub struct Keys {
    rng: SystemRandom,
    /// The ID token key: the same ES256 key type the forward-auth assertion uses.
    signing: AssertionKey,
    mac: hmac::Key,
}

impl Keys {
    /// A new P-256 key pair and HMAC key.
    pub fn generate() -> Result<Self, Unspecified> {
        let rng = SystemRandom::new();
        let signing = AssertionKey::generate().map_err(|_| Unspecified)?;
        let mac = hmac::Key::generate(hmac::HMAC_SHA256, &rng)?;
        Ok(Self { rng, signing, mac })
    }

    /// The JWK set to publish.
    pub fn jwks(&self) -> Value {
        self.signing.jwks()
    }

    /// Signs an ID token.
    pub fn sign(&self, claims: &Map<String, Value>) -> Result<String, jsonwebtoken::errors::Error> {
        self.signing.sign(claims)
    }

    /// `bytes` random bytes, base64url without padding (32 bytes: 256 bits, 43 characters).
    pub fn token(&self, bytes: usize) -> Result<String, Unspecified> {
        let mut buf = vec![0u8; bytes];
        self.rng.fill(&mut buf)?;
        Ok(URL_SAFE_NO_PAD.encode(buf))
    }

    /// A user code: 8 characters drawn uniformly from [`USER_CODE_ALPHABET`] (bytes of 240 and
    /// above are rejected, so every character is equally likely). Normalized form, no dash.
    pub fn user_code(&self) -> Result<String, Unspecified> {
        let mut code = String::with_capacity(USER_CODE_LEN);
        let mut buf = [0u8; 32];
        // 32 bytes nearly always suffice; each round fails with probability < 1e-20.
        for _ in 0..8 {
            self.rng.fill(&mut buf)?;
            code.extend(user_code_chars(&buf).take(USER_CODE_LEN - code.len()));
            if code.len() == USER_CODE_LEN {
                return Ok(code);
            }
        }
        Err(Unspecified)
    }

    /// A MAC over `parts` (length-prefixed, so parts cannot run into each other), base64url.
    pub fn mac(&self, label: &str, parts: &[&str]) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.mac, &mac_input(label, parts)))
    }

    /// Checks a MAC from [`Keys::mac`] in constant time.
    pub fn verify_mac(&self, label: &str, parts: &[&str], mac: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(mac.trim()) {
            Ok(tag) => hmac::verify(&self.mac, &mac_input(label, parts), &tag).is_ok(),
            Err(_) => false,
        }
    }

    /// Compares two secrets (passwords) without leaking where they differ.
    pub fn same_secret(&self, given: &str, expected: &str) -> bool {
        let tag = hmac::sign(&self.mac, &mac_input("secret", &[expected]));
        hmac::verify(&self.mac, &mac_input("secret", &[given]), tag.as_ref()).is_ok()
    }
}

fn mac_input(label: &str, parts: &[&str]) -> Vec<u8> {
    let mut input = Vec::new();
    for part in std::iter::once(label).chain(parts.iter().copied()) {
        input.extend_from_slice(&(part.len() as u64).to_be_bytes());
        input.extend_from_slice(part.as_bytes());
    }
    input
}

/// Maps random bytes to alphabet characters, skipping bytes that would bias the result.
fn user_code_chars(random: &[u8]) -> impl Iterator<Item = char> + '_ {
    let usable = 256 - 256 % USER_CODE_ALPHABET.len();
    random
        .iter()
        .filter(move |b| usize::from(**b) < usable)
        .map(|b| char::from(USER_CODE_ALPHABET[usize::from(*b) % USER_CODE_ALPHABET.len()]))
}

/// What a person typed, normalized: letters upper-cased, dashes and whitespace dropped. `None`
/// unless exactly 8 characters of the alphabet remain.
pub fn normalize_user_code(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid =
        code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    valid.then_some(code)
}

/// A normalized code as people see it: `XXXX-XXXX`.
pub fn display_user_code(code: &str) -> String {
    match (code.get(..4), code.get(4..)) {
        (Some(head), Some(tail)) if !tail.is_empty() => format!("{head}-{tail}"),
        _ => code.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::Algorithm;
    use serde_json::json;

    use super::*;

    #[test]
    fn user_codes_use_the_alphabet() {
        let keys = Keys::generate().unwrap();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let code = keys.user_code().unwrap();
            assert_eq!(code.len(), 8);
            assert!(
                code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)),
                "{code}"
            );
            seen.insert(code);
        }
        assert!(seen.len() > 195, "codes repeat too often");
    }

    #[test]
    fn biased_bytes_are_skipped() {
        let chars: String = user_code_chars(&[0, 19, 20, 239, 240, 255]).collect();
        assert_eq!(chars, "BZBZ");
    }

    #[test]
    fn normalization() {
        assert_eq!(
            normalize_user_code("bcdf-ghjk").as_deref(),
            Some("BCDFGHJK")
        );
        assert_eq!(
            normalize_user_code(" BCDF GHJK ").as_deref(),
            Some("BCDFGHJK")
        );
        assert_eq!(normalize_user_code("bcdfghjk").as_deref(), Some("BCDFGHJK"));
        assert_eq!(
            normalize_user_code("BCDF-GHJA"),
            None,
            "vowels are not in the alphabet"
        );
        assert_eq!(normalize_user_code("BCDF-GHJ"), None);
        assert_eq!(normalize_user_code("BCDFGHJKL"), None);
        assert_eq!(display_user_code("BCDFGHJK"), "BCDF-GHJK");
    }

    #[test]
    fn macs_bind_every_part() {
        let keys = Keys::generate().unwrap();
        let mac = keys.mac("csrf", &["flow", "code"]);
        assert!(keys.verify_mac("csrf", &["flow", "code"], &mac));
        assert!(!keys.verify_mac("csrf", &["flowc", "ode"], &mac));
        assert!(!keys.verify_mac("ticket", &["flow", "code"], &mac));
        assert!(!keys.verify_mac("csrf", &["flow", "code"], "not base64!"));
        assert!(keys.same_secret("alice-demo", "alice-demo"));
        assert!(!keys.same_secret("alice-dem", "alice-demo"));
    }

    #[test]
    fn jwk_has_a_thumbprint_kid_and_tokens_verify() {
        let keys = Keys::generate().unwrap();
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(keys.jwks()).unwrap();
        let jwk = set.keys.first().unwrap();
        assert_eq!(jwk.common.key_id.as_deref(), Some(keys.signing.kid()));
        let mut claims = Map::new();
        claims.insert("sub".into(), json!("demo-alice"));
        claims.insert("exp".into(), json!(4_000_000_000u64));
        let token = keys.sign(&claims).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Map<String, Value>>(&token, &key, &validation).unwrap();
        assert_eq!(data.claims["sub"], "demo-alice");
        assert_eq!(keys.token(32).unwrap().len(), 43);
    }
}
