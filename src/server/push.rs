//! The push stream: `GET /events` sends the TV's status as Server-Sent Events the moment it
//! changes, each event's id naming the screen it shows. The browser's EventSource reconnects
//! by itself; the stream ends cleanly on shutdown, and with a `rotated` event when the
//! session moves to a new id (the page then reconnects under its new cookie). Each client
//! address may hold `MAX_PUSH_STREAMS_PER_ADDRESS` streams; more are answered 429.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::StreamExt;
use tokio_stream::wrappers::WatchStream;

use super::state::AppState;
use crate::limits::client_address;
use crate::pairing::SessionId;

/// What a client over the per-address cap is told to wait, in seconds.
const RETRY_AFTER_SECS: &str = "30";

pub async fn events(
    State(state): State<AppState>,
    Extension(session): Extension<SessionId>,
    parts: http::request::Parts,
) -> Response {
    let address = client_address(&parts, state.settings.trusted_proxy_hops());
    let slot = match address {
        Some(address) => match state.push_streams.try_open(address) {
            Some(slot) => Some(slot),
            None => {
                tracing::debug!(%address, "too many push streams from one address");
                state.metrics().push_stream_refused();
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, RETRY_AFTER_SECS)],
                    "Too many open screens from this address.",
                )
                    .into_response();
            }
        },
        // Only in-process callers have no address.
        None => None,
    };
    let (receiver, guard) = match state.hub.subscribe(&session).await {
        Ok(subscribed) => subscribed,
        Err(error) => {
            tracing::warn!(%error, "cannot open a push stream");
            // The browser's EventSource retries by itself.
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let retired = guard.retired();
    let updates = WatchStream::new(receiver)
        .map(move |status| {
            // The guard and the slot live as long as the stream: the TV is present while it
            // is connected, and the stream counts against its address.
            let _present = (&guard, &slot);
            // The id names the screen, for the live fallback script, which follows the
            // stream without parsing statuses (see `TvStatus::screen_key`).
            let event = Event::default().event("status").id(status.screen_key());
            Ok::<_, Infallible>(
                event
                    .json_data(crate::qr::with_qr(status))
                    .unwrap_or_else(|_| Event::default().comment("unserialisable status")),
            )
        })
        .take_until(retired.clone().cancelled_owned());
    // After the updates: if they ended because the session moved, say so, so the page
    // reconnects under its new cookie instead of waiting out EventSource's retry.
    let farewell = futures::stream::once(async move {
        retired
            .is_cancelled()
            .then(|| Ok(Event::default().event("rotated").data("moved")))
    })
    .filter_map(std::future::ready);
    let stream = updates
        .chain(farewell)
        .take_until(state.shutdown.clone().cancelled_owned());
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
