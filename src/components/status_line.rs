//! The one-line status, announced to screen readers when it changes.

use leptos::prelude::*;

use crate::components::countdown::format_mm_ss;
use crate::i18n::{use_messages, Messages};
use crate::model::TvStatus;

/// The sentence for each state; plain words, no protocol terms.
fn sentence(t: &Messages, status: &TvStatus) -> String {
    match status {
        TvStatus::Idle => t.tr("status-idle"),
        TvStatus::Starting => t.tr("status-starting"),
        TvStatus::Waiting { .. } => t.tr("status-waiting"),
        TvStatus::Denied => t.tr("status-denied"),
        TvStatus::Expired => t.tr("status-expired"),
        TvStatus::Unreachable { .. } => t.tr("status-unreachable"),
        TvStatus::Throttled { retry_after_secs } => t.tr_with(
            "status-throttled",
            &[("time", &format_mm_ss(*retry_after_secs))],
        ),
        TvStatus::SignedIn { .. } => t.tr("status-signed-in"),
    }
}

/// `data-testid="status"` with `data-state` carrying the state's stable name.
#[component]
pub fn StatusLine(status: Signal<TvStatus>) -> impl IntoView {
    let t = use_messages();
    view! {
        <p
            class="status"
            data-testid="status"
            data-state=move || status.with(|s| s.state_name())
            role="status"
            aria-live="polite"
        >
            {move || status.with(|s| sentence(&t, s))}
        </p>
    }
}
