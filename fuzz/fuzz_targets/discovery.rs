//! The discovery document: `ProviderMetadata::parse` / `from_object`, then merged with the
//! settings by `Endpoints::resolve` (endpoint URLs and the client authentication choice).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tvsignin::oidc::discovery::{Endpoints, ProviderMetadata};
use tvsignin::oidc::secret::ClientSecret;
use tvsignin::oidc::{ProviderConfig, ProviderSource};

fuzz_target!(|data: &[u8]| {
    let response = tvsignin_fuzz::response("discovery", data);
    if let Ok(map) = response.object() {
        // Whatever the status: the parse below only sees 2xx bodies.
        let _ = ProviderMetadata::from_object(&map);
    }
    match ProviderMetadata::parse(&response) {
        Ok(metadata) => {
            let issuer = url::Url::parse("https://idp.example/").expect("static URL");
            let public = ProviderConfig::new(ProviderSource::Issuer(issuer), "tv");
            let mut confidential = public.clone();
            confidential.client_secret = Some(ClientSecret::new("s"));
            for config in [&public, &confidential] {
                match Endpoints::resolve(Some(&metadata), config) {
                    Ok(endpoints) => {
                        let _ = endpoints.device_authorization();
                    }
                    Err(error) => tvsignin_fuzz::describe(&error),
                }
            }
        }
        Err(error) => tvsignin_fuzz::describe(&error),
    }
});
