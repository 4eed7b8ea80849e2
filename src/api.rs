//! Server functions the TV page calls: read the status, start, renew, cancel, sign out, and
//! report activity. Each returns the TV's new status; the push stream says the same a moment
//! later. They also work as plain HTML form posts for browsers without WebAssembly.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{TvSnapshot, TvStatus};

// The server side of these functions lives with the rest of the HTTP edge.
#[cfg(feature = "ssr")]
use crate::server::server_fns as backend;

/// The TV's status and facts about the kiosk, for the first render. The page shows a
/// failure's sentence as it comes, so it comes in the request's language.
#[server(endpoint = "status")]
pub async fn get_snapshot() -> Result<TvSnapshot, AppError> {
    let snapshot = async {
        let (state, session) = backend::context()?;
        Ok::<_, AppError>(TvSnapshot {
            status: backend::sent(state.hub.status(&session).await)?,
            kiosk: state.kiosk.clone(),
            texts: backend::page_texts(),
        })
    };
    snapshot.await.map_err(backend::told)
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
