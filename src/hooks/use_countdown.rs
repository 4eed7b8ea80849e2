//! `use_countdown`: whole seconds left until a deadline, ticking once a second in the browser.

use leptos::prelude::*;

/// Milliseconds since the Unix epoch, from the browser's clock or the server's.
pub fn now_ms() -> u64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as u64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// Seconds left until `deadline_ms` (Unix ms), rounded up, never below zero.
pub fn use_countdown(deadline_ms: u64) -> Signal<u64> {
    let now = RwSignal::new(now_ms());
    #[cfg(feature = "hydrate")]
    {
        let ticker = gloo_timers::callback::Interval::new(1_000, move || now.set(now_ms()));
        let ticker = StoredValue::new_local(Some(ticker));
        on_cleanup(move || {
            // Dropping the interval cancels it.
            ticker.update_value(|t| drop(t.take()));
        });
    }
    Signal::derive(move || deadline_ms.saturating_sub(now.get()).div_ceil(1_000))
}
