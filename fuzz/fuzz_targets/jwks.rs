//! The JWKS and ID tokens: a `JwkSet` from the bytes before the first 0xFF (a byte UTF-8 never
//! contains), and `id_token::verify` of the text after it against that set.

#![no_main]

use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use libfuzzer_sys::fuzz_target;
use tvsignin::oidc::id_token::{verify, Expectations};
use tvsignin::oidc::secret::IdToken;

const ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "HS256",
];

fuzz_target!(|data: &[u8]| {
    let (jwks, token) = match data.iter().position(|b| *b == 0xff) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(keys) = serde_json::from_slice::<JwkSet>(jwks) else {
        return;
    };
    let token = IdToken::new(String::from_utf8_lossy(token).into_owned());
    let algs: Vec<String> = ALGS.iter().map(|a| (*a).to_owned()).collect();
    for issuer in [
        Some("https://idp.example"),
        Some("https://login.example/{tenantid}/v2.0"),
        None,
    ] {
        let expect = Expectations {
            issuer,
            client_id: "tv",
            allowed_algs: &algs,
            skew: Duration::from_secs(120),
            now: 1_700_000_000,
        };
        if let Ok(claims) = verify(&token, &keys, &expect) {
            assert!(!claims.sub.is_empty());
        }
    }
});
