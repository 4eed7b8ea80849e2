//! Home: the app's purpose and one large, focused "Sign in". Nothing starts before it is pressed.

use leptos::prelude::*;

use crate::api::StartPairing;
use crate::components::post_form::PostForm;

#[component]
pub fn Home(start: ServerAction<StartPairing>, provider: String) -> impl IntoView {
    view! {
        <section class="home">
            <h1>"Sign in on this TV"</h1>
            <p class="lead">"Use your phone to sign in with your " {provider} " account."</p>
            <PostForm action=start>
                <button type="submit" class="primary" data-testid="sign-in" data-autofocus="" autofocus>
                    "Sign in"
                </button>
            </PostForm>
        </section>
    }
}
