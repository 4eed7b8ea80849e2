//! The user code, huge, exactly as the provider issued it, in a face that tells 0 from O.

use leptos::prelude::*;

use crate::i18n::use_messages;

#[component]
pub fn UserCode(code: String) -> impl IntoView {
    // Screen readers get the code one character at a time.
    let spoken = code.chars().map(String::from).collect::<Vec<_>>().join(" ");
    view! {
        <p class="user-code" data-testid="user-code" aria-label=use_messages().tr_with("user-code-label", &[("spoken", &spoken)])>
            {code}
        </p>
    }
}
