//! The signed-in person's claims as a readable two-column table.

use leptos::prelude::*;

use crate::model::Claim;

#[component]
pub fn ClaimsTable(claims: Vec<Claim>) -> impl IntoView {
    view! {
        <table class="claims" data-testid="claims">
            <caption>"Your profile"</caption>
            <tbody>
                {claims
                    .into_iter()
                    .map(|c| view! { <tr><th scope="row">{c.name}</th><td>{c.value}</td></tr> })
                    .collect_view()}
            </tbody>
        </table>
    }
}
