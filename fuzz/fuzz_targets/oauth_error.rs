//! Error responses: `ProviderResponse::oauth_error` (any status), and `success_object`, which
//! decides between an OAuth error, an HTTP status error and a body.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tvsignin::oidc::error::ErrorCode;

fuzz_target!(|data: &[u8]| {
    let response = tvsignin_fuzz::response("token_endpoint", data);
    if let Some(error) = response.oauth_error() {
        assert!(!error.code.as_str().is_empty());
        assert_eq!(ErrorCode::parse(error.code.as_str()), error.code);
        assert!(error
            .description
            .as_ref()
            .is_none_or(|d| d.chars().count() <= 500));
        let _ = error.to_string();
    }
    match response.success_object() {
        Ok(_) => assert!((200..300).contains(&response.status)),
        Err(error) => tvsignin_fuzz::describe(&error),
    }
});
