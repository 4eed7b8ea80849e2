//! The app's own provider client driven as the pairing drives it: the real polling loop with
//! `poll_for_rules`, run to its end.

use tokio_util::sync::CancellationToken;
use tvsignin::oidc::device::DeviceAuthorization;
use tvsignin::oidc::polling::{run_polling, PollOutcome, PollProgress, PollState, Timer};
use tvsignin::oidc::token::TokenSet;
use tvsignin::oidc::ProviderClient;

/// Runs the real polling loop with the client's `poll_for_rules` until it ends; returns the
/// outcome and every progress report.
pub async fn poll_until_done(
    client: &ProviderClient,
    device: &DeviceAuthorization,
    timer: &dyn Timer,
) -> (PollOutcome<TokenSet>, Vec<PollProgress>) {
    poll_watching(client, device, timer, |_| {}).await
}

/// As [`poll_until_done`], handing each progress report to `on_progress` as it comes.
pub async fn poll_watching(
    client: &ProviderClient,
    device: &DeviceAuthorization,
    timer: &dyn Timer,
    mut on_progress: impl FnMut(&PollProgress),
) -> (PollOutcome<TokenSet>, Vec<PollProgress>) {
    let cancel = CancellationToken::new();
    let state = PollState::new(device.interval, timer.now(), device.expires_in);
    let code = &device.device_code;
    let mut progress = Vec::new();
    let outcome = run_polling(
        state,
        timer,
        &cancel,
        move || client.poll_for_rules(code),
        |p| {
            on_progress(&p);
            progress.push(p);
        },
    )
    .await;
    (outcome, progress)
}

/// The tokens of an approved outcome; panics on any other.
pub fn approved(outcome: PollOutcome<TokenSet>) -> TokenSet {
    match outcome {
        PollOutcome::Approved(tokens) => tokens,
        other => panic!("expected Approved, got {other:?}"),
    }
}
