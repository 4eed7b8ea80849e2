//! Home: the app's purpose and one large, focused "Sign in". Nothing starts before it is pressed.

use leptos::prelude::*;

use crate::api::StartPairing;
use crate::components::post_form::PostForm;
use crate::i18n::use_messages;

#[component]
pub fn Home(start: ServerAction<StartPairing>, provider: String) -> impl IntoView {
    let t = use_messages();
    view! {
        <section class="home">
            <h1>{t.tr("home-title")}</h1>
            <p class="lead">{t.tr_with("home-lead", &[("provider", &provider)])}</p>
            <PostForm action=start>
                <button type="submit" class="primary" data-testid="sign-in" data-autofocus="" autofocus>
                    {t.tr("button-sign-in")}
                </button>
            </PostForm>
        </section>
    }
}
