//! `use_status_stream`: keeps the status signal in step with the server's push stream
//! (`/events` under the page's prefix, Server-Sent Events). EventSource reconnects by itself after a dropped
//! connection; if the server refused the stream outright, this opens a new one after a pause.
//!
//! Sign in, New code and Sign out move the TV's session to a new id, whose cookie comes in
//! that action's answer. The server ends the stream under the old id with a `rotated` event;
//! the stream is opened again the moment such an action has finished (`moves` changes), so
//! under the new cookie. A `rotated` event with no action of this page behind it (someone
//! else holding a copy of the old cookie acted) reconnects after a moment.

use leptos::prelude::*;

use crate::model::TvStatus;

/// `moves` changes whenever an action that can move the session has finished.
pub fn use_status_stream(status: RwSignal<TvStatus>, moves: Signal<usize>) {
    #[cfg(feature = "hydrate")]
    {
        let url = crate::base_path::use_base_path().join("/events");
        let stream = browser::Stream::new(status, url);
        Effect::new(move |_| {
            moves.track();
            stream.open();
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (status, moves);
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{EventSource, MessageEvent};

    use crate::model::TvStatus;

    const RETRY_MS: u32 = 3_000;
    /// After `rotated`, how long this page's own action gets to finish and reopen the stream.
    const ROTATED_WAIT_MS: u32 = 2_000;

    /// The page's one push stream.
    #[derive(Clone)]
    pub struct Stream {
        status: RwSignal<TvStatus>,
        /// `/events`, under the prefix the page is served at.
        url: Rc<str>,
        current: Rc<RefCell<Option<Open>>>,
        /// Counts the streams opened, so a timer set for an older one does nothing.
        opened: Rc<Cell<u64>>,
    }

    /// An open EventSource and its callbacks, which must live as long as it does.
    struct Open {
        source: EventSource,
        _on_status: Closure<dyn FnMut(MessageEvent)>,
        _on_rotated: Closure<dyn FnMut()>,
        _on_error: Closure<dyn FnMut()>,
    }

    impl Drop for Open {
        fn drop(&mut self) {
            self.source.close();
        }
    }

    impl Stream {
        pub fn new(status: RwSignal<TvStatus>, url: String) -> Self {
            Self {
                status,
                url: url.into(),
                current: Rc::new(RefCell::new(None)),
                opened: Rc::new(Cell::new(0)),
            }
        }

        /// Opens the stream (with the cookie the browser holds now), closing any open one.
        pub fn open(&self) {
            let n = self.opened.get() + 1;
            self.opened.set(n);
            let previous = self.current.borrow_mut().take();
            drop(previous);
            let Ok(source) = EventSource::new(&self.url) else {
                self.retry_later(n, RETRY_MS);
                return;
            };
            let status = self.status;
            let on_status = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                if let Some(text) = event.data().as_string() {
                    if let Ok(next) = serde_json::from_str::<TvStatus>(&text) {
                        // The stream repeats the current status on every (re)connect; leave
                        // the screen (and its focus) alone unless something changed.
                        if status.with_untracked(|current| *current != next) {
                            status.set(next);
                        }
                    }
                }
            });
            let _ = source
                .add_event_listener_with_callback("status", on_status.as_ref().unchecked_ref());
            let (this, watched) = (self.clone(), source.clone());
            let on_rotated = Closure::<dyn FnMut()>::new(move || {
                // Closed here, or EventSource would reconnect with the old cookie.
                watched.close();
                this.retry_later(n, ROTATED_WAIT_MS);
            });
            let _ = source
                .add_event_listener_with_callback("rotated", on_rotated.as_ref().unchecked_ref());
            let (this, watched) = (self.clone(), source.clone());
            let on_error = Closure::<dyn FnMut()>::new(move || {
                // CLOSED means the browser gave up (an HTTP error, not a dropped connection).
                if watched.ready_state() == EventSource::CLOSED {
                    this.retry_later(n, RETRY_MS);
                }
            });
            source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            *self.current.borrow_mut() = Some(Open {
                source,
                _on_status: on_status,
                _on_rotated: on_rotated,
                _on_error: on_error,
            });
        }

        /// Opens the stream again after `ms`, unless another was opened since stream `n`.
        fn retry_later(&self, n: u64, ms: u32) {
            let this = self.clone();
            leptos::task::spawn_local(async move {
                gloo_timers::future::TimeoutFuture::new(ms).await;
                if this.opened.get() == n {
                    this.open();
                }
            });
        }
    }
}
