//! Server functions the TV page calls: read the status, start, renew, cancel, sign out, and
//! report activity. Each returns the TV's new status; the push stream says the same a moment
//! later. They also work as plain HTML form posts for browsers without WebAssembly.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{TvSnapshot, TvStatus};

#[cfg(feature = "ssr")]
mod backend {
    use leptos::prelude::*;

    use crate::error::AppError;
    use crate::model::TvStatus;
    use crate::server::session::{SessionId, SessionMove};
    use crate::server::AppState;

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

    /// A status as the TV gets it (QR code drawn in), or a store failure: logged here, a
    /// plain sentence for the TV.
    pub fn sent(
        result: Result<TvStatus, crate::pairing::store::StoreError>,
    ) -> Result<TvStatus, AppError> {
        result.map(crate::qr::with_qr).map_err(|error| {
            tracing::error!(%error, "the session store failed");
            AppError::Internal
        })
    }

    /// As [`sent`], for an action that may have moved the session to a new id: the session
    /// layer then sets the new id's cookie on this response.
    pub fn acted(
        result: Result<crate::pairing::Acted, crate::pairing::store::StoreError>,
    ) -> Result<TvStatus, AppError> {
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
}

/// The TV's status and facts about the kiosk, for the first render.
#[server(endpoint = "status")]
pub async fn get_snapshot() -> Result<TvSnapshot, AppError> {
    let (state, session) = backend::context()?;
    Ok(TvSnapshot {
        status: backend::sent(state.hub.status(&session).await)?,
        kiosk: state.kiosk.clone(),
    })
}

/// "Sign in": starts a pairing (or returns the one already on screen). A pairing starts
/// under a new session id, whose cookie comes with this answer.
#[server(endpoint = "start")]
pub async fn start_pairing() -> Result<TvStatus, AppError> {
    let (state, session) = backend::action_context()?;
    let client = backend::client_address(&state);
    backend::acted(state.hub.start(&session, client).await)
}

/// "New code": drops the current code and starts a fresh one, under a new session id.
#[server(endpoint = "renew")]
pub async fn new_code() -> Result<TvStatus, AppError> {
    let (state, session) = backend::action_context()?;
    let client = backend::client_address(&state);
    backend::acted(state.hub.renew(&session, client).await)
}

/// "Cancel": back to Home.
#[server(endpoint = "cancel")]
pub async fn cancel_pairing() -> Result<TvStatus, AppError> {
    let (state, session) = backend::action_context()?;
    backend::sent(state.hub.cancel(&session).await)
}

/// "Sign out": revokes the tokens and returns to Home, under a new session id.
#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<TvStatus, AppError> {
    let (state, session) = backend::action_context()?;
    backend::acted(state.hub.sign_out(&session).await)
}

/// Someone is using the TV: postpones the idle sign-out.
#[server(endpoint = "activity")]
pub async fn report_activity() -> Result<TvStatus, AppError> {
    let (state, session) = backend::action_context()?;
    backend::sent(state.hub.activity(&session).await)
}
