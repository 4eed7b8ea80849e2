//! A live "M:SS" countdown to a deadline.

use leptos::prelude::*;

use crate::hooks::use_countdown::use_countdown;

/// Formats whole seconds as `M:SS`.
pub fn format_mm_ss(secs: u64) -> String {
    format!("{}:{:02}", secs / 60, secs % 60)
}

#[component]
pub fn Countdown(
    /// Unix milliseconds.
    deadline_ms: u64,
    /// Text before the time.
    label: &'static str,
    #[prop(default = "countdown")] testid: &'static str,
) -> impl IntoView {
    let left = use_countdown(deadline_ms);
    view! {
        // The deadline is on the page for the live fallback script, which ticks it too.
        <p class="countdown" data-testid=testid data-deadline-ms=deadline_ms>
            {label} " " <time>{move || format_mm_ss(left.get())}</time>
        </p>
    }
}
