//! tvsignin: sign people in on a TV or kiosk with the OAuth 2.0 Device Authorization Grant.
//!
//! One crate, two builds: `ssr` (the axum server, the provider client and the command line)
//! and `hydrate` (the WebAssembly that makes the TV page live in the browser).

#![recursion_limit = "256"]
pub mod api;
pub mod app;
pub mod base_path;
pub mod components;
pub mod error;
pub mod hooks;
pub mod i18n;
pub mod model;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod assertion;
#[cfg(feature = "ssr")]
pub mod cli;
#[cfg(all(feature = "ssr", feature = "demo"))]
pub mod demo_idp;
#[cfg(feature = "ssr")]
pub mod limits;
#[cfg(feature = "ssr")]
pub mod metrics;
#[cfg(feature = "ssr")]
pub mod oidc;
#[cfg(feature = "ssr")]
pub mod pairing;
#[cfg(feature = "ssr")]
pub mod qr;
#[cfg(feature = "ssr")]
pub mod seal;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod settings;

/// Browser entry point: attach to the server-rendered page, then mark `<body>` as hydrated.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Server functions have fixed paths (`/api/...`); under a prefix they are reached there.
    let base = base_path::from_document();
    if !base.is_root() {
        let prefix: &'static str = Box::leak(base.as_str().into());
        let _ = leptos::server_fn::client::try_set_server_url(prefix);
    }
    leptos::mount::hydrate_body(app::App);
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
