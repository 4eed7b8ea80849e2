//! Session fixation (issue 13), black-box over HTTP against the whole app on a loopback
//! port: session ids are issued only by the server (a cookie it did not issue is replaced),
//! and the TV's own Sign in, New code and Sign out move its session to a new id, whose cookie
//! only that action's answer carries. Whoever holds the old id (a planted cookie) sees
//! nothing of the sign-in, on the push stream or on the status endpoint. Over HTTPS the
//! cookie is named with the `__Host-` prefix.

use std::time::Duration;

use serde_json::Value;

use crate::support::app::{start, start_with, TestApp};
use crate::support::events::Events;
use crate::support::tv::{session_cookie, user_code, Tv};
use crate::support::within;

/// How long a push stream may stay open here, and how long to wait for an event.
const STREAM: Duration = Duration::from_secs(50);
const WAIT: Duration = Duration::from_secs(20);

/// Sends `method path` with `cookie` (a `name=value` pair) as a same-origin page would.
async fn send(app: &TestApp, method: &str, path: &str, cookie: &str) -> reqwest::Response {
    let url = format!("{}{path}", app.base);
    let request = match method {
        "POST" => app
            .http
            .post(url)
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(""),
        _ => app.http.get(url),
    };
    request
        .header("cookie", cookie)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// Reads a push stream to its end (5 s at most): its raw text.
async fn read_to_end(mut stream: reqwest::Response) -> String {
    let mut text = String::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(chunk)) = stream.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(read.is_ok(), "the stream did not end within 5 s: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_the_server_did_not_issue_is_replaced() {
    within(60, async {
        let app = start(&[]).await;
        let issued = session_cookie(
            app.http
                .get(format!("{}/", app.base))
                .send()
                .await
                .unwrap()
                .headers(),
        )
        .expect("GET / issues a session")
        .1;
        let (id, tag) = issued.split_once('.').expect("<id>.<tag>");
        let made_up = [
            // A well-formed id with no tag, an issued id with another's tag, a made-up tag.
            id.to_owned(),
            format!("{}.{tag}", "0".repeat(32)),
            format!("{id}.{}", "A".repeat(43)),
            "attacker-chosen".to_owned(),
        ];
        for value in &made_up {
            let planted = format!("tvsignin_session={value}");
            for (method, path) in [("GET", "/"), ("POST", "/api/status"), ("GET", "/events")] {
                let response = send(&app, method, path, &planted).await;
                assert!(
                    response.status().is_success(),
                    "{method} {path}: {}",
                    response.status()
                );
                let (_, new, _) = session_cookie(response.headers())
                    .unwrap_or_else(|| panic!("{method} {path} kept the planted {value:?}"));
                assert_ne!(&new, value, "{method} {path}");
                assert!(new.len() > 33 && new.as_bytes()[32] == b'.', "{new}");
            }
        }
        // An id the server issued is kept: no new cookie.
        let response = send(&app, "GET", "/", &format!("tvsignin_session={issued}")).await;
        assert_eq!(
            session_cookie(response.headers()),
            None,
            "an issued id was replaced"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sign_in_the_planted_id_sees_nothing() {
    within(60, async {
        let app = start(&[]).await;
        // The attacker gets an id from the server, keeps a copy, and plants it on the TV.
        let attacker = Tv::new(&app.base);
        attacker.open_page().await;
        let planted = attacker.cookie().expect("an issued cookie");
        let tv = Tv::new(&app.base);
        tv.set_cookie(&planted);
        // Both watch the push stream under the planted id.
        let spying = attacker.open_events(STREAM).await;
        assert_eq!(spying.status(), 200);
        let mut screen = Events::open(&tv, STREAM).await;
        assert_eq!(
            screen.next(WAIT).await.expect("a first status")["state"],
            "idle"
        );

        // The TV's own Sign in: its answer carries a new id.
        let started = tv.call("start").await;
        assert_eq!(started["state"], "starting", "{started}");
        let first_id = tv.cookie().expect("a cookie");
        assert_ne!(first_id, planted, "Sign in kept the planted id");
        // The attacker's stream ends at once, with `rotated`, having shown only Home.
        let spied = read_to_end(spying).await;
        assert!(spied.contains("event: rotated"), "{spied}");
        assert!(
            !spied.contains("waiting") && !spied.contains("starting"),
            "{spied}"
        );
        let waiting = screen.wait_for("waiting", WAIT).await;

        // New code moves it again; the id before sees nothing either.
        assert_eq!(tv.call("renew").await["state"], "starting");
        let second_id = tv.cookie().expect("a cookie");
        assert_ne!(second_id, first_id, "New code kept the id");
        let before = Tv::new(&app.base);
        before.set_cookie(&first_id);
        assert_eq!(before.status().await["state"], "idle");
        let waiting = loop {
            let next = screen.wait_for("waiting", WAIT).await;
            if user_code(&next) != user_code(&waiting) {
                break next;
            }
        };

        // Alice approves on her phone: the TV, under its new id, is signed in.
        let link = waiting["pairing"]["verification_uri_complete"]
            .as_str()
            .expect("a complete link")
            .to_owned();
        let done = app
            .phone()
            .sign_in(&link, "alice", "alice-demo", "allow")
            .await;
        assert!(done.status.is_success(), "{}", done.html);
        let signed_in = screen.wait_for("signed-in", WAIT).await;
        assert_eq!(signed_in["profile"]["display_name"], "Alice Demo");
        assert_eq!(
            tv.cookie().as_ref(),
            Some(&second_id),
            "no move at approval"
        );

        // The planted id sees nothing: Home on the status endpoint and on the push stream.
        let status = attacker.status().await;
        assert_eq!(
            status,
            serde_json::json!({"state": "idle"}),
            "status: {status}"
        );
        let mut peek = Events::open(&attacker, STREAM).await;
        let pushed: Value = peek.next(WAIT).await.expect("a first status");
        assert_eq!(
            pushed,
            serde_json::json!({"state": "idle"}),
            "pushed: {pushed}"
        );
        assert_eq!(
            attacker.cookie().as_ref(),
            Some(&planted),
            "still the planted id"
        );
        // Nor can it act on the TV's session: its Sign out changes nothing there.
        assert_eq!(attacker.call("sign_out").await["state"], "idle");
        assert_eq!(tv.status().await["state"], "signed-in");

        // The TV signs out: a new id again, and the signed-in one is empty now.
        assert_eq!(tv.call("sign_out").await["state"], "idle");
        assert_ne!(
            tv.cookie().as_ref(),
            Some(&second_id),
            "Sign out kept the id"
        );
        let signed_in_id = Tv::new(&app.base);
        signed_in_id.set_cookie(&second_id);
        assert_eq!(signed_in_id.status().await["state"], "idle");
        screen.wait_for("idle", WAIT).await;
        assert_eq!(
            screen.reopened,
            3,
            "a new stream after each move: {:?}",
            screen.states()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_the_cookie_is_host_prefixed_and_others_are_ignored() {
    within(60, async {
        // A real provider's settings (it need not answer for these requests).
        let app = start_with(
            &[
                ("ISSUER", "http://127.0.0.1:9"),
                ("CLIENT_ID", "tv"),
                ("PUBLIC_URL", "https://kiosk.example.test"),
            ],
            None,
        )
        .await;
        let response = app.http.get(format!("{}/", app.base)).send().await.unwrap();
        let (name, value, attributes) =
            session_cookie(response.headers()).expect("a session cookie");
        assert_eq!(name, "__Host-tvsignin_session");
        for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(attributes.contains(attribute), "{attributes}");
        }
        assert!(
            !attributes.to_ascii_lowercase().contains("domain"),
            "{attributes}"
        );
        // Kept under its own name...
        let own = format!("__Host-tvsignin_session={value}");
        assert_eq!(
            session_cookie(send(&app, "GET", "/", &own).await.headers()),
            None
        );
        // ...and the same value under the plain name (which another host could have set)
        // counts for nothing.
        let plain = format!("tvsignin_session={value}");
        let (name, new, _) =
            session_cookie(send(&app, "GET", "/", &plain).await.headers()).expect("a new session");
        assert_eq!(name, "__Host-tvsignin_session");
        assert_ne!(new, value);

        // Behind a trusted TLS proxy, X-Forwarded-Proto decides.
        let proxied = start_with(
            &[
                ("ISSUER", "http://127.0.0.1:9"),
                ("CLIENT_ID", "tv"),
                ("TRUST_PROXY", "true"),
            ],
            None,
        )
        .await;
        for (proto, expected) in [
            ("https", "__Host-tvsignin_session"),
            ("http", "tvsignin_session"),
        ] {
            let response = proxied
                .http
                .get(format!("{}/", proxied.base))
                .header("x-forwarded-proto", proto)
                .send()
                .await
                .unwrap();
            let (name, _, attributes) = session_cookie(response.headers()).expect("a cookie");
            assert_eq!(name, expected, "{proto}");
            assert_eq!(
                attributes.contains("Secure"),
                proto == "https",
                "{attributes}"
            );
        }
    })
    .await;
}
