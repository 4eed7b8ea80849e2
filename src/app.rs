//! The HTML shell, the root component and the routes.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, StaticSegment};

use crate::base_path::{use_base_path, BasePathMeta};
use crate::pages::tv::TvPage;

/// The document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let root = use_base_path().as_str().to_owned();
    view! {
        <!DOCTYPE html>
        <html lang=page_language()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="dark" />
                <HashedStylesheet options id="leptos" root />
                {brand_stylesheet()}
                <BasePathMeta />
                {boot_script()}
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The script that picks what this TV's engine runs (the WebAssembly app, the live
/// fallback, or nothing), with the page's Content-Security-Policy to match; see
/// `server::tiers`.
#[cfg(feature = "ssr")]
fn boot_script() -> impl IntoView {
    crate::server::tiers::boot_script()
}

#[cfg(not(feature = "ssr"))]
fn boot_script() -> impl IntoView {}

/// The language of this response's words (see `server::screens`).
#[cfg(feature = "ssr")]
fn page_language() -> &'static str {
    crate::server::screens::language()
}

#[cfg(not(feature = "ssr"))]
fn page_language() -> &'static str {
    crate::i18n::FALLBACK
}

/// The operator's stylesheet, when the settings give one.
#[cfg(feature = "ssr")]
fn brand_stylesheet() -> impl IntoView {
    crate::server::screens::brand_stylesheet()
}

#[cfg(not(feature = "ssr"))]
fn brand_stylesheet() -> impl IntoView {}

/// The app: one screen, the TV.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let base = use_base_path();
    provide_context(base.clone());
    // Under a prefix (`BASE_PATH`) the browser's path starts with it, so its routes are
    // matched after it; the server routes the path the prefix was taken off (see
    // `server::base_path`), so the same route renders on both sides.
    let router_base = if cfg!(feature = "hydrate") {
        base.as_str().to_owned()
    } else {
        String::new()
    };
    view! {
        <Router base=router_base>
            <Routes fallback=|| view! { <p class="not-found">"404"</p> }>
                // Async: the whole page, code and QR included, is in the first HTML response,
                // which also makes it work without WebAssembly.
                <Route path=StaticSegment("") view=TvPage ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}
