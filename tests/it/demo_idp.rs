//! The built-in demo provider, tested through the whole app on a loopback port: the protocol
//! with plain HTTP requests, the phone pages through their HTML forms, and the app's own
//! provider client signing in against it.

use std::time::{Duration, Instant};

use reqwest::header::{
    HeaderMap, AUTHORIZATION, CONTENT_SECURITY_POLICY, SET_COOKIE, WWW_AUTHENTICATE,
};
use reqwest::StatusCode;
use serde_json::Value;

use tvsignin::demo_idp::DemoTiming;
use tvsignin::oidc::polling::{PollOutcome, TokioTimer};
use tvsignin::oidc::secret::{AccessToken, IdToken, Password, RefreshToken};
use tvsignin::oidc::token::TokenSet;

use crate::support::app::{start, TestApp};
use crate::support::polling::poll_until_done;
use crate::support::within;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const CLIENT: &str = "tvsignin-demo";
const ALPHABET: &str = "BCDFGHJKLMNPQRSTVWXZ";

impl TestApp {
    fn set_timing(&self, code_ttl: u64, interval: u64) {
        let demo = self.state.demo.as_ref().unwrap();
        demo.set_timing(DemoTiming {
            code_ttl: Duration::from_secs(code_ttl),
            interval: Duration::from_secs(interval),
            ..demo.timing()
        });
    }

    /// POSTs a form to an endpoint under the issuer; (status, headers, JSON body or Null).
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, HeaderMap, Value) {
        self.post_from(None, path, form).await
    }

    /// POSTs as a client at `address`, as a trusted proxy names it (`X-Forwarded-For`), or
    /// straight from this machine with `None`.
    async fn post_from(
        &self,
        address: Option<&str>,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = self.http.post(format!("{}{path}", self.issuer)).form(form);
        if let Some(address) = address {
            request = request.header("x-forwarded-for", address);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    async fn device_authorization(&self) -> Value {
        let (status, headers, body) = self
            .post(
                "/device_authorization",
                &[("client_id", CLIENT), ("scope", "openid profile email")],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(headers.get("cache-control").unwrap(), "no-store");
        body
    }

    async fn poll(&self, device_code: &str) -> (StatusCode, Value) {
        let (status, _, body) = self
            .post(
                "/token",
                &[
                    ("grant_type", DEVICE_GRANT),
                    ("device_code", device_code),
                    ("client_id", CLIENT),
                ],
            )
            .await;
        (status, body)
    }

    async fn password_grant(&self, username: &str, password: &str) -> (StatusCode, Value) {
        let form = [
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
            ("client_id", CLIENT),
            ("scope", "openid profile email"),
        ];
        let (status, _, body) = self.post("/token", &form).await;
        (status, body)
    }

    async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        let (status, _, body) = self
            .post(
                "/token",
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token),
                    ("client_id", CLIENT),
                ],
            )
            .await;
        (status, body)
    }

    async fn userinfo(&self, access_token: &str) -> (StatusCode, HeaderMap, Value) {
        let response = self
            .http
            .get(format!("{}/userinfo", self.issuer))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        (
            status,
            headers,
            response.json().await.unwrap_or(Value::Null),
        )
    }
}

fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or("<no error>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_and_jwks() {
    within(60, async {
        let app = start(&[]).await;
        let response = app
            .http
            .get(format!("{}/.well-known/openid-configuration", app.issuer))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let doc: Value = response.json().await.unwrap();
        assert_eq!(doc["issuer"], app.issuer.as_str());
        for (key, path) in [
            ("device_authorization_endpoint", "/device_authorization"),
            ("token_endpoint", "/token"),
            ("userinfo_endpoint", "/userinfo"),
            ("revocation_endpoint", "/revoke"),
            ("jwks_uri", "/jwks"),
        ] {
            assert_eq!(doc[key], format!("{}{path}", app.issuer), "{key}");
        }
        let grants: Vec<&str> = doc["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(grants, [DEVICE_GRANT, "refresh_token", "password"]);
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            serde_json::json!(["ES256"])
        );
        assert_eq!(
            doc["token_endpoint_auth_methods_supported"],
            serde_json::json!(["none"])
        );

        let jwks: Value = app
            .http
            .get(format!("{}/jwks", app.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let key = &jwks["keys"][0];
        assert_eq!(
            (
                key["kty"].as_str(),
                key["crv"].as_str(),
                key["alg"].as_str()
            ),
            (Some("EC"), Some("P-256"), Some("ES256"))
        );
        assert!(
            key["kid"].as_str().is_some_and(|k| k.len() == 43),
            "RFC 7638 thumbprint kid: {key}"
        );
        assert!(key.get("d").is_none(), "no private part");
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
        assert_eq!(set.keys.len(), 1);

        // The app's own client loads it.
        let endpoints = app.state.provider.load_endpoints().await.unwrap();
        assert_eq!(endpoints.issuer.as_deref(), Some(app.issuer.as_str()));
        assert_eq!(
            endpoints.auth_method,
            tvsignin::oidc::ClientAuthMethod::None
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_authorization_shape_and_client_checks() {
    within(60, async {
        let app = start(&[]).await;
        assert_eq!(DemoTiming::default().code_ttl, Duration::from_secs(600));
        assert_eq!(DemoTiming::default().interval, Duration::from_secs(5));
        let mut codes = std::collections::HashSet::new();
        for _ in 0..20 {
            let da = app.device_authorization().await;
            let user_code = da["user_code"].as_str().unwrap();
            let (head, tail) = user_code.split_once('-').expect("XXXX-XXXX");
            assert!(head.len() == 4 && tail.len() == 4, "{user_code}");
            assert!(
                format!("{head}{tail}")
                    .chars()
                    .all(|c| ALPHABET.contains(c)),
                "{user_code}"
            );
            let device_code = da["device_code"].as_str().unwrap();
            assert!(
                device_code.len() >= 43,
                "at least 256 bits, base64url: {device_code}"
            );
            assert!(device_code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert_eq!(
                da["verification_uri"],
                format!("{}/demo-idp/device", app.base)
            );
            assert_eq!(
                da["verification_uri_complete"],
                format!("{}/demo-idp/device?user_code={user_code}", app.base)
            );
            assert_eq!(
                da["expires_in"],
                app.state.demo.as_ref().unwrap().timing().code_ttl.as_secs()
            );
            assert_eq!(da["interval"], 1);
            assert!(codes.insert(user_code.to_owned()), "user codes repeat");
        }

        let (status, _, body) = app
            .post("/device_authorization", &[("client_id", "someone-else")])
            .await;
        assert_eq!(
            (status, error_of(&body)),
            (StatusCode::UNAUTHORIZED, "invalid_client")
        );
        let (status, _, body) = app
            .post("/device_authorization", &[("scope", "openid")])
            .await;
        assert_eq!(
            (status, error_of(&body)),
            (StatusCode::UNAUTHORIZED, "invalid_client")
        );
        let (status, _, body) = app
            .post(
                "/device_authorization",
                &[("client_id", CLIENT), ("client_secret", "x")],
            )
            .await;
        assert_eq!(
            (status, error_of(&body)),
            (StatusCode::UNAUTHORIZED, "invalid_client")
        );
        let response = app
            .http
            .post(format!("{}/device_authorization", app.issuer))
            .basic_auth(CLIENT, Some("secret"))
            .form(&[("scope", "openid")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key(WWW_AUTHENTICATE));
        let response = app
            .http
            .post(format!("{}/device_authorization", app.issuer))
            .json(&serde_json::json!({"client_id": CLIENT}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_of(&response.json().await.unwrap()), "invalid_request");
        let body = format!("client_id={CLIENT}&client_id={CLIENT}");
        let response = app
            .http
            .post(format!("{}/device_authorization", app.issuer))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_of(&response.json().await.unwrap()),
            "invalid_request",
            "repeated parameter"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_flow_allow_gives_tokens_userinfo_and_a_verified_id_token() {
    within(60, async {
        let app = start(&[]).await;
        let da = app.device_authorization().await;
        let (device_code, user_code) = (da["device_code"].as_str().unwrap(), da["user_code"].as_str().unwrap());

        let (status, body) = app.poll(device_code).await;
        assert_eq!((status, error_of(&body)), (StatusCode::BAD_REQUEST, "authorization_pending"));

        // The phone opens the plain link and types the code in lower case without the dash.
        let mut phone = app.phone();
        let page = phone.open(da["verification_uri"].as_str().unwrap()).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.headers.get(CONTENT_SECURITY_POLICY).unwrap(), "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
        let cookie = page.headers.get(SET_COOKIE).unwrap().to_str().unwrap();
        for attribute in ["demo_idp_flow=", "HttpOnly", "SameSite=Lax", "Path=/demo-idp"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        assert!(page.html.contains("name=\"viewport\"") && page.html.contains(">Demo<") && page.html.contains("not for production"));
        assert!(!page.html.contains("<script"));
        let typed = user_code.replace('-', "").to_lowercase();
        let consent = phone.enter_code(&page, &typed).await;
        assert_eq!(consent.status, StatusCode::OK, "{}", consent.html);
        assert!(consent.html.contains("tvsignin TV"));
        assert_eq!(consent.text("demo-code"), user_code);
        for needle in ["alice-demo", "bob-demo", "Alice Demo", "data-testid=\"demo-user\"", "data-testid=\"demo-password\"", "data-testid=\"demo-allow\"", "data-testid=\"demo-deny\""] {
            assert!(consent.html.contains(needle), "{needle}");
        }

        // A wrong password is refused on the page; the right one signs in.
        let wrong = phone.decide(&consent, "alice", "bob-demo", "allow").await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
        assert!(wrong.text("demo-error").contains("Wrong password"));
        let (status, body) = app.poll(device_code).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(["authorization_pending", "slow_down"].contains(&error_of(&body)));
        let done = phone.decide(&wrong, "alice", "alice-demo", "allow").await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.html);
        assert_eq!(done.text("demo-result"), "You're signed in on the TV. You can close this page.");

        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (status, tokens) = app.poll(device_code).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        assert_eq!(tokens["token_type"], "Bearer");
        assert!(tokens["expires_in"].as_u64().unwrap() > 0);
        assert_eq!(tokens["scope"], "openid profile email");
        let access_token = tokens["access_token"].as_str().unwrap();

        // A redeemed code is never good again.
        let (status, body) = app.poll(device_code).await;
        assert_eq!((status, error_of(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"));

        let (status, _, claims) = app.userinfo(access_token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(claims["sub"], "demo-alice");
        assert_eq!(claims["name"], "Alice Demo");
        assert_eq!(claims["preferred_username"], "alice");
        assert_eq!(claims["email"], "alice@example.com");
        assert_eq!(claims["email_verified"], true);
        assert_eq!(claims["ext"]["team"], "Platform");

        // The app's own client verifies the ID token (iss, aud, signature via the JWKS).
        let set = TokenSet {
            access_token: AccessToken::new(access_token),
            refresh_token: tokens["refresh_token"].as_str().map(RefreshToken::new),
            id_token: Some(IdToken::new(tokens["id_token"].as_str().unwrap())),
            expires_in: None,
            scope: None,
        };
        let id = app.state.provider.verify_id_token(set.id_token.as_ref().unwrap()).await.unwrap();
        assert_eq!(id.sub, "demo-alice");
        assert_eq!(id.claims["aud"], CLIENT);
        assert_eq!(id.claims["iss"], app.issuer.as_str());
        let user = app.state.provider.complete_sign_in(&set).await.unwrap();
        assert_eq!((user.sub.as_str(), user.display_name.as_str()), ("demo-alice", "Alice Demo"));
        assert!(user.claims.contains(&("ext.team".to_owned(), "Platform".to_owned())), "{:?}", user.claims);

        // The phone cannot use the code again.
        let again = phone.enter_code(&page, user_code).await;
        assert!(again.text("demo-error").contains("already been used"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_are_limited() {
    within(60, async {
        let app = start(&[]).await;
        let da = app.device_authorization().await;
        let user_code = da["user_code"].as_str().unwrap();
        let wrong = if user_code == "BBBB-BBBB" {
            "CCCC-CCCC"
        } else {
            "BBBB-BBBB"
        };

        let mut phone = app.phone();
        let page = phone.open(&format!("{}/demo-idp/device", app.base)).await;
        for attempt in 1..=5 {
            let answer = phone.enter_code(&page, wrong).await;
            if attempt < 5 {
                assert_eq!(answer.status, StatusCode::BAD_REQUEST);
                assert!(
                    answer.text("demo-error").contains("isn't right"),
                    "{}",
                    answer.html
                );
            } else {
                assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
                assert!(answer.text("demo-error").contains("Too many wrong codes"));
            }
        }
        // Even the right code is refused now, from this browser.
        let refused = phone.enter_code(&page, user_code).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);

        // Another browser at the same address still can...
        let mut other = app.phone();
        let page = other.open(&format!("{}/demo-idp/device", app.base)).await;
        assert_eq!(
            other.enter_code(&page, user_code).await.status,
            StatusCode::OK
        );
        // ...until the address has used up its 20 wrong codes (browsers dropping cookies).
        for _ in 0..15 {
            let mut fresh = app.phone();
            let page = fresh.open(&format!("{}/demo-idp/device", app.base)).await;
            fresh.enter_code(&page, wrong).await;
        }
        let mut late = app.phone();
        let page = late.open(&format!("{}/demo-idp/device", app.base)).await;
        assert_eq!(
            late.enter_code(&page, user_code).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_codes_answer_expired_token() {
    within(60, async {
        let app = start(&[]).await;
        app.set_timing(1, 1);
        let da = app.device_authorization().await;
        assert_eq!(da["expires_in"], 1);
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let (status, body) = app.poll(da["device_code"].as_str().unwrap()).await;
        assert_eq!(
            (status, error_of(&body)),
            (StatusCode::BAD_REQUEST, "expired_token")
        );

        let mut phone = app.phone();
        let page = phone
            .open(da["verification_uri_complete"].as_str().unwrap())
            .await;
        let answer = phone.enter_code(&page, &page.input("user_code")).await;
        assert!(
            answer.text("demo-error").contains("expired"),
            "{}",
            answer.html
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_too_fast_gets_slow_down() {
    within(60, async {
        let app = start(&[]).await;
        let da = app.device_authorization().await;
        let device_code = da["device_code"].as_str().unwrap();
        assert_eq!(
            error_of(&app.poll(device_code).await.1),
            "authorization_pending"
        );
        assert_eq!(error_of(&app.poll(device_code).await.1), "slow_down");
        // The interval is now 1 + 5 s: a poll 1.3 s later is still too fast.
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert_eq!(error_of(&app.poll(device_code).await.1), "slow_down");
        let (status, body) = app.poll("not-a-device-code").await;
        assert_eq!(
            (status, error_of(&body)),
            (StatusCode::BAD_REQUEST, "invalid_grant")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_gives_access_denied() {
    within(60, async {
        let app = start(&[]).await;
        let da = app.device_authorization().await;
        let mut phone = app.phone();
        let done = phone
            .sign_in(
                da["verification_uri_complete"].as_str().unwrap(),
                "bob",
                "",
                "deny",
            )
            .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.html);
        assert!(done.text("demo-result").starts_with("Sign-in declined"));
        let (status, body) = app.poll(da["device_code"].as_str().unwrap()).await;
        assert_eq!(
            (status, error_of(&body)),
            (StatusCode::BAD_REQUEST, "access_denied")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_ends_tokens() {
    within(60, async {
        let app = start(&[]).await;
        let (status, tokens) = app.password_grant("alice", "alice-demo").await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let (a1, r1) = (
            tokens["access_token"].as_str().unwrap(),
            tokens["refresh_token"].as_str().unwrap(),
        );
        assert_eq!(app.userinfo(a1).await.0, StatusCode::OK);

        let (status, _, _) = app
            .post(
                "/revoke",
                &[
                    ("token", a1),
                    ("token_type_hint", "access_token"),
                    ("client_id", CLIENT),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, headers, body) = app.userinfo(a1).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let challenge = headers.get(WWW_AUTHENTICATE).unwrap().to_str().unwrap();
        assert!(
            challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""),
            "{challenge}"
        );
        assert_eq!(error_of(&body), "invalid_token");

        // The grant lives on through its refresh token...
        let (status, refreshed) = app.refresh(r1).await;
        assert_eq!(status, StatusCode::OK, "{refreshed}");
        let (a2, r2) = (
            refreshed["access_token"].as_str().unwrap(),
            refreshed["refresh_token"].as_str().unwrap(),
        );
        assert_eq!(app.userinfo(a2).await.0, StatusCode::OK);
        // ...until that is revoked: then its access tokens die with it.
        let (status, _, _) = app
            .post("/revoke", &[("token", r2), ("client_id", CLIENT)])
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(app.userinfo(a2).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(error_of(&app.refresh(r2).await.1), "invalid_grant");

        let (status, _, _) = app
            .post(
                "/revoke",
                &[("token", "never-issued"), ("client_id", CLIENT)],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "unknown tokens are fine");
        let (status, _, body) = app.post("/revoke", &[("token", "x")]).await;
        assert_eq!(
            (status, error_of(&body)),
            (StatusCode::UNAUTHORIZED, "invalid_client")
        );
        let response = app
            .http
            .get(format!("{}/userinfo", app.issuer))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let response = app
            .http
            .get(format!("{}/userinfo", app.issuer))
            .header(AUTHORIZATION, "Bearer nope")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

        // The app's own client revokes both at sign-out.
        let (_, tokens) = app.password_grant("bob", "bob-demo").await;
        let set = TokenSet {
            access_token: AccessToken::new(tokens["access_token"].as_str().unwrap()),
            refresh_token: Some(RefreshToken::new(tokens["refresh_token"].as_str().unwrap())),
            id_token: None,
            expires_in: None,
            scope: None,
        };
        assert!(app.state.provider.revoke(&set).await.unwrap());
        assert_eq!(
            app.userinfo(set.access_token.expose()).await.0,
            StatusCode::UNAUTHORIZED
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_and_refresh_grants() {
    within(60, async {
        let app = start(&[("DEMO_USERS", "carol:carol-pw")]).await;
        let (status, tokens) = app.password_grant("alice", "alice-demo").await;
        assert_eq!(status, StatusCode::OK);
        assert!(tokens["id_token"].as_str().is_some());
        for (user, password) in [("alice", "wrong"), ("alice", "bob-demo"), ("mallory", "x")] {
            let (status, body) = app.password_grant(user, password).await;
            assert_eq!(
                (status, error_of(&body)),
                (StatusCode::BAD_REQUEST, "invalid_grant"),
                "{user}"
            );
        }
        let (status, carol) = app.password_grant("carol", "carol-pw").await;
        assert_eq!(status, StatusCode::OK);
        let (_, _, claims) = app.userinfo(carol["access_token"].as_str().unwrap()).await;
        assert_eq!(
            (claims["sub"].as_str(), claims["name"].as_str()),
            (Some("demo-carol"), Some("carol"))
        );

        // Refresh rotates the refresh token; the old one is spent.
        let r1 = tokens["refresh_token"].as_str().unwrap();
        let (status, refreshed) = app.refresh(r1).await;
        assert_eq!(status, StatusCode::OK);
        assert_ne!(refreshed["refresh_token"], tokens["refresh_token"]);
        assert!(refreshed["id_token"].as_str().is_some());
        assert_eq!(error_of(&app.refresh(r1).await.1), "invalid_grant");
        let (status, _, body) = app
            .post(
                "/token",
                &[
                    ("grant_type", "refresh_token"),
                    (
                        "refresh_token",
                        refreshed["refresh_token"].as_str().unwrap(),
                    ),
                    ("client_id", CLIENT),
                    ("scope", "openid offline_access"),
                ],
            )
            .await;
        assert_eq!(
            (status, error_of(&body)),
            (StatusCode::BAD_REQUEST, "invalid_scope")
        );

        let (status, _, body) = app
            .post(
                "/token",
                &[("grant_type", "authorization_code"), ("client_id", CLIENT)],
            )
            .await;
        assert_eq!(
            (status, error_of(&body)),
            (StatusCode::BAD_REQUEST, "unsupported_grant_type")
        );
        let (status, _, body) = app
            .post(
                "/token",
                &[
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("password", "alice-demo"),
                    ("client_id", "other"),
                ],
            )
            .await;
        assert_eq!(
            (status, error_of(&body)),
            (StatusCode::UNAUTHORIZED, "invalid_client")
        );
        let (status, _, body) = app.post("/token", &[("client_id", CLIENT)]).await;
        assert_eq!(
            (status, error_of(&body)),
            (StatusCode::BAD_REQUEST, "invalid_request")
        );

        // The app's own client: password grant, refresh, sign-in.
        let provider = &app.state.provider;
        let set = provider
            .password_grant("bob", &Password::new("bob-demo"))
            .await
            .unwrap();
        let refreshed = provider
            .refresh(set.refresh_token.as_ref().unwrap())
            .await
            .unwrap();
        let user = provider.complete_sign_in(&refreshed).await.unwrap();
        assert_eq!(
            (user.sub.as_str(), user.display_name.as_str()),
            ("demo-bob", "Bob Demo")
        );
        let err = provider
            .password_grant("bob", &Password::new("nope"))
            .await
            .unwrap_err();
        assert_eq!(err.oauth().unwrap().code.as_str(), "invalid_grant");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_check_csrf_and_escape_what_they_show() {
    within(60, async {
        let app = start(&[]).await;
        let da = app.device_authorization().await;
        let user_code = da["user_code"].as_str().unwrap();
        let device_page = format!("{}/demo-idp/device", app.base);

        let mut phone = app.phone();
        let page = phone
            .open(&format!(
                "{device_page}?user_code={}",
                user_code.replace('-', "").to_lowercase()
            ))
            .await;
        assert_eq!(
            page.input("user_code"),
            user_code,
            "pre-filled and normalized"
        );
        let hostile = phone
            .open(&format!(
                "{device_page}?user_code=%3Cscript%3Ealert(1)%3C/script%3E"
            ))
            .await;
        assert!(!hostile.html.contains("<script") && hostile.html.contains("&lt;script&gt;"));
        assert!(phone
            .open(&format!("{}/demo-idp", app.base))
            .await
            .status
            .is_redirection());

        // Another browser's CSRF token is no good here.
        let mut other = app.phone();
        let other_page = other.open(&device_page).await;
        let stolen = phone
            .submit(&[
                ("csrf", &other_page.input("csrf")),
                ("step", "code"),
                ("user_code", user_code),
            ])
            .await;
        assert_eq!(stolen.status, StatusCode::FORBIDDEN);
        let missing = phone
            .submit(&[("step", "code"), ("user_code", user_code)])
            .await;
        assert_eq!(missing.status, StatusCode::FORBIDDEN);
        // No cookie at all: refused, with a cookie to try again with.
        let mut cookieless = app.phone();
        let answer = cookieless
            .submit(&[
                ("csrf", &page.input("csrf")),
                ("step", "code"),
                ("user_code", user_code),
            ])
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert!(answer.headers.contains_key(SET_COOKIE));

        // A ticket is bound to its browser and code.
        let consent = phone.enter_code(&page, user_code).await;
        assert_eq!(consent.status, StatusCode::OK);
        let forged = [
            ("csrf", consent.input("csrf")),
            ("step", "consent".into()),
            ("user_code", "BCDF-GHJK".into()),
            ("ticket", consent.input("ticket")),
            ("username", "alice".into()),
            ("password", "alice-demo".into()),
            ("decision", "allow".into()),
        ];
        let forged: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(phone.submit(&forged).await.status, StatusCode::FORBIDDEN);
        let (status, body) = app.poll(da["device_code"].as_str().unwrap()).await;
        assert_eq!(
            (status, error_of(&body)),
            (StatusCode::BAD_REQUEST, "authorization_pending")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apps_own_client_signs_in_end_to_end() {
    within(60, async {
        let app = start(&[]).await;
        let provider = app.state.provider.clone();
        let started = Instant::now();
        let da = provider.start_device_authorization().await.unwrap();
        assert_eq!(da.interval, Duration::from_secs(1));
        let link = da.verification_uri_complete.clone().unwrap();
        let polling = poll_until_done(&provider, &da, &TokioTimer);
        let phone = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            app.phone()
                .sign_in(&link, "alice", "alice-demo", "allow")
                .await
        };
        let ((outcome, _), done) = tokio::join!(polling, phone);
        assert_eq!(
            done.text("demo-result"),
            "You're signed in on the TV. You can close this page."
        );
        let PollOutcome::Approved(tokens) = outcome else {
            panic!("polling ended with {outcome:?}")
        };
        let user = provider.complete_sign_in(&tokens).await.unwrap();
        assert_eq!(
            (user.sub.as_str(), user.display_name.as_str()),
            ("demo-alice", "Alice Demo")
        );
        assert!(user
            .claims
            .contains(&("ext.team".to_owned(), "Platform".to_owned())));
        assert!(user
            .claims
            .contains(&("email".to_owned(), "alice@example.com".to_owned())));
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "took {:?}",
            started.elapsed()
        );
    })
    .await;
}

/// One machine on the network gets 20 requests a minute at the endpoints that add to the
/// provider's stores or check a password, so it can neither fill the grant store (after which
/// every TV would get `slow_down`), nor use up the codes, nor guess passwords at speed. The
/// server's own client, straight from this machine, is not limited (its TVs are, by
/// PAIRING_RATE_LIMIT). Other machines are told apart by the address a trusted proxy names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_on_the_network_is_rate_limited() {
    within(60, async {
        let app = start(&[("TRUST_PROXY", "true")]).await;
        let authorize = [("client_id", CLIENT), ("scope", "openid")];
        let lan = Some("192.0.2.7");
        for n in 1..=20 {
            let (status, _, body) = app
                .post_from(lan, "/device_authorization", &authorize)
                .await;
            assert_eq!(status, StatusCode::OK, "request {n}: {body}");
        }
        let (status, headers, body) = app
            .post_from(lan, "/device_authorization", &authorize)
            .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        let retry: u64 = headers
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=3).contains(&retry), "Retry-After {retry}");
        assert!(error_of(&body) == "temporarily_unavailable", "{body}");
        // The allowance is per address, shared by the endpoints.
        let password = |p: &'static str| {
            [
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", p),
                ("client_id", CLIENT),
            ]
        };
        let (status, _, _) = app.post_from(lan, "/token", &password("alice-demo")).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

        // Guessing a password: 20 tries a minute, then 429 even for the right one.
        let guesser = Some("192.0.2.8");
        for n in 1..=20 {
            let (status, _, body) = app.post_from(guesser, "/token", &password("guess")).await;
            assert_eq!(
                (status, error_of(&body)),
                (StatusCode::BAD_REQUEST, "invalid_grant"),
                "try {n}"
            );
        }
        let (status, _, _) = app
            .post_from(guesser, "/token", &password("alice-demo"))
            .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

        // The phone page's forms count too.
        let mut phone = app.phone_at("192.0.2.9");
        let page = phone.open(&format!("{}/demo-idp/device", app.base)).await;
        for _ in 0..20 {
            phone.enter_code(&page, "BBBB-BBBB").await;
        }
        let refused = phone.enter_code(&page, "BBBB-BBBB").await;
        assert_eq!(
            refused.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            refused.html
        );
        assert!(
            refused.text("demo-error").contains("Too many tries"),
            "{}",
            refused.html
        );
        assert!(refused.headers.get("retry-after").is_some());

        // Polls are not limited: they only ask about a code already counted.
        let (status, _, da) = app
            .post_from(None, "/device_authorization", &authorize)
            .await;
        assert_eq!(status, StatusCode::OK);
        let poll = [
            ("grant_type", DEVICE_GRANT),
            ("device_code", da["device_code"].as_str().unwrap()),
            ("client_id", CLIENT),
        ];
        let (status, _, body) = app.post_from(lan, "/token", &poll).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

        // Straight from this machine (the server's own client): no limit, and a TV still pairs.
        for n in 1..=30 {
            let (status, _, body) = app
                .post_from(None, "/device_authorization", &authorize)
                .await;
            assert_eq!(status, StatusCode::OK, "request {n}: {body}");
        }
        let auth = app
            .state
            .provider
            .start_device_authorization()
            .await
            .unwrap();
        assert!(!auth.user_code.is_empty());
    })
    .await;
}

/// DEMO_USERS' passwords are the operator's: the phone page lists the built-in demo
/// passwords, never those (nor a built-in user's password that DEMO_USERS changed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_users_passwords_are_never_shown() {
    within(60, async {
        let app = start(&[("DEMO_USERS", "carol:carol-secret-9,bob:bob-changed-7")]).await;
        let da = app.device_authorization().await;
        let mut phone = app.phone();
        let page = phone
            .open(da["verification_uri_complete"].as_str().unwrap())
            .await;
        let consent = phone.enter_code(&page, &page.input("user_code")).await;
        assert_eq!(consent.status, StatusCode::OK, "{}", consent.html);
        assert!(
            consent.html.contains("alice-demo"),
            "the built-in password is listed"
        );
        assert!(
            consent.html.contains("<option value=\"carol\">"),
            "carol can be picked"
        );
        for secret in ["carol-secret-9", "bob-changed-7", "bob-demo"] {
            assert!(
                !consent.html.contains(secret),
                "{secret} shown:\n{}",
                consent.html
            );
        }
        let wrong = phone.decide(&consent, "carol", "nope", "allow").await;
        assert_eq!(wrong.text("demo-error"), "Wrong password.");
        assert!(!wrong.html.contains("carol-secret-9"));
        let done = phone
            .decide(&wrong, "carol", "carol-secret-9", "allow")
            .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.html);
    })
    .await;
}
