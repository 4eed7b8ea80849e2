//! The device authorization response: `DeviceAuthorization::parse`.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tvsignin::oidc::device::DeviceAuthorization;

fuzz_target!(|data: &[u8]| {
    let response = tvsignin_fuzz::response("device_authorization_endpoint", data);
    match DeviceAuthorization::parse(&response) {
        Ok(auth) => {
            // What the parser promises the rest of the app.
            assert!(!auth.device_code.expose().is_empty());
            assert!(!auth.user_code.is_empty() && auth.user_code.len() <= 64);
            assert!(!auth.verification_uri.is_empty() && auth.verification_uri.len() <= 2048);
            assert!(
                auth.interval >= Duration::from_secs(1)
                    && auth.interval <= Duration::from_secs(600)
            );
            assert!(auth.expires_in <= Duration::from_secs(24 * 3600));
            assert!(auth
                .verification_uri_complete
                .as_ref()
                .is_none_or(|uri| !uri.is_empty() && uri.len() <= 2048));
            let _ = format!("{auth:?}");
        }
        Err(error) => tvsignin_fuzz::describe(&error),
    }
});
