//! Pairing: the code, the link, the QR, the expiry countdown, and New code / Cancel. Also the
//! outcomes that offer a new code (declined, expired, unreachable, too many codes).

use leptos::prelude::*;

use crate::api::{CancelPairing, NewCode};
use crate::components::countdown::Countdown;
use crate::components::post_form::PostForm;
use crate::components::qr_code::QrCode;
use crate::components::user_code::UserCode;
use crate::model::TvStatus;

#[component]
pub fn PairingPanel(
    status: TvStatus,
    renew: ServerAction<NewCode>,
    cancel: ServerAction<CancelPairing>,
) -> impl IntoView {
    let outcome = match &status {
        TvStatus::Denied => Some("Sign-in was declined on the phone."),
        TvStatus::Expired => Some("This code expired. Get a new one to try again."),
        TvStatus::Throttled { .. } => {
            Some("Too many new codes in a short time. Try again in a moment.")
        }
        TvStatus::Unreachable { pairing: None } => {
            Some("Can't reach the sign-in service, retrying...")
        }
        TvStatus::Starting => Some("Getting a code..."),
        _ => None,
    };
    // After an outcome, New code is the obvious next step; while waiting, it is there too.
    let show_new_code = !matches!(
        status,
        TvStatus::Starting | TvStatus::Unreachable { pairing: None }
    );
    let pairing = status.pairing().cloned();

    view! {
        <section class="pairing">
            {pairing.map(|p| {
                let target = p.verification_uri_complete.clone().unwrap_or_else(|| p.verification_uri.clone());
                view! {
                    <div class="pairing-grid">
                        <div class="pairing-text">
                            <p class="step">"On your phone, scan the QR code, or go to"</p>
                            <p class="uri" data-testid="verification-uri">{p.verification_uri.clone()}</p>
                            <p class="step">"and enter this code:"</p>
                            <UserCode code=p.user_code.clone() />
                            <Countdown deadline_ms=p.expires_at_ms label="Code expires in" />
                        </div>
                        <QrCode svg=p.qr_svg.clone() target />
                    </div>
                    <p class="warning" data-testid="phishing-warning">
                        "This signs this TV in to your account. Only continue if you are in front of this TV."
                    </p>
                }
            })}
            {outcome.map(|text| view! { <p class="lead outcome">{text}</p> })}
            <div class="actions">
                {show_new_code.then(|| view! {
                    <PostForm action=renew>
                        <button type="submit" class="primary" data-testid="new-code" data-autofocus="">"New code"</button>
                    </PostForm>
                })}
                <PostForm action=cancel>
                    <button type="submit" class="secondary" data-testid="cancel" data-autofocus=(!show_new_code).then_some("")>"Cancel"</button>
                </PostForm>
            </div>
        </section>
    }
}
