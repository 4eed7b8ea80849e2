//! The screens' language and brand at the HTTP edge: the language of each request (the
//! `LANGUAGE` setting, else `Accept-Language`), the messages the page carries, and the
//! operator's stylesheet and logo, served from this server so the page's policy allows them.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use leptos::prelude::*;

use super::AppState;
use crate::i18n::{negotiate, PageTexts};

/// Where the operator's stylesheet and logo are served.
pub const BRAND_CSS_PATH: &str = "/brand.css";
pub const LOGO_PATH: &str = "/brand-logo";

/// The language of the request being rendered. Pages that depend on it say so (`Vary`), so
/// a cache in between keeps one copy per language.
pub fn language() -> &'static str {
    let forced = use_context::<AppState>().and_then(|state| state.settings.screens.language);
    let headers = use_context::<http::request::Parts>()
        .map(|parts| parts.headers)
        .unwrap_or_default();
    if forced.is_none() {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            // Set, not appended: the page and its first status both ask. The compression
            // layer adds its own `Vary` later.
            response.insert_header(header::VARY, HeaderValue::from_static("Accept-Language"));
        }
    }
    negotiate::for_request(forced, &headers)
}

/// The messages the page carries: this request's language only, formatted at start (see
/// `Catalog::new`).
pub fn page_texts() -> PageTexts {
    expect_context::<AppState>().texts.page(language()).clone()
}

/// `<link>` to the operator's stylesheet, when there is one.
pub fn brand_stylesheet() -> impl IntoView {
    use_context::<AppState>()
        .filter(|state| state.settings.screens.accent_color.is_some())
        .map(|_| {
            let href = crate::base_path::use_base_path().join(BRAND_CSS_PATH);
            view! { <link rel="stylesheet" href=href /> }
        })
}

/// `GET /brand.css`: the accent colour from the settings.
pub async fn brand_css(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        state.settings.screens.stylesheet(),
    )
        .into_response()
}

/// `GET /brand-logo`: the operator's logo, read at start.
pub async fn logo(State(state): State<AppState>) -> Response {
    match &state.settings.screens.logo {
        Some(logo) => (
            [
                (header::CONTENT_TYPE, logo.content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            logo.bytes.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
