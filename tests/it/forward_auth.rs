//! tvsignin as the front door of another app, over HTTP: everything under a path prefix
//! (`BASE_PATH`), the forward-auth check (`/auth`) and what it hands on, its signed assertion,
//! the sign-out page for apps, and every way a session's access ends (sign-out, idle, an
//! access token that expired unrefreshed, a token the provider refuses).

use std::time::Duration;

use crate::support::app::{http_client, start, start_with, TestApp};
use crate::support::scripted::{Reply, Scripted, TOKEN, USERINFO};
use crate::support::tv::Tv;
use crate::support::{metric_value, within};
use reqwest::{Response, StatusCode};
use serde_json::{json, Map, Value};

const PREFIX: &str = "/tvsignin";

/// The identity headers the check may answer with.
const IDENTITY_HEADERS: &[&str] = &[
    "x-auth-request-user",
    "x-auth-request-email",
    "x-auth-request-preferred-username",
    "x-auth-request-groups",
    "x-auth-request-access-token",
    "x-auth-request-jwt",
];

/// The app with `extra` settings, served under [`PREFIX`]; `app.base` includes it.
async fn app_under_prefix(
    extra: &[(&str, &str)],
    scripted: Option<&Scripted>,
) -> (TestApp, String) {
    let issuer = scripted.map(|idp| idp.base.clone());
    let mut settings = vec![("BASE_PATH", PREFIX)];
    settings.extend_from_slice(extra);
    if let Some(issuer) = &issuer {
        settings.extend_from_slice(&[("ISSUER", issuer.as_str()), ("CLIENT_ID", "tv")]);
    }
    let mut app = if scripted.is_some() {
        start_with(&settings, None).await
    } else {
        start(&settings).await
    };
    let origin = app.base.clone();
    app.base = format!("{origin}{PREFIX}");
    (app, origin)
}

/// `GET <prefix>/auth` with this cookie (if any) and extra request headers.
async fn check(app: &TestApp, cookie: Option<&str>, extra: &[(&str, &str)]) -> Response {
    let mut request = app.http.get(format!("{}/auth", app.base));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.send().await.expect("GET /auth")
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("text header").to_owned())
}

/// A 401 that says nothing about anyone.
fn assert_refused(response: &Response, what: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
    for name in IDENTITY_HEADERS {
        assert!(response.headers().get(*name).is_none(), "{what}: {name}");
    }
    assert!(
        response.headers().get("set-cookie").is_none(),
        "{what}: set a cookie"
    );
}

/// Pairs the TV with the demo provider's phone pages as `user`.
async fn sign_in_on_demo(app: &TestApp, tv: &Tv, user: &str) -> Value {
    tv.open_page().await;
    tv.call("start").await;
    let waiting = tv.wait_for("waiting", Duration::from_secs(10)).await;
    let link = waiting["pairing"]["verification_uri_complete"]
        .as_str()
        .expect("a complete verification link")
        .to_owned();
    // The demo provider's link (the QR code's target) is under the prefix too.
    assert!(
        link.starts_with(&format!("{}/demo-idp/device?", app.base)),
        "{link}"
    );
    let done = app
        .phone()
        .sign_in(&link, user, &format!("{user}-demo"), "allow")
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.html);
    tv.wait_for("signed-in", Duration::from_secs(10)).await
}

/// Pairs the TV with the scripted provider, which approves at the second poll.
async fn sign_in_scripted(tv: &Tv) -> Value {
    tv.open_page().await;
    tv.call("start").await;
    tv.wait_for("signed-in", Duration::from_secs(10)).await
}

fn userinfo_reply() -> Reply {
    Reply::json(
        200,
        json!({ "sub": "u-1", "name": "Una User", "email": "una@example.test",
                "preferred_username": "una", "groups": ["staff"] }),
    )
}

