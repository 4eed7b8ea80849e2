//! The signed-in person's claims as a readable two-column table: only those the server lets
//! through (`SHOW_CLAIMS`), and no table at all when that is none.

use leptos::prelude::*;

use crate::i18n::use_messages;
use crate::model::Claim;

#[component]
pub fn ClaimsTable(claims: Vec<Claim>) -> impl IntoView {
    (!claims.is_empty()).then(|| {
        view! {
            <table class="claims" data-testid="claims">
                <caption>{use_messages().tr("claims-caption")}</caption>
                <tbody>
                    {claims
                        .into_iter()
                        .map(|c| view! { <tr><th scope="row">{c.name}</th><td>{c.value}</td></tr> })
                        .collect_view()}
                </tbody>
            </table>
        }
    })
}
