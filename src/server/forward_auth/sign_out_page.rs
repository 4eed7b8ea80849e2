//! `<prefix>/sign-out`: the page an app behind the front door links to so the person can
//! sign the TV out. Opening it changes nothing; its button posts to the Sign out server
//! function (the same form the TV's own screen has), which revokes the tokens and returns
//! the TV to Home. No script: it works on every TV engine. Its words are in the language the
//! TV page would use (the `LANGUAGE` setting, else `Accept-Language`).

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use leptos::prelude::*;
use leptos_meta::HashedStylesheet;

use super::session_of;
use super::FrontDoor;
use crate::i18n::{negotiate, Messages};

/// Styles from this server only; the form posts here; nothing runs.
const POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                      form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(super) async fn show(State(state): State<FrontDoor>, request: Request) -> Response {
    let session = session_of(&state, &request);
    let forced = state.settings.screens.language;
    let lang = negotiate::for_request(forced, request.headers());
    let t = Messages::new(state.texts.page(lang).clone());
    drop(request);
    let who = match session {
        Some(id) => match state.hub.signed_in_session(&id).await {
            Ok(session) => session.map(|s| {
                let name = s.identity.name.unwrap_or(s.identity.sub);
                t.tr_with("signed-in-as", &[("name", &name)])
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
    let back = t.tr("button-back-to-app");
    let lang = t.lang().to_owned();
    let title = t.tr("sign-out-page-title");
    let name = state
        .settings
        .screens
        .org_name
        .clone()
        .unwrap_or_else(|| t.tr("app-name"));
    let body = match who {
        Some(signed_in_as) => view! {
            <h1>{t.tr("sign-out-question")}</h1>
            <p class="lead" data-testid="signed-in-as">{signed_in_as}</p>
            <div class="actions">
                <form method="post" action=action>
                    <button type="submit" class="primary" data-testid="sign-out" autofocus>{t.tr("button-sign-out")}</button>
                </form>
                {app.map(|url| view! {
                    <a class="secondary button" data-testid="back-to-app" href=url>{back}</a>
                })}
            </div>
        }
        .into_any(),
        None => view! {
            <h1>{t.tr("not-signed-in")}</h1>
            <div class="actions">
                <a class="primary button" data-testid="to-sign-in" href=home autofocus>{t.tr("button-sign-in")}</a>
            </div>
        }
        .into_any(),
    };
    let html = view! {
        <!DOCTYPE html>
        <html lang=lang>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="dark" />
                <title>{title}</title>
                <HashedStylesheet options id="leptos" root />
            </head>
            <body>
                <main class="tv sign-out-page" data-screen="sign-out">
                    <header class="tv-header"><span class="app-name">{name}</span></header>
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
            (header::VARY, HeaderValue::from_static("Accept-Language")),
        ],
        Html(html),
    )
        .into_response()
}
