//! The TV page: Home, pairing, outcomes and signed-in, chosen by the status the server pushes.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{get_snapshot, CancelPairing, NewCode, SignOut, StartPairing};
use crate::components::home::Home;
use crate::components::pairing_panel::PairingPanel;
use crate::components::signed_in_panel::SignedInPanel;
use crate::components::status_line::StatusLine;
use crate::hooks::use_activity::use_activity;
use crate::hooks::use_dpad_focus::use_dpad_focus;
use crate::hooks::use_status_stream::use_status_stream;
use crate::i18n::{provide_messages, use_messages};
use crate::model::{TvSnapshot, TvStatus};

/// The whole TV screen.
#[component]
pub fn TvPage() -> impl IntoView {
    let snapshot = Resource::new(|| (), |_| get_snapshot());
    view! {
        <Suspense fallback=|| view! { <main class="tv"><p class="lead">"…"</p></main> }>
            {move || Suspend::new(async move {
                match snapshot.await {
                    Ok(snapshot) => view! { <TvScreen snapshot /> }.into_any(),
                    Err(error) => view! {
                        <main class="tv">
                            <p class="lead" role="alert">{error.to_string()}</p>
                        </main>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Wires the actions and the push stream to one status signal.
#[component]
fn TvScreen(snapshot: TvSnapshot) -> impl IntoView {
    provide_messages(snapshot.texts.clone());
    let messages = use_messages();
    let status = RwSignal::new(snapshot.status);
    let start = ServerAction::<StartPairing>::new();
    let renew = ServerAction::<NewCode>::new();
    let cancel = ServerAction::<CancelPairing>::new();
    let sign_out = ServerAction::<SignOut>::new();

    // What an action changes arrives through the push stream, which also carries every
    // later change in order; applying the action's own answer could put an older status on
    // screen after a newer pushed one. Sign in, New code and Sign out move the session to a
    // new id: once one has finished, the stream is opened again under the new cookie.
    let moves = Signal::derive(move || {
        start.version().get() + renew.version().get() + sign_out.version().get()
    });
    use_status_stream(status, moves);
    use_dpad_focus(Signal::derive(move || status.with(|s| s.state_name())));
    use_activity(status);

    let demo = snapshot.kiosk.demo;
    let provider = snapshot.kiosk.provider_name.clone();
    let org = snapshot.kiosk.org_name.clone();
    let title = match &org {
        Some(org) => messages.tr_with("page-title-org", &[("org", org)]),
        None => messages.tr("page-title"),
    };
    let name = org.clone().unwrap_or_else(|| messages.tr("app-name"));
    let logo = snapshot.kiosk.has_logo.then(|| {
        let src = crate::base_path::use_base_path().join("/brand-logo");
        view! { <img class="brand-logo" src=src alt="" data-testid="brand-logo" /> }
    });
    let demo_badge = messages.tr("demo-badge");
    // Where no script runs, the page refreshes itself while something is under way. Decided
    // once, from the status the page was rendered with, and set as the noscript's inner HTML:
    // a browser that runs scripts parses it as text and never obeys it, and this view never
    // turns it on later (a meta refresh the page inserted itself would be obeyed).
    let app = snapshot.kiosk.app.clone();
    let no_script_refresh = if status.with_untracked(TvStatus::is_busy) {
        r#"<meta http-equiv="refresh" content="3">"#.to_owned()
    } else {
        // Signed in with an app to go to: there, after the signed-in screen's delay.
        let signed_in = status.with_untracked(|s| matches!(s, TvStatus::SignedIn { .. }));
        app.as_ref()
            .filter(|_| signed_in)
            .map(|app| {
                format!(
                    r#"<meta http-equiv="refresh" content="{};url={}">"#,
                    app.continue_secs,
                    escape_attribute(&app.url)
                )
            })
            .unwrap_or_default()
    };

    view! {
        <Title text=title />
        <noscript inner_html=no_script_refresh></noscript>
        <main
            class="tv"
            data-state=move || status.with(|s| s.state_name())
            data-screen=move || status.with(TvStatus::screen_key)
        >
            <header class="tv-header">
                {logo}
                <span class="app-name" data-testid="brand-name">{name}</span>
                {demo.then(|| view! { <span class="demo-badge" data-testid="demo-badge">{demo_badge}</span> })}
            </header>
            <StatusLine status=status.into() />
            {move || match status.get() {
                TvStatus::Idle => view! { <Home start provider=provider.clone() /> }.into_any(),
                TvStatus::SignedIn { profile, sign_out_at_ms, warn_secs } => view! {
                    <SignedInPanel profile sign_out_at_ms warn_secs sign_out app=app.clone() />
                }.into_any(),
                other => view! { <PairingPanel status=other renew cancel org=org.clone() /> }.into_any(),
            }}
        </main>
    }
}

/// Text for a double-quoted HTML attribute.
fn escape_attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
