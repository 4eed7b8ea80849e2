//! The signed identity assertion for apps behind the forward-auth check: a short-lived JWT
//! (ES256, P-256) that tvsignin signs and an app may verify against the key set tvsignin
//! publishes, instead of trusting a header. Keys and signatures come from `ring` and
//! `jsonwebtoken`; the key is read from a PKCS#8 PEM file (`FORWARD_AUTH_JWT_KEY_FILE`) or
//! made at start.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Map, Value};

/// The signing algorithm, as the JWT header and the JWK name it.
pub const ALGORITHM: &str = "ES256";

/// A P-256 signing key and its public half as a JWK.
pub struct AssertionKey {
    signing: EncodingKey,
    kid: String,
    public_jwk: Value,
}

impl std::fmt::Debug for AssertionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl AssertionKey {
    /// A new key (it lives as long as the process).
    pub fn generate() -> Result<Self, String> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| "cannot make a P-256 key (no OS randomness?)".to_owned())?;
        Self::from_pkcs8(pkcs8.as_ref())
    }

    /// A key from a PEM file holding a PKCS#8 P-256 private key (`BEGIN PRIVATE KEY`).
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let block = pem::parse(text).map_err(|e| format!("not a PEM file ({e})"))?;
        if block.tag() != "PRIVATE KEY" {
            return Err(format!(
                "holds a {:?} block; a PKCS#8 P-256 key (BEGIN PRIVATE KEY) is needed \
                 (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)",
                block.tag()
            ));
        }
        Self::from_pkcs8(block.contents())
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|e| format!("not a PKCS#8 P-256 private key ({e})"))?;
        // Uncompressed SEC1 point: 0x04, then X and Y of 32 bytes each.
        let point = pair.public_key().as_ref();
        let (Some(4), Some(x), Some(y)) = (point.first(), point.get(1..33), point.get(33..65))
        else {
            return Err("unexpected public key form".to_owned());
        };
        let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
        // RFC 7638 thumbprint: the required members, in lexicographic order, no spaces.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA256,
            canonical.as_bytes(),
        ));
        let public_jwk = json!({
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "kid": kid, "use": "sig", "alg": ALGORITHM,
        });
        Ok(Self {
            signing: EncodingKey::from_ec_der(der),
            kid,
            public_jwk,
        })
    }

    /// The key's id (its RFC 7638 thumbprint), as the JWT header names it.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key set to publish (`/.well-known/jwks.json`).
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.public_jwk.clone()] })
    }

    /// Signs `claims` as a JWT with this key's `kid`.
    pub fn sign(&self, claims: &Map<String, Value>) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.signing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A P-256 key in PKCS#8 PEM, made for this test only.
    fn pem_of(key_der: &[u8]) -> String {
        pem::encode(&pem::Pem::new("PRIVATE KEY", key_der.to_vec()))
    }

    #[test]
    fn signed_assertions_verify_against_the_published_key() {
        let rng = SystemRandom::new();
        let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = AssertionKey::from_pem(&pem_of(der.as_ref())).unwrap();
        let again = AssertionKey::from_pem(&pem_of(der.as_ref())).unwrap();
        assert_eq!(key.kid, again.kid, "the kid is the key's thumbprint");
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(key.jwks()).unwrap();
        let jwk = set.find(&key.kid).unwrap();
        let mut claims = Map::new();
        claims.insert("sub".into(), json!("alice"));
        claims.insert("exp".into(), json!(4_000_000_000u64));
        let token = key.sign(&claims).unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(&token, &decoding, &validation).unwrap();
        assert_eq!(data.claims["sub"], "alice");
        // Another key's signature does not verify.
        let other = AssertionKey::generate().unwrap();
        let forged = other.sign(&claims).unwrap();
        assert!(
            jsonwebtoken::decode::<Map<String, Value>>(&forged, &decoding, &validation).is_err()
        );
    }

    #[test]
    fn only_pkcs8_p256_keys_are_taken() {
        assert!(AssertionKey::from_pem("not pem")
            .unwrap_err()
            .contains("PEM"));
        let wrong_tag = pem::encode(&pem::Pem::new("EC PRIVATE KEY", vec![1, 2, 3]));
        assert!(AssertionKey::from_pem(&wrong_tag)
            .unwrap_err()
            .contains("PKCS#8"));
        let garbage = pem::encode(&pem::Pem::new("PRIVATE KEY", vec![1, 2, 3]));
        assert!(AssertionKey::from_pem(&garbage)
            .unwrap_err()
            .contains("P-256"));
    }
}
