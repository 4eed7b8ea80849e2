//! A form that posts to a server function under the page's prefix (`BASE_PATH`). Where the
//! WebAssembly runs, a press dispatches the action in place; elsewhere (the live fallback, no
//! JavaScript) the browser posts the form and loads the answer. Leptos' own `ActionForm`
//! would post to the function's fixed path, which lies outside the prefix.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use serde::de::DeserializeOwned;

use crate::base_path::use_base_path;

#[component]
pub fn PostForm<ServFn>(action: ServerAction<ServFn>, children: Children) -> impl IntoView
where
    ServFn: ServerFn + DeserializeOwned + Clone + Send + Sync + 'static,
    ServFn::Output: Send + Sync + 'static,
    ServFn::Error: Send + Sync + 'static,
{
    let url = use_base_path().join(ServFn::url());
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        if event.default_prevented() {
            return;
        }
        #[cfg(feature = "hydrate")]
        {
            use leptos::form::FromFormData;
            // A form that cannot be read is left to the browser to post.
            if let Ok(input) = ServFn::from_event(&event) {
                event.prevent_default();
                action.dispatch(input);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&event, &action);
    };
    view! {
        <form method="post" action=url on:submit=on_submit>
            {children()}
        </form>
    }
}
