//! `use_activity`: while someone is signed in, any key press or touch tells the server the TV
//! is in use, which postpones the idle sign-out (reported at most every few seconds).

use leptos::prelude::*;

use crate::model::TvStatus;

pub fn use_activity(status: RwSignal<TvStatus>) {
    #[cfg(feature = "hydrate")]
    {
        use crate::hooks::use_countdown::now_ms;
        let last_report = StoredValue::new(0u64);
        let report = move || {
            let TvStatus::SignedIn {
                sign_out_at_ms,
                warn_secs,
                ..
            } = status.get_untracked()
            else {
                return;
            };
            let now = now_ms();
            let warning = sign_out_at_ms.saturating_sub(now) <= warn_secs * 1_000;
            if !warning && now.saturating_sub(last_report.get_value()) < 5_000 {
                return;
            }
            last_report.set_value(now);
            // The new sign-out time arrives through the push stream.
            leptos::task::spawn_local(async move {
                let _ = crate::api::report_activity().await;
            });
        };
        let keys = window_event_listener(leptos::ev::keydown, move |_| report());
        let touches = window_event_listener(leptos::ev::pointerdown, move |_| report());
        on_cleanup(move || {
            keys.remove();
            touches.remove();
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = status;
}
