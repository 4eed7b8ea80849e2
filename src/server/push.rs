//! The push stream: `GET /events` sends the TV's status as Server-Sent Events the moment it
//! changes, each event's id naming the screen it shows. The browser's EventSource reconnects
//! by itself; the stream ends cleanly on shutdown.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Extension;
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::WatchStream;

use super::session::SessionId;
use super::state::AppState;

pub async fn events(
    State(state): State<AppState>,
    Extension(session): Extension<SessionId>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, StatusCode> {
    let (receiver, guard) = state.hub.subscribe(&session).await.map_err(|error| {
        tracing::warn!(%error, "cannot open a push stream");
        // The browser's EventSource retries by itself.
        StatusCode::SERVICE_UNAVAILABLE
    })?;
    let shutdown = state.shutdown.clone();
    let stream = WatchStream::new(receiver)
        .map(move |status| {
            // The guard lives as long as the stream: the TV is present while it is connected.
            let _present = &guard;
            // The id names the screen, for the live fallback script, which follows the
            // stream without parsing statuses (see `TvStatus::screen_key`).
            let event = Event::default().event("status").id(status.screen_key());
            Ok(event
                .json_data(super::qr::with_qr(status))
                .unwrap_or_else(|_| Event::default().comment("unserialisable status")))
        })
        .take_until(shutdown.cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
