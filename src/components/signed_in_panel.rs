//! Signed in: the welcome, the claims the server lets through (`SHOW_CLAIMS`), Continue to the
//! app (`APP_URL`) when there is one, Sign out, and the idle sign-out warning of a shared screen.

use leptos::prelude::*;

use crate::api::SignOut;
use crate::components::claims_table::ClaimsTable;
use crate::components::continue_to_app::ContinueToApp;
use crate::components::countdown::format_mm_ss;
use crate::components::post_form::PostForm;
use crate::hooks::use_countdown::use_countdown;
use crate::i18n::use_messages;
use crate::model::{AppLink, Profile};

#[component]
pub fn SignedInPanel(
    profile: Profile,
    sign_out_at_ms: u64,
    warn_secs: u64,
    sign_out: ServerAction<SignOut>,
    /// Where the TV continues to (`APP_URL`), if anywhere.
    app: Option<AppLink>,
) -> impl IntoView {
    let left = use_countdown(sign_out_at_ms);
    let t = use_messages();
    let (warn_before, warn_after) = t.tr_around("idle-warning", "time");
    let welcome = t.tr_with("welcome", &[("name", &profile.display_name)]);
    let continues = app.is_some();
    let warning = move || {
        let secs = left.get();
        (secs <= warn_secs).then(|| view! {
            <p class="idle-warning" role="alert" data-testid="idle-warning">
                {warn_before.clone()}
                <time data-testid="idle-countdown" data-deadline-ms=sign_out_at_ms>{format_mm_ss(secs)}</time>
                {warn_after.clone()}
            </p>
        })
    };
    view! {
        // When the warning starts, for the live fallback script (which asks the server for
        // the screen with the warning then).
        <section class="signed-in" data-warn-at-ms=sign_out_at_ms.saturating_sub(warn_secs * 1_000)>
            <h1 data-testid="welcome">{welcome}</h1>
            {warning}
            <ClaimsTable claims=profile.claims />
            <div class="actions">
                {app.map(|app| view! { <ContinueToApp app /> })}
                <PostForm action=sign_out>
                    <button
                        type="submit"
                        class=if continues { "secondary" } else { "primary" }
                        data-testid="sign-out"
                        data-autofocus=(!continues).then_some("")
                    >
                        {t.tr("button-sign-out")}
                    </button>
                </PostForm>
            </div>
        </section>
    }
}
