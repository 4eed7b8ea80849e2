//! The HTML shell, the root component and the routes.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, StaticSegment};

use crate::pages::tv::TvPage;

/// The document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang=page_language()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="dark" />
                <HashedStylesheet options id="leptos" />
                {brand_stylesheet()}
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
    view! {
        <Router>
            <Routes fallback=|| view! { <p class="not-found">"404"</p> }>
                // Async: the whole page, code and QR included, is in the first HTML response,
                // which also makes it work without WebAssembly.
                <Route path=StaticSegment("") view=TvPage ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}
