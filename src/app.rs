//! The HTML shell, the root component and the routes.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, StaticSegment};

use crate::pages::tv::TvPage;

/// The document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    set_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="dark" />
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The page's Content-Security-Policy: only this server's scripts (the inline bootstrap
/// carries the per-response nonce), its WebAssembly, its styles; no framing.
fn set_security_policy() {
    #[cfg(feature = "ssr")]
    {
        let nonce = leptos::nonce::use_nonce()
            .map(|n| n.to_string())
            .unwrap_or_default();
        let policy = format!(
            "default-src 'none'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        if let (Some(response), Ok(value)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            http::HeaderValue::from_str(&policy),
        ) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

/// The app: one screen, the TV.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Sign in" />
        <Router>
            <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                // Async: the whole page, code and QR included, is in the first HTML response,
                // which also makes it work without WebAssembly.
                <Route path=StaticSegment("") view=TvPage ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}
