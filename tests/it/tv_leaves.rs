//! When the TV goes away (page closed: no push connection, no requests), the server stops
//! polling the provider for it shortly after, instead of polling for nobody until expiry.

use std::time::{Duration, Instant};

use crate::support::app::start_with;
use crate::support::scripted::{Scripted, TOKEN};
use crate::support::tv::Tv;

#[tokio::test]
async fn polling_stops_after_the_tv_leaves() {
    // A provider that never gets an answer from the person: every poll is pending.
    let provider = Scripted::start().await;
    let app = start_with(
        &[
            ("ISSUER", provider.base.as_str()),
            ("CLIENT_ID", "tv"),
            ("ABANDON_AFTER_SECS", "2"),
        ],
        None,
    )
    .await;
    let polls = || provider.hits(TOKEN);

    // The TV starts a pairing (its session cookie comes with the answer) and follows its
    // push stream (under the new session id the start's answer brought).
    let tv = Tv::new(&app.base);
    let started = tv.call("start").await;
    assert_eq!(started["state"], "starting");
    let mut events = tv.open_events(Duration::from_secs(60)).await;
    // While the stream is open, polling goes on, once a second.
    let deadline = Instant::now() + Duration::from_secs(10);
    while polls() < 3 {
        assert!(Instant::now() < deadline, "no polling while the TV watches");
        let _ = tokio::time::timeout(Duration::from_millis(200), events.chunk()).await;
    }

    // The TV goes away.
    drop(events);
    let left_at = polls();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after_grace = polls();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(polls(), after_grace, "still polling 5 s after the TV left");
    assert!(
        after_grace <= left_at + 4,
        "polled {} more times after the TV left",
        after_grace - left_at
    );

    // Coming back, the TV finds Home, ready for a new code.
    let status = tv.call("status").await;
    assert_eq!(status["status"]["state"], "idle", "{status}");
}