#[tokio::test]
async fn under_a_prefix_every_url_carries_it() {
    within(60, async {
        let (app, origin) = app_under_prefix(&[("APP_URL", "/dashboard/")], None).await;
        let http = http_client();
        let status = |path: &'static str| {
            let http = http.clone();
            let url = format!("{origin}{path}");
            async move {
                let response = http.get(url).send().await.unwrap();
                (response.status(), header(&response, "location"))
            }
        };
        // Only the prefix is ours; probes may still ask for health at the root.
        assert_eq!(status("/").await.0, StatusCode::NOT_FOUND);
        assert_eq!(status("/api/status").await.0, StatusCode::NOT_FOUND);
        assert_eq!(status("/tvsignin-x/").await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            status("/tvsignin").await,
            (
                StatusCode::PERMANENT_REDIRECT,
                Some("/tvsignin/".to_owned())
            )
        );
        assert_eq!(status("/healthz").await.0, StatusCode::OK);
        assert_eq!(status("/tvsignin/healthz").await.0, StatusCode::OK);

        // The session cookie stays the whole host's, so it reaches the app's forward-auth check.
        let first = http.get(format!("{}/", app.base)).send().await.unwrap();
        let cookie = header(&first, "set-cookie").expect("a session cookie");
        assert!(cookie.starts_with("tvsignin_session="), "{cookie}");
        assert!(cookie.split("; ").any(|part| part == "Path=/"), "{cookie}");

        let tv = Tv::new(&app.base);
        let page = tv.page().await;
        for expected in [
            r#"<meta name="tvsignin-base" content="/tvsignin">"#,
            r#"href="/tvsignin/pkg/tvsignin"#,
            r#"action="/tvsignin/api/start""#,
            r#""/tvsignin/pkg/tvsignin.js""#,
            r#""/tvsignin/tv-fallback."#,
        ] {
            assert!(page.contains(expected), "{expected} not in {page}");
        }
        assert!(!page.contains(r#"action="/api/"#), "{page}");
        let fallback = page
            .split(r#""/tvsignin/tv-fallback."#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap();
        let script = http
            .get(format!("{}/tv-fallback.{fallback}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(script.status(), StatusCode::OK);

        // The push stream, the server functions and the demo provider's links: all under it.
        let events = tv.open_events(Duration::from_millis(500)).await;
        assert_eq!(events.status(), StatusCode::OK);
        let signed_in = sign_in_on_demo(&app, &tv, "alice").await;
        assert_eq!(signed_in["profile"]["display_name"], "Alice Demo");

        // Signed in with an app to go to: Continue, and a refresh for TVs without scripts.
        let page = tv.page().await;
        for expected in [
            r#"data-testid="continue" href="/dashboard/""#,
            r#"data-continue-url="/dashboard/""#,
            r#"content="5;url=/dashboard/""#,
            r#"action="/tvsignin/api/sign_out""#,
        ] {
            assert!(page.contains(expected), "{expected} not in {page}");
        }
    })
    .await;
}

#[tokio::test]
async fn the_check_names_who_signed_in_and_nothing_else() {
    within(60, async {
        let (app, origin) = app_under_prefix(
            &[
                ("FORWARD_AUTH_ACCESS_TOKEN", "true"),
                ("FORWARD_AUTH_JWT", "true"),
                ("FORWARD_AUTH_JWT_AUDIENCE", "tv-dashboard"),
                ("FORWARD_AUTH_USER_CLAIM", "preferred_username"),
            ],
            None,
        )
        .await;
        let tv = Tv::new(&app.base);
        tv.open_page().await;
        let idle_cookie = tv.cookie().unwrap();
        assert_refused(&check(&app, None, &[]).await, "no cookie");
        // For proxies that hand the refusal to the browser: a redirect to the sign-in screen.
        let redirected = app
            .http
            .get(format!("{}/auth?redirect=1", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(redirected.status(), StatusCode::FOUND);
        assert_eq!(
            header(&redirected, "location").as_deref(),
            Some("/tvsignin/")
        );
        assert_refused(&check(&app, Some(&idle_cookie), &[]).await, "a TV at Home");

        sign_in_on_demo(&app, &tv, "alice").await;
        let cookie = tv.cookie().unwrap();
        // Whatever the client claims about itself is not echoed.
        let spoofed = [
            ("x-auth-request-user", "mallory"),
            ("x-auth-request-email", "mallory@evil.example"),
            ("x-auth-request-groups", "admins"),
            ("x-auth-request-jwt", "forged"),
            ("x-forwarded-user", "mallory"),
        ];
        let granted = check(&app, Some(&cookie), &spoofed).await;
        assert_eq!(granted.status(), StatusCode::OK);
        assert_eq!(
            header(&granted, "x-auth-request-user").as_deref(),
            Some("alice")
        );
        assert_eq!(
            header(&granted, "x-auth-request-email").as_deref(),
            Some("alice@example.com")
        );
        assert_eq!(
            header(&granted, "x-auth-request-preferred-username").as_deref(),
            Some("alice")
        );
        assert_eq!(
            header(&granted, "x-auth-request-groups").as_deref(),
            Some("platform,demo-users")
        );
        assert_eq!(
            header(&granted, "cache-control").as_deref(),
            Some("no-store")
        );
        assert!(granted.headers().get("set-cookie").is_none());
        for (name, value) in granted.headers() {
            let value = value.to_str().unwrap_or_default();
            assert!(
                !value.contains("mallory") && value != "admins" && value != "forged",
                "{name}: {value} echoed"
            );
        }

        // The access token works at the provider; the assertion verifies with the key set.
        let token = header(&granted, "x-auth-request-access-token").expect("access token");
        let userinfo = app
            .http
            .get(format!("{}/demo-idp/userinfo", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(userinfo.status(), StatusCode::OK);
        let jwt = header(&granted, "x-auth-request-jwt").expect("assertion");
        let jwks: jsonwebtoken::jwk::JwkSet = app
            .http
            .get(format!("{}/.well-known/jwks.json", app.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwks.keys[0]).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_issuer(&[format!("{origin}{PREFIX}")]);
        validation.set_audience(&["tv-dashboard"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(&jwt, &key, &validation)
            .expect("the assertion verifies")
            .claims;
        assert_eq!(claims["sub"], "demo-alice");
        assert_eq!(claims["groups"], json!(["platform", "demo-users"]));
        let mut wrong_audience = validation.clone();
        wrong_audience.set_audience(&["another-app"]);
        assert!(jsonwebtoken::decode::<Map<String, Value>>(&jwt, &key, &wrong_audience).is_err());

        // Cookies this server did not issue, or issued for another session, name no one.
        let (name, value) = cookie.split_once('=').unwrap();
        let (id, tag) = value.split_once('.').unwrap();
        let mut bad_tag = tag.to_owned();
        let last = bad_tag.pop().unwrap();
        bad_tag.push(if last == 'A' { 'B' } else { 'A' });
        for forged in [
            format!("{name}={id}.{bad_tag}"),
            format!("{name}={id}"),
            format!("{name}={}.{tag}", "0".repeat(32)),
            format!("__Host-tvsignin_session={value}"),
        ] {
            assert_refused(&check(&app, Some(&forged), &[]).await, &forged);
        }
        // A second TV signed in as bob is bob.
        let second = Tv::new(&app.base);
        sign_in_on_demo(&app, &second, "bob").await;
        let bob = check(&app, second.cookie().as_deref(), &[]).await;
        assert_eq!(header(&bob, "x-auth-request-user").as_deref(), Some("bob"));
        assert_eq!(
            header(&bob, "x-auth-request-groups").as_deref(),
            Some("design,demo-users")
        );
        let alice = check(&app, Some(&cookie), &[]).await;
        assert_eq!(
            header(&alice, "x-auth-request-user").as_deref(),
            Some("alice")
        );
    })
    .await;
}

#[tokio::test]
async fn the_sign_out_page_changes_nothing_until_its_button_is_pressed() {
    within(60, async {
        let (app, _) = app_under_prefix(
            &[("FORWARD_AUTH_ACCESS_TOKEN", "true"), ("APP_URL", "/")],
            None,
        )
        .await;
        let tv = Tv::new(&app.base);
        sign_in_on_demo(&app, &tv, "alice").await;
        let cookie = tv.cookie().unwrap();
        let token = header(
            &check(&app, Some(&cookie), &[]).await,
            "x-auth-request-access-token",
        )
        .expect("access token");

        let page = app
            .http
            .get(format!("{}/sign-out", app.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(header(&page, "content-security-policy")
            .unwrap()
            .contains("form-action 'self'"));
        let html = page.text().await.unwrap();
        for expected in [
            "Signed in as Alice Demo",
            r#"<form method="post" action="/tvsignin/api/sign_out">"#,
            r#"data-testid="back-to-app" href="/""#,
            "/tvsignin/pkg/",
        ] {
            assert!(html.contains(expected), "{expected} not in {html}");
        }
        assert!(!html.contains("<script"), "{html}");
        // In the browser's language, like the TV page.
        let german = app
            .http
            .get(format!("{}/sign-out", app.base))
            .header("cookie", &cookie)
            .header("accept-language", "de-DE,de;q=0.9,en;q=0.5")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for expected in [
            r#"<html lang="de">"#,
            "Diesen Fernseher abmelden?",
            "Angemeldet als Alice Demo",
            "Zurück zur App",
        ] {
            assert!(german.contains(expected), "{expected} not in {german}");
        }
        assert_eq!(
            check(&app, Some(&cookie), &[]).await.status(),
            StatusCode::OK
        );
        assert_eq!(tv.status().await["state"], "signed-in");

        // The button: a plain form post, as a browser sends it from that page.
        let posted = app
            .http
            .post(format!("{}/api/sign_out", app.base))
            .header("cookie", &cookie)
            .header("accept", "text/html")
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("")
            .send()
            .await
            .unwrap();
        assert!(posted.status().is_redirection(), "{}", posted.status());
        assert_eq!(header(&posted, "location").as_deref(), Some("/tvsignin/"));
        assert_refused(&check(&app, Some(&cookie), &[]).await, "signed out");
        let userinfo = app
            .http
            .get(format!("{}/demo-idp/userinfo", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            userinfo.status(),
            StatusCode::UNAUTHORIZED,
            "revoked at sign-out"
        );

        // Not signed in: the page offers Sign in, and no button.
        let html = app
            .http
            .get(format!("{}/sign-out", app.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains(r#"href="/tvsignin/""#) && !html.contains("<form"),
            "{html}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_token_the_provider_refuses_ends_the_session_but_an_outage_does_not() {
    within(60, async {
        let idp = Scripted::start().await;
        idp.script(TOKEN, vec![Reply::pending(), Reply::tokens()]);
        idp.script(USERINFO, vec![userinfo_reply()]);
        let (app, _) = app_under_prefix(&[("FORWARD_AUTH_RECHECK_SECS", "1")], Some(&idp)).await;
        let tv = Tv::new(&app.base);
        sign_in_scripted(&tv).await;
        let cookie = tv.cookie().unwrap();
        let granted = check(&app, Some(&cookie), &[]).await;
        assert_eq!(granted.status(), StatusCode::OK);
        assert_eq!(
            header(&granted, "x-auth-request-user").as_deref(),
            Some("u-1")
        );
        assert_eq!(
            header(&granted, "x-auth-request-groups").as_deref(),
            Some("staff")
        );
        assert_eq!(
            header(&granted, "x-auth-request-access-token"),
            None,
            "the token only when FORWARD_AUTH_ACCESS_TOKEN asks for it"
        );
        // Within the recheck interval the provider is not asked again.
        let asked = idp.hits(USERINFO);
        assert_eq!(
            check(&app, Some(&cookie), &[]).await.status(),
            StatusCode::OK
        );
        assert_eq!(idp.hits(USERINFO), asked);

        // The provider fails: access goes on.
        idp.script(USERINFO, vec![Reply::error(503, "temporarily_unavailable")]);
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        assert_eq!(
            check(&app, Some(&cookie), &[]).await.status(),
            StatusCode::OK
        );
        assert_eq!(idp.hits(USERINFO), asked + 1);

        // The provider refuses the token (revoked there): access ends, and the TV is at Home.
        idp.script(USERINFO, vec![Reply::error(401, "invalid_token")]);
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        assert_refused(&check(&app, Some(&cookie), &[]).await, "revoked");
        assert_eq!(tv.status().await["state"], "idle");
        assert_refused(&check(&app, Some(&cookie), &[]).await, "stays ended");
        assert_refused(&check(&app, None, &[]).await, "no cookie");

        // Each answer is counted by what it was.
        let metrics = app
            .http
            .get(format!("{}/metrics", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let counted = |result: &str| {
            let series = format!("tvsignin_forward_auth_checks_total{{result=\"{result}\"}}");
            metric_value(&metrics, &series).map_or(0, |n| n as u64)
        };
        assert_eq!(counted("allowed"), 3, "{metrics}");
        assert_eq!(counted("ended"), 1, "{metrics}");
        assert_eq!(counted("not_signed_in"), 2, "{metrics}");
        assert_eq!(counted("unavailable"), 0, "{metrics}");
    })
    .await;
}

#[tokio::test]
async fn an_access_token_that_expired_unrefreshed_ends_the_session() {
    within(60, async {
        let idp = Scripted::start().await;
        // Two seconds of life and no refresh token.
        let short = Reply::json(
            200,
            json!({ "access_token": "at-short", "token_type": "Bearer", "expires_in": 2 }),
        );
        idp.script(TOKEN, vec![Reply::pending(), short]);
        idp.script(USERINFO, vec![userinfo_reply()]);
        let (app, _) = app_under_prefix(&[], Some(&idp)).await;
        let tv = Tv::new(&app.base);
        sign_in_scripted(&tv).await;
        let cookie = tv.cookie().unwrap();
        assert_eq!(
            check(&app, Some(&cookie), &[]).await.status(),
            StatusCode::OK
        );
        tokio::time::sleep(Duration::from_millis(2_300)).await;
        assert_refused(&check(&app, Some(&cookie), &[]).await, "expired");
        assert_eq!(tv.status().await["state"], "idle");
    })
    .await;
}

#[tokio::test]
async fn checks_count_as_use_and_the_idle_sign_out_ends_access() {
    within(60, async {
        let idp = Scripted::start().await;
        idp.script(TOKEN, vec![Reply::pending(), Reply::tokens()]);
        idp.script(USERINFO, vec![userinfo_reply()]);
        let (app, _) = app_under_prefix(
            &[("IDLE_SIGN_OUT_SECS", "10"), ("SIGN_OUT_WARNING_SECS", "2")],
            Some(&idp),
        )
        .await;
        let tv = Tv::new(&app.base);
        let before = sign_in_scripted(&tv).await["sign_out_at_ms"]
            .as_u64()
            .unwrap();
        let cookie = tv.cookie().unwrap();
        // Use is noted at most once a second (a twentieth of 10 s, but at least 1 s).
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        assert_eq!(
            check(&app, Some(&cookie), &[]).await.status(),
            StatusCode::OK
        );
        let after = tv.status().await["sign_out_at_ms"].as_u64().unwrap();
        assert!(
            after >= before + 1_000,
            "the check pushed the sign-out back: {before} -> {after}"
        );

        // Nobody uses the TV: at the idle sign-out access ends.
        let now = support_now_ms();
        tokio::time::sleep(Duration::from_millis(after.saturating_sub(now) + 500)).await;
        assert_refused(&check(&app, Some(&cookie), &[]).await, "idle");
        tv.wait_for("idle", Duration::from_secs(5)).await;
    })
    .await;
}

fn support_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}
