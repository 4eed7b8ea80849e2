//! The server side of the server functions in `api.rs`: the calling TV's session and the app
//! state, the status as the TV gets it (QR code drawn in, store failures logged and told
//! plainly), the session's move to a new id after an action, the caller's address, and the
//! way back to the page after a plain form post. The server functions reach the server
//! through here only.

use leptos::prelude::*;

pub use super::screens::page_texts;
use super::session::{SessionId, SessionMove};
use super::AppState;
use crate::error::AppError;
use crate::model::TvStatus;
use crate::pairing::store::StoreError;
use crate::pairing::Acted;

/// The calling browser's session and the app state.
pub fn context() -> Result<(AppState, SessionId), AppError> {
    let state = expect_context::<AppState>();
    let parts = use_context::<http::request::Parts>().ok_or(AppError::Internal)?;
    let session = parts
        .extensions
        .get::<SessionId>()
        .cloned()
        .ok_or(AppError::NoSession)?;
    Ok((state, session))
}

/// `error` with its sentence in the request's language, for the page to show as it is.
pub fn told(error: AppError) -> AppError {
    match use_context::<AppState>() {
        Some(state) => error.told_in(state.texts.get(super::screens::language())),
        None => error,
    }
}

/// A status as the TV gets it (QR code drawn in), or a store failure: logged here, a
/// plain sentence for the TV.
pub fn sent(result: Result<TvStatus, StoreError>) -> Result<TvStatus, AppError> {
    result.map(crate::qr::with_qr).map_err(|error| {
        tracing::error!(%error, "the session store failed");
        AppError::Internal
    })
}

/// As [`sent`], for an action that may have moved the session to a new id: the session
/// layer then sets the new id's cookie on this response.
pub fn acted(result: Result<Acted, StoreError>) -> Result<TvStatus, AppError> {
    sent(result.map(|acted| {
        if let Some(new) = acted.moved_to {
            if let Some(moved) = use_context::<http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<SessionMove>().cloned())
            {
                moved.moved_to(new);
            }
        }
        acted.status
    }))
}

/// The caller's address for the per-address limit on new codes.
pub fn client_address(state: &AppState) -> Option<std::net::IpAddr> {
    let parts = use_context::<http::request::Parts>()?;
    crate::limits::client_address(&parts, state.settings.trusted_proxy_hops())
}

/// For the actions (buttons): as [`context`], and a plain form post (no WebAssembly) is
/// sent back to the TV page afterwards. leptos_axum would redirect to the Referer, but
/// the pages' `Referrer-Policy: no-referrer` means browsers send none.
pub fn action_context() -> Result<(AppState, SessionId), AppError> {
    let context = context()?;
    back_to_page_if_form_post();
    Ok(context)
}

fn back_to_page_if_form_post() {
    let is_form = use_context::<http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    });
    if is_form {
        let home = use_context::<AppState>().map_or_else(
            || "/".to_owned(),
            |state| state.settings.front_door.base_path.home(),
        );
        leptos_axum::redirect(&home);
    }
}
