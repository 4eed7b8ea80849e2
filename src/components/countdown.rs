//! A live "M:SS" countdown to a deadline.

use leptos::prelude::*;

use crate::hooks::use_countdown::use_countdown;
use crate::i18n::use_messages;

/// Formats whole seconds as `M:SS`.
pub fn format_mm_ss(secs: u64) -> String {
    format!("{}:{:02}", secs / 60, secs % 60)
}

#[component]
pub fn Countdown(
    /// Unix milliseconds.
    deadline_ms: u64,
    /// The message that says it, with the time as `$time`.
    message: &'static str,
    #[prop(default = "countdown")] testid: &'static str,
) -> impl IntoView {
    let left = use_countdown(deadline_ms);
    let (before, after) = use_messages().tr_around(message, "time");
    view! {
        // The deadline is on the page for the live fallback script, which ticks it too.
        <p class="countdown" data-testid=testid data-deadline-ms=deadline_ms>
            {before} <time>{move || format_mm_ss(left.get())}</time> {after}
        </p>
    }
}
