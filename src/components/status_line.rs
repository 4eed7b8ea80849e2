//! The one-line status, announced to screen readers when it changes.

use leptos::prelude::*;

use crate::model::TvStatus;

/// The sentence for each state; plain words, no protocol terms.
fn sentence(status: &TvStatus) -> String {
    match status {
        TvStatus::Idle => "Press Sign in to start.".into(),
        TvStatus::Starting => "Getting a code...".into(),
        TvStatus::Waiting { .. } => "Waiting for you to sign in on your phone...".into(),
        TvStatus::Denied => "Sign-in was declined.".into(),
        TvStatus::Expired => "This code expired.".into(),
        TvStatus::Unreachable { .. } => "Can't reach the sign-in service, retrying...".into(),
        TvStatus::Throttled { retry_after_secs } => {
            format!("Too many new codes. Try again in a moment ({retry_after_secs} s).")
        }
        TvStatus::SignedIn { .. } => "Signed in.".into(),
    }
}

/// `data-testid="status"` with `data-state` carrying the state's stable name.
#[component]
pub fn StatusLine(status: Signal<TvStatus>) -> impl IntoView {
    view! {
        <p
            class="status"
            data-testid="status"
            data-state=move || status.with(|s| s.state_name())
            role="status"
            aria-live="polite"
        >
            {move || status.with(sentence)}
        </p>
    }
}
