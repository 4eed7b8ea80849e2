//! Pairing: the code, the link, the QR, the expiry countdown, and New code / Cancel. Also the
//! outcomes that offer a new code (declined, expired, unreachable, too many codes).

use leptos::prelude::*;

use crate::api::{CancelPairing, NewCode};
use crate::components::countdown::Countdown;
use crate::components::post_form::PostForm;
use crate::components::qr_code::QrCode;
use crate::components::user_code::UserCode;
use crate::i18n::use_messages;
use crate::model::TvStatus;

#[component]
pub fn PairingPanel(
    status: TvStatus,
    renew: ServerAction<NewCode>,
    cancel: ServerAction<CancelPairing>,
    /// The operator's name (`ORG_NAME`), for the phishing warning.
    org: Option<String>,
) -> impl IntoView {
    let t = use_messages();
    let outcome = match &status {
        TvStatus::Denied => Some("outcome-denied"),
        TvStatus::Expired => Some("outcome-expired"),
        TvStatus::Throttled { .. } => Some("outcome-throttled"),
        TvStatus::Unreachable { pairing: None } => Some("outcome-unreachable"),
        TvStatus::Starting => Some("outcome-starting"),
        _ => None,
    }
    .map(|id| t.tr(id));
    let warning = match org {
        Some(org) => t.tr_with("phishing-warning-org", &[("org", &org)]),
        None => t.tr("phishing-warning"),
    };
    // After an outcome, New code is the obvious next step; while waiting, it is there too.
    let show_new_code = !matches!(
        status,
        TvStatus::Starting | TvStatus::Unreachable { pairing: None }
    );
    let pairing = status.pairing().cloned();
    let (scan, enter, qr_label) = (t.tr("step-scan"), t.tr("step-enter"), t.tr("qr-label"));
    let (new_code, cancel_text) = (t.tr("button-new-code"), t.tr("button-cancel"));

    view! {
        <section class="pairing">
            {pairing.map(|p| {
                let target = p.verification_uri_complete.clone().unwrap_or_else(|| p.verification_uri.clone());
                view! {
                    <div class="pairing-grid">
                        <div class="pairing-text">
                            <p class="step">{scan}</p>
                            <p class="uri" data-testid="verification-uri">{p.verification_uri.clone()}</p>
                            <p class="step">{enter}</p>
                            <UserCode code=p.user_code.clone() />
                            <Countdown deadline_ms=p.expires_at_ms message="code-expires" />
                        </div>
                        <QrCode svg=p.qr_svg.clone() target label=qr_label />
                    </div>
                    <p class="warning" data-testid="phishing-warning">
                        {warning}
                    </p>
                }
            })}
            {outcome.map(|text| view! { <p class="lead outcome">{text}</p> })}
            <div class="actions">
                {show_new_code.then(|| view! {
                    <PostForm action=renew>
                        <button type="submit" class="primary" data-testid="new-code" data-autofocus="">{new_code}</button>
                    </PostForm>
                })}
                <PostForm action=cancel>
                    <button type="submit" class="secondary" data-testid="cancel" data-autofocus=(!show_new_code).then_some("")>{cancel_text}</button>
                </PostForm>
            </div>
        </section>
    }
}
