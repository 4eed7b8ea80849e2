//! The token response: `TokenSet::parse`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tvsignin::oidc::token::TokenSet;

fuzz_target!(|data: &[u8]| {
    let response = tvsignin_fuzz::response("token_endpoint", data);
    match TokenSet::parse(&response) {
        Ok(tokens) => {
            assert!(!tokens.access_token.expose().is_empty());
            assert!((200..300).contains(&response.status));
            // Debug never shows a token.
            let shown = format!("{tokens:?}");
            assert!(shown.contains("AccessToken([redacted])"), "{shown}");
        }
        Err(error) => tvsignin_fuzz::describe(&error),
    }
});
