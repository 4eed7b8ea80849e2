//! Signed in, with an app to go to (`APP_URL`): "Continue" goes there now, and the screen
//! goes there by itself after `APP_CONTINUE_SECS`. The link and its delay are on the page
//! (`data-continue-url`, `data-continue-secs`) for the live fallback script, which does the
//! same; without scripts the page's `<noscript>` refresh does (see `pages::tv`).

use leptos::prelude::*;

use crate::i18n::use_messages;
use crate::model::AppLink;

#[component]
pub fn ContinueToApp(app: AppLink) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        let url = app.url.clone();
        let timer = gloo_timers::callback::Timeout::new(
            (app.continue_secs as u32).saturating_mul(1_000),
            move || {
                if let Some(window) = web_sys::window() {
                    let _ = window.location().set_href(&url);
                }
            },
        );
        // Leaving the signed-in screen (Sign out, the idle sign-out) drops the timer.
        let timer = StoredValue::new_local(Some(timer));
        on_cleanup(move || timer.update_value(|t| drop(t.take())));
    }
    let t = use_messages();
    // The server formatted it with the delay (`APP_CONTINUE_SECS`), choosing the plural.
    let note = t.tr("continue-note");
    let label = t.tr("button-continue");
    view! {
        <p
            class="continue-note"
            data-testid="continue-note"
            data-continue-url=app.url.clone()
            data-continue-secs=app.continue_secs
        >
            {note}
        </p>
        <a class="primary button" data-testid="continue" href=app.url data-autofocus="">
            {label}
        </a>
    }
}
