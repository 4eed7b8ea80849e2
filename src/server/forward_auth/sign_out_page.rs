//! `<prefix>/sign-out`: the page an app behind the front door links to so the person can
//! sign the TV out. Opening it changes nothing; its button posts to the Sign out server
//! function (the same form the TV's own screen has), which revokes the tokens and returns
//! the TV to Home. No script: it works on every TV engine.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use leptos::prelude::*;
use leptos_meta::HashedStylesheet;

use super::session_of;
use super::FrontDoor;

/// Styles from this server only; the form posts here; nothing runs.
const POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                      form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(super) async fn show(State(state): State<FrontDoor>, request: Request) -> Response {
    let session = session_of(&state, &request);
    drop(request);
    let who = match session {
        Some(id) => match state.hub.signed_in_session(&id).await {
            Ok(session) => session.map(|s| {
                let name = s.identity.name.unwrap_or(s.identity.sub);
                format!("Signed in as {name}")
            }),
            Err(error) => {
                tracing::warn!(%error, "sign-out page: cannot read the session");
                None
            }
        },
        None => None,
    };
    let front_door = &state.settings.front_door;
    let base = &front_door.base_path;
    let options = state.leptos_options.clone();
    let root = base.as_str().to_owned();
    let action = base.join("/api/sign_out");
    let home = base.home();
    let app = front_door.app.as_ref().map(|app| app.url.clone());
    let body = match who {
        Some(signed_in_as) => view! {
            <h1>"Sign out of this TV?"</h1>
            <p class="lead" data-testid="signed-in-as">{signed_in_as}</p>
            <div class="actions">
                <form method="post" action=action>
                    <button type="submit" class="primary" data-testid="sign-out" autofocus>"Sign out"</button>
                </form>
                {app.map(|url| view! {
                    <a class="secondary button" data-testid="back-to-app" href=url>"Back to the app"</a>
                })}
            </div>
        }
        .into_any(),
        None => view! {
            <h1>"This TV is not signed in"</h1>
            <div class="actions">
                <a class="primary button" data-testid="to-sign-in" href=home autofocus>"Sign in"</a>
            </div>
        }
        .into_any(),
    };
    let html = view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="dark" />
                <title>"Sign out"</title>
                <HashedStylesheet options id="leptos" root />
            </head>
            <body>
                <main class="tv sign-out-page" data-screen="sign-out">
                    <header class="tv-header"><span class="app-name">"tvsignin"</span></header>
                    {body}
                </main>
            </body>
        </html>
    }
    .to_html();
    (
        [
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(POLICY),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Html(html),
    )
        .into_response()
}
