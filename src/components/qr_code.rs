//! The QR code of the verification link (an SVG made on the server).

use leptos::prelude::*;

#[component]
pub fn QrCode(svg: String, target: String, label: String) -> impl IntoView {
    view! {
        <figure class="qr" data-testid="qr" data-target=target role="img" aria-label=label inner_html=svg></figure>
    }
}
