//! `use_status_stream`: keeps the status signal in step with the server's push stream
//! (`/events`, Server-Sent Events). EventSource reconnects by itself after a dropped
//! connection; if the server refused the stream outright, this opens a new one after a pause.

use leptos::prelude::*;

use crate::model::TvStatus;

pub fn use_status_stream(status: RwSignal<TvStatus>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |first: Option<()>| {
        if first.is_none() {
            browser::connect(status);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = status;
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{EventSource, MessageEvent};

    use crate::model::TvStatus;

    const RETRY_MS: u32 = 3_000;

    pub fn connect(status: RwSignal<TvStatus>) {
        let Ok(source) = EventSource::new("/events") else {
            retry_later(status);
            return;
        };
        let on_status = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(text) = event.data().as_string() {
                if let Ok(next) = serde_json::from_str::<TvStatus>(&text) {
                    // The stream repeats the current status on every (re)connect; leave the
                    // screen (and its focus) alone unless something changed.
                    if status.with_untracked(|current| *current != next) {
                        status.set(next);
                    }
                }
            }
        });
        let _ =
            source.add_event_listener_with_callback("status", on_status.as_ref().unchecked_ref());
        let watched = source.clone();
        let on_error = Closure::<dyn FnMut()>::new(move || {
            // CLOSED means the browser gave up (an HTTP error, not a dropped connection).
            if watched.ready_state() == EventSource::CLOSED {
                retry_later(status);
            }
        });
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        // The stream lives as long as the page; the callbacks must too.
        on_status.forget();
        on_error.forget();
    }

    fn retry_later(status: RwSignal<TvStatus>) {
        leptos::task::spawn_local(async move {
            gloo_timers::future::TimeoutFuture::new(RETRY_MS).await;
            connect(status);
        });
    }
}
